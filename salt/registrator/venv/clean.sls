{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import registrator with context %}

include:
  - {{ tplroot }}.service.clean

registrator-venv-clean-file-absent:
  file.absent:
    - names:
      - {{ registrator.directory }}/venv
      - {{ registrator.directory }}/wheels
    - require:
      - sls: {{ tplroot }}.service.clean
