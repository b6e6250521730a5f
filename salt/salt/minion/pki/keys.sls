{#- The minion's key pair and the master's public key in the minion's pki_dir. The pair is
    made and accepted on the master's side where this renders (minion_keys.preseed: under
    salt-ssh on the operator's machine, into salt_minion:master_pki_dir), so the master
    accepts the minion at its first connection with auto_accept off, and the minion accepts
    no other master. The accepted pair is the host's key: a key the host made itself (or had
    from another master) is replaced. In test mode no key is made or accepted.

    The private key travels in the rendered state data, as pillar does; no state output or
    diff shows it (show_changes: False), but state.show_sls does. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import salt_minion with context %}
{%- set keys = salt['minion_keys.preseed'](
      grains.id, salt_minion.master_pki_dir, test=opts.get('test', False)) %}

salt-minion-pki-keys-file-directory:
  file.directory:
    - name: {{ salt_minion.pki_dir }}
    - user: root
    - group: root
    - mode: '0700'
    - makedirs: True

salt-minion-pki-keys-file-managed-pem:
  file.managed:
    - name: {{ salt_minion.pki_dir }}/minion.pem
    - contents: {{ keys.pem | json }}
    - user: root
    - group: root
    - mode: '0400'
    - show_changes: False
    - require:
      - file: salt-minion-pki-keys-file-directory

salt-minion-pki-keys-file-managed-pub:
  file.managed:
    - name: {{ salt_minion.pki_dir }}/minion.pub
    - contents: {{ keys.pub | json }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - file: salt-minion-pki-keys-file-managed-pem

salt-minion-pki-keys-file-managed-master-pub:
  file.managed:
    - name: {{ salt_minion.pki_dir }}/minion_master.pub
    - contents: {{ keys.master_pub | json }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - file: salt-minion-pki-keys-file-directory
