{#- Removes the flag file once the service is stopped. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import marathon with context %}

include:
  - {{ tplroot }}.service.clean

marathon-clean-file-absent-environment:
  file.absent:
    - name: {{ marathon.environment_file }}
    - require:
      - sls: {{ tplroot }}.service.clean
