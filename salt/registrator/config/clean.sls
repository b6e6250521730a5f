{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import registrator with context %}

include:
  - {{ tplroot }}.service.clean

registrator-config-clean-file-absent:
  file.absent:
    - name: {{ registrator.config_file }}
    - require:
      - sls: {{ tplroot }}.service.clean

registrator-config-clean-file-absent-token:
  file.absent:
    - name: {{ registrator.token_file }}
    - require:
      - sls: {{ tplroot }}.service.clean
