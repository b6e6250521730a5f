{#- The agent's settings, /etc/registrator/config.json, serialised from registrator:config
    with the minion id as the host name in service ids (unless pillar sets one), and, where
    the site's tokens are in use, its ACL token in a file of its own (root's only), read from
    pillar on the host. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import registrator with context %}
{%- from "platform/files.jinja" import secret_file with context %}
{%- set tokens_in_use = salt['quorum.plan']().security.tokens_in_use %}
{%- set config = salt['slsutil.merge'](
      {'hostname': grains['id'], 'token_file': registrator.token_file if tokens_in_use else ''},
      registrator.config, strategy='recurse') %}
{{ secret_file('registrator-config-file-secret-file-token', registrator.token_file,
               'secrets:consul:acl:tokens:registrator:secret_id' if tokens_in_use else None) }}

registrator-config-file-file-serialize:
  file.serialize:
    - name: {{ registrator.config_file }}
    - dataset: {{ config | json }}
    - serializer: json
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
    - require:
      - file: registrator-config-file-secret-file-token-file-{{ 'managed' if tokens_in_use else 'absent' }}
