{#- Removes the agent's configuration once the service is stopped. The data directory (raft
    state, node id) goes only with consul:clean:remove_data: true. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import consul with context %}

include:
  - {{ tplroot }}.service.clean

consul-config-clean-file-absent-config-dir:
  file.absent:
    - name: {{ consul.config_dir }}
    - require:
      - sls: {{ tplroot }}.service.clean

{%- if consul.clean.remove_data %}

consul-config-clean-file-absent-data-dir:
  file.absent:
    - name: {{ consul.data_dir }}
    - require:
      - sls: {{ tplroot }}.service.clean
{%- endif %}
