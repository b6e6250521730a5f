{#- Stops and disables the engine, after what depends on it is gone. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import docker with context %}

include:
  - {{ tplroot }}.health.clean
  - {{ tplroot }}.resolver.clean

docker-service-clean-service-dead:
  service.dead:
    - names:
      - {{ docker.service.name }}
      - {{ docker.service.name }}.socket
    - enable: False
    - require:
      - sls: {{ tplroot }}.health.clean
      - sls: {{ tplroot }}.resolver.clean
