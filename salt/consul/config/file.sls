{#- The agent's configuration: /etc/consul.d/consul.json, serialised from one dict made of
    consul:config (defaults and pillar) and the values computed from the plan, which pillar
    cannot override. The gossip key goes into its own file, encrypt.json, so that it never
    shows in consul.json, in diffs or in the rendered highstate.

    A change is checked with `consul validate` before it is written (a key the installed
    version rejects fails this state, not the agent) and is applied by a reload, never a
    restart: see README.md for the settings that only take effect at the next restart. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import consul with context %}
{%- if 'encrypt' in consul.config %}
{{-   raise("pillar consul:config:encrypt would write the gossip key into consul.json: "
            ~ "put it in secrets:consul:gossip_key (scripts/secrets init pillar) instead") }}
{%- endif %}
{#- One call for every membership value: under salt-ssh each call is a round trip. #}
{%- set plan = salt['quorum.plan']() %}
{%- set computed = {
      'datacenter': plan.datacenter,
      'data_dir': consul.data_dir,
      'node_name': plan.host.id,
      'server': plan.is_control,
      'retry_join': plan.lan_peers,
    } %}
{#- Consul refuses to pick an address itself when the host has several private ones (a compute
    node's docker0): the plan's host address is the one every formula uses. #}
{%- do computed.update({'advertise_addr': plan.host.address}) %}
{%- if plan.is_control %}
{%-   do computed.update({
        'bootstrap_expect': plan.bootstrap_expect,
        'advertise_addr_wan': plan.host.wan_address,
        'leave_on_terminate': False,
      }) %}
{%- endif %}
{#- ui_config replaced ui in Consul 1.9, and 1.8 rejects it. The version is compared here, where
    the template renders: the plan check has made sure it is a version. #}
{%- set release = consul.version.split('+')[0].split('-')[0].split('.') | map('int') | list %}
{%- if release[:2] < [1, 9] %}
{%-   do computed.update({'ui': consul.ui}) %}
{%- else %}
{%-   do computed.update({'ui_config': {'enabled': consul.ui}}) %}
{%- endif %}
{%- set settings = salt['slsutil.merge'](consul.config, consul.server_config, strategy='recurse')
      if plan.is_control else consul.config %}
{%- set config = salt['slsutil.merge'](settings, computed, strategy='recurse') %}
{%- set config_file = consul.config_dir ~ '/consul.json' %}
{%- set encrypt_file = consul.config_dir ~ '/encrypt.json' %}

include:
  - {{ sls_install }}

consul-config-file-file-directory-config-dir:
  file.directory:
    - name: {{ consul.config_dir }}
    - user: root
    - group: {{ consul.group }}
    - mode: '0750'
    - require:
      - sls: {{ sls_install }}

consul-config-file-file-directory-data-dir:
  file.directory:
    - name: {{ consul.data_dir }}
    - user: {{ consul.user }}
    - group: {{ consul.group }}
    - mode: '0750'
    - require:
      - sls: {{ sls_install }}

consul-config-file-file-serialize:
  file.serialize:
    - name: {{ config_file }}
    - dataset: {{ config | json }}
    - serializer: json
    - user: root
    - group: {{ consul.group }}
    - mode: '0640'
    - check_cmd: {{ consul.install[consul.install.method].bin }} validate -quiet
    - tmp_ext: .json
    - require:
      - file: consul-config-file-file-directory-config-dir
      - file: consul-config-file-file-directory-data-dir

{%- if plan.security.gossip_key_pillar %}

{#- The template reads the key from pillar on the host, so the rendered highstate carries only
    the pillar key's name: secrets:consul:gossip_key (scripts/secrets init), or the older
    consul:encrypt. #}
consul-config-file-file-managed-encrypt:
  file.managed:
    - name: {{ encrypt_file }}
    - source: salt://{{ tplroot }}/files/encrypt.json.jinja
    - template: jinja
    - context:
        config:
          pillar_key: {{ plan.security.gossip_key_pillar }}
    - user: root
    - group: {{ consul.group }}
    - mode: '0640'
    - show_changes: False
    - require:
      - file: consul-config-file-file-directory-config-dir
{%- else %}

{#- Only with pillar security:open: true; the plan refuses a site without its secrets. #}
consul-config-file-file-absent-encrypt:
  file.absent:
    - name: {{ encrypt_file }}

consul-config-file-test-show-notification-open:
  test.show_notification:
    - text: >-
        pillar security:open is true: Consul's gossip on {{ plan.host.id }} is not encrypted
        (scripts/secrets init makes the site's secrets; then remove security:open)
{%- endif %}

{%- for stray_file in consul.stray_config_files %}

consul-config-file-file-absent-{{ stray_file }}:
  file.absent:
    - name: {{ consul.config_dir }}/{{ stray_file }}
    - require:
      - sls: {{ sls_install }}
{%- endfor %}
