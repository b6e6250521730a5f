{#- Removes haproxy.cfg once the service is stopped. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import haproxy with context %}

include:
  - {{ tplroot }}.service.clean

haproxy-config-clean-file-absent:
  file.absent:
    - name: {{ haproxy.config_file }}
    - require:
      - sls: {{ tplroot }}.service.clean
