{#- The agent's configuration: /etc/consul.d/consul.json, serialised from one dict made of
    consul:config (defaults and pillar) and the values computed from the plan, which pillar
    cannot override. The gossip key goes into its own file, encrypt.json, so that it never
    shows in consul.json, in diffs or in the rendered highstate.

    The site's security stage (plan.security, docs/security.md) switches on TLS (the CA
    certificate, and the agent's certificate and key, signed by consul_pki where templates
    render or by the salt-master, so that the CA key never reaches a host) and ACLs (their
    tokens in acl-tokens.json, read from pillar on the host). Keys that changed names are
    written for the Consul version in use: 1.8 (the lab's) and 1.12 and later (tls stanza).

    A change is checked with `consul validate` before it is written (a key the installed
    version rejects fails this state, not the agent); service/running.sls restarts the agent
    so that it takes effect, servers one at a time. Whom the agent joins is join.sls's, which
    restarts nothing. #}
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
    } %}
{#- Consul refuses to pick an address itself when the host has several private ones (a compute
    node's docker0): the plan's host address is the one every formula uses. #}
{%- do computed.update({'advertise_addr': plan.host.address}) %}
{%- if plan.is_control %}
{%-   do computed.update({
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
{%- set security = plan.security %}
{%- set tls_dir = consul.tls.directory %}
{%- set tls_files = {'ca': tls_dir ~ '/ca.pem', 'cert': tls_dir ~ '/agent.pem',
                     'key': tls_dir ~ '/agent-key.pem'} %}
{%- if security.tls %}
{%-   if release[:2] < [1, 12] %}
{%-     do computed.update({
          'ca_file': tls_files.ca, 'cert_file': tls_files.cert, 'key_file': tls_files.key,
          'verify_outgoing': security.verify_outgoing,
          'verify_server_hostname': security.verify_outgoing,
          'verify_incoming_rpc': security.verify_incoming,
          'verify_incoming_https': False,
        }) %}
{%-   else %}
{%-     do computed.update({'tls': {
          'defaults': {'ca_file': tls_files.ca, 'cert_file': tls_files.cert,
                       'key_file': tls_files.key, 'verify_outgoing': security.verify_outgoing},
          'internal_rpc': {'verify_incoming': security.verify_incoming,
                           'verify_server_hostname': security.verify_outgoing},
          'https': {'verify_incoming': False},
        }}) %}
{%-   endif %}
{#-   The HTTPS API answers other hosts; plain HTTP stays on client_addr (loopback). Script
      checks run only from the agent's own configuration files (the certificate expiry check
      of consul.certificate), never from the API. #}
{%-   do computed.update({
        'enable_local_script_checks': True,
        'ports': {'https': consul.tls.https_port},
        'addresses': {'https': '127.0.0.1 ' ~ plan.host.address},
        'primary_datacenter': plan.primary_datacenter,
      }) %}
{#-   ACLs come on with the servers first (accept) and on clients with their tokens (verify):
      a client with ACLs asks the servers about every request, and until the leader runs with
      them (the last server to restart) none can answer. #}
{%-   if plan.is_control or security.tokens_in_use %}
{%-     do computed.update({'acl': {
          'enabled': True,
          'default_policy': security.acl_default_policy,
          'down_policy': consul.acl.down_policy,
          'enable_token_persistence': False,
          'enable_token_replication':
            plan.is_control and plan.datacenter != plan.primary_datacenter,
        }}) %}
{%-   endif %}
{#-   The agent's own tokens, by Consul's name for each and the pillar key that holds it. #}
{%-   set tokens = {} %}
{%-   if plan.is_control and plan.datacenter == plan.primary_datacenter %}
{%-     do tokens.update({'master' if release[:2] < [1, 11] else 'initial_management':
                           'secrets:consul:acl:management:secret_id'}) %}
{%-   endif %}
{%-   if security.tokens_in_use %}
{%-     if plan.is_control and plan.datacenter != plan.primary_datacenter %}
{%-       do tokens.update({'replication': 'secrets:consul:acl:tokens:replication:secret_id'}) %}
{%-     endif %}
{%-   endif %}
{%- endif %}
{%- if plan.is_control %}
{#-   A server answers DNS on its LAN address too: every host's dnsmasq asks the servers of its
      datacenter when its own agent does not answer (a restart). #}
{%-   do computed.update({'addresses': dict(computed.get('addresses', {}),
                                            dns='127.0.0.1 ' ~ plan.host.address)}) %}
{%- endif %}
{%- set settings = salt['slsutil.merge'](consul.config, consul.server_config, strategy='recurse')
      if plan.is_control else consul.config %}
{%- set config = salt['slsutil.merge'](settings, computed, strategy='recurse') %}
{%- set config_file = consul.config_dir ~ '/consul.json' %}
{%- set encrypt_file = consul.config_dir ~ '/encrypt.json' %}
{%- set tokens_file = consul.config_dir ~ '/' ~ consul.acl.tokens_file %}

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
{%- if security.tls %}
      - file: consul-config-file-file-managed-tls-key

{#- Issued by the salt-master into pillar (its external pillar consul_pki), else signed on
    this side (salt-ssh); the key reaches the host as the pillar does, and is never shown. #}
{%-   set certificate = salt['consul_pki.agent_certificate'](plan, domain=consul.tls.domain) %}

consul-config-file-file-directory-tls:
  file.directory:
    - name: {{ tls_dir }}
    - user: root
    - group: {{ consul.group }}
    - mode: '0750'
    - require:
      - file: consul-config-file-file-directory-config-dir

consul-config-file-file-managed-tls-ca:
  file.managed:
    - name: {{ tls_files.ca }}
    - contents: {{ certificate.ca | json }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - file: consul-config-file-file-directory-tls

consul-config-file-file-managed-tls-cert:
  file.managed:
    - name: {{ tls_files.cert }}
    - contents: {{ certificate.cert | json }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - file: consul-config-file-file-directory-tls

consul-config-file-file-managed-tls-key:
  file.managed:
    - name: {{ tls_files.key }}
    - contents: {{ certificate.key | json }}
    - user: root
    - group: {{ consul.group }}
    - mode: '0640'
    - show_changes: False
    - require:
      - file: consul-config-file-file-managed-tls-ca
      - file: consul-config-file-file-managed-tls-cert

{#- The template reads each token from pillar on the host, and derives the agent's own from the
    seed there: the rendered highstate carries the pillar keys' names only. #}
consul-config-file-file-managed-acl-tokens:
  file.managed:
    - name: {{ tokens_file }}
    - source: salt://{{ tplroot }}/files/acl-tokens.json.jinja
    - template: jinja
    - context:
        config:
          tokens: {{ tokens | json }}
          agent_node: {{ (plan.host.id if security.tokens_in_use else '') | json }}
    - user: root
    - group: {{ consul.group }}
    - mode: '0640'
    - show_changes: False
    - require:
      - file: consul-config-file-file-directory-config-dir
    - require_in:
      - file: consul-config-file-file-serialize
{%- endif %}

{%- if not security.tls %}

consul-config-file-file-absent-tls:
  file.absent:
    - name: {{ tls_dir }}

consul-config-file-file-absent-acl-tokens:
  file.absent:
    - name: {{ tokens_file }}
{%- endif %}

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
