{#- dnsmasq runs on every host and is restarted when its configuration changes: it is a
    per-host cache with no quorum, and a restart takes well under a second. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_config_file = tplroot ~ '.config.file' %}
{%- set sls_package_install = tplroot ~ '.package.install' %}
{%- from tplroot ~ "/map.jinja" import dns with context %}

include:
  - {{ sls_config_file }}
  - {{ sls_package_install }}

dns-service-running-service-running:
  service.running:
    - name: {{ dns.service }}
    - enable: True
    - require:
      - sls: {{ sls_package_install }}
    - watch:
      - sls: {{ sls_config_file }}
