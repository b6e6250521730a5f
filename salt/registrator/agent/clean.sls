{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import registrator with context %}

include:
  - {{ tplroot }}.service.clean

registrator-agent-clean-file-absent:
  file.absent:
    - name: {{ registrator.directory }}/lib
    - require:
      - sls: {{ tplroot }}.service.clean
