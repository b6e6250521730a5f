{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import docker with context %}

include:
  - {{ tplroot }}.service.clean

docker-config-clean-file-absent:
  file.absent:
    - name: {{ docker.config_file }}
    - require:
      - sls: {{ tplroot }}.service.clean
