{#- The agent's Python package (files/registrator) under registrator:directory/lib. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import registrator with context %}

registrator-agent-install-file-recurse:
  file.recurse:
    - name: {{ registrator.directory }}/lib/registrator
    - source: salt://{{ tplroot }}/files/registrator
    - user: root
    - group: root
    - dir_mode: '0755'
    - file_mode: '0644'
    - clean: True
    - exclude_pat: E@(__pycache__|\.pyc$)
