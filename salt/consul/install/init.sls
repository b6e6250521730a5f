{#- The consul system account, then the binary by the method in pillar consul:install:method:
    archive (HashiCorp's zip, hash-checked), package (OS or vendor repository) or none
    (the binary at consul:install:none:bin is provided by other means). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import consul with context %}

{%- if consul.install.method != 'none' %}

include:
  - {{ tplroot }}.install.{{ consul.install.method }}
{%- endif %}

consul-install-group-present:
  group.present:
    - name: {{ consul.group }}
    - system: True

consul-install-user-present:
  user.present:
    - name: {{ consul.user }}
    - gid: {{ consul.group }}
    - system: True
    - home: {{ consul.data_dir }}
    - createhome: False
    - shell: {{ consul.shell }}
    - require:
      - group: consul-install-group-present
