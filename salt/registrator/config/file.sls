{#- The agent's settings, /etc/registrator/config.json, serialised from registrator:config
    with the minion id as the host name in service ids (unless pillar sets one). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import registrator with context %}
{%- set config = salt['slsutil.merge'](
      {'hostname': grains['id']}, registrator.config, strategy='recurse') %}

registrator-config-file-file-serialize:
  file.serialize:
    - name: {{ registrator.config_file }}
    - dataset: {{ config | json }}
    - serializer: json
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
