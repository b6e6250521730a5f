{#- dnsmasq stops listening on the bridge (the dns formula's service restarts). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import docker with context %}

include:
  - dns.service.running

docker-resolver-clean-file-absent:
  file.absent:
    - name: {{ docker.resolver.config_file }}
    - watch_in:
      - service: dns-service-running-service-running
