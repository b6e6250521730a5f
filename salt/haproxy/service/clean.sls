{#- Stops and disables HAProxy once Consul no longer advertises the edge. The unit is the
    package's: install/clean.sls purges it. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import haproxy with context %}

include:
  - {{ tplroot }}.consul.clean

haproxy-service-clean-service-dead:
  service.dead:
    - name: {{ haproxy.service.name }}
    - enable: False
    - require:
      - sls: {{ tplroot }}.consul.clean
