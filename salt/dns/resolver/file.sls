{#- /etc/resolv.conf points at the local dnsmasq once it runs, and keeps the host's search
    domains and options (from the `dns` grain, which Salt reads from resolv.conf, so a second
    run writes the same file). Where resolv.conf is a bind mount (containers) Salt cannot
    rename over it and writes it in place. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_service_running = tplroot ~ '.service.running' %}
{%- from tplroot ~ "/map.jinja" import dns with context %}
{%- set host_resolver = salt['grains.get']('dns', {}) %}
{%- set search = dns.resolv_conf.search if dns.resolv_conf.search is not none
      else host_resolver.get('search', []) %}
{%- set options = dns.resolv_conf.options if dns.resolv_conf.options is not none
      else host_resolver.get('options', []) %}

include:
  - {{ sls_service_running }}

dns-resolver-file-file-managed:
  file.managed:
    - name: {{ dns.resolv_conf.path }}
    - source: salt://{{ tplroot }}/files/resolv.conf.jinja
    - template: jinja
    - context:
        config:
          nameservers: {{ [dns.listen_address] | json }}
          search: {{ search | json }}
          domain: {{ host_resolver.get('domain', '') | json }}
          options: {{ options | json }}
          upstream: {{ dns.resolv_conf.upstream }}
    - require:
      - service: dns-service-running-service-running
