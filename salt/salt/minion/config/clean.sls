{#- Removes the minion's configuration once its keys are gone. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import salt_minion with context %}

include:
  - {{ tplroot }}.minion.pki.clean

salt-minion-config-clean-file-absent:
  file.absent:
    - name: {{ salt_minion.config_file }}
    - require:
      - sls: {{ tplroot }}.minion.pki.clean
