{#- Gives the host its original resolv.conf back, before dnsmasq goes away. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import dns with context %}

dns-resolver-clean-file-managed:
  file.managed:
    - name: {{ dns.resolv_conf.path }}
    - source: {{ dns.resolv_conf.upstream }}
    - onlyif: test -s {{ dns.resolv_conf.upstream }}
