{#- Removes the minion's key directory (its key pair and the master's public key) once Salt
    is gone. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import salt_minion with context %}

include:
  - {{ tplroot }}.minion.install.clean

salt-minion-pki-clean-file-absent:
  file.absent:
    - name: {{ salt_minion.pki_dir }}
    - require:
      - sls: {{ tplroot }}.minion.install.clean
