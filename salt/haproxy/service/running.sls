{#- The package's haproxy service, running and enabled; a changed configuration RELOADS it
    (`systemctl reload haproxy`): Debian's unit runs HAProxy in master-worker mode, and the
    reload checks the configuration, then starts new workers on the same listening sockets
    while the old ones finish their connections, so none is dropped. HAProxy has no quorum to
    keep: no lock, no rolling restart.

    The state is green only when HAProxy answers on its monitor URI within
    haproxy:health:timeout seconds (rolling_restart.healthy with http_probe.ok). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_config_file = tplroot ~ '.config.file' %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import haproxy with context %}
{%- from tplroot ~ "/stats.jinja" import monitor_url with context %}

include:
  - {{ sls_install }}
  - {{ sls_config_file }}

haproxy-service-running-service-running:
  service.running:
    - name: {{ haproxy.service.name }}
    - enable: True
    - reload: True
    - require:
      - sls: {{ sls_install }}
    - watch:
      - sls: {{ sls_config_file }}

haproxy-service-running-rolling-restart-healthy:
  rolling_restart.healthy:
    - name: {{ haproxy.service.name }}
    - health: http_probe.ok
    - health_kwargs:
        url: {{ monitor_url }}
    - timeout: {{ haproxy.health.timeout }}
    - require:
      - service: haproxy-service-running-service-running
