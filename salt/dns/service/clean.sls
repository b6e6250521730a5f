{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import dns with context %}

include:
  - {{ tplroot }}.resolver.clean

dns-service-clean-service-dead:
  service.dead:
    - name: {{ dns.service }}
    - enable: False
    - require:
      - sls: {{ tplroot }}.resolver.clean
