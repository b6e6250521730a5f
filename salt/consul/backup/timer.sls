{#- Backups on the servers (control nodes): a snapshot of the datacenter's Consul state
    (consul snapshot save, checked with consul snapshot inspect) into consul:backup:directory
    on a systemd timer, keep_days days of them kept. The service also runs before a new
    Consul binary takes effect (service/running.sls). Other hosts get no state from here. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import consul with context %}
{%- from "platform/files.jinja" import secret_file with context %}
{%- set plan = salt['quorum.plan']() %}
{%- set backup = consul.backup %}

{%- if plan.is_control and backup.enabled %}

consul-backup-timer-file-directory:
  file.directory:
    - name: {{ backup.directory }}
    - user: root
    - group: root
    - mode: '0700'
    - makedirs: True

consul-backup-timer-file-managed-script:
  file.managed:
    - name: {{ backup.script }}
    - source: salt://{{ tplroot }}/files/consul-snapshot.sh
    - user: root
    - group: root
    - mode: '0755'
    - makedirs: True

{%-   for kind in ('service', 'timer') %}

consul-backup-timer-file-managed-{{ kind }}:
  file.managed:
    - name: /etc/systemd/system/{{ backup.unit }}.{{ kind }}
    - source: salt://{{ tplroot }}/files/consul-snapshot.{{ kind }}.jinja
    - template: jinja
    - context:
        config:
          binary: {{ consul.install[consul.install.method].bin }}
          http_addr: {{ backup.http_addr }}
          token_file: {{ backup.token_file if plan.security.tls else '' }}
          directory: {{ backup.directory }}
          keep_days: {{ backup.keep_days }}
          script: {{ backup.script }}
          on_calendar: {{ backup.on_calendar | json }}
          randomized_delay_sec: {{ backup.randomized_delay_sec }}
    - user: root
    - group: root
    - mode: '0644'
{%-   endfor %}

{#- A snapshot takes the management token (Consul's rule): root's only, on servers only. #}
{{ secret_file('consul-backup-timer-secret-file-token',
               backup.token_file,
               'secrets:consul:acl:management:secret_id' if plan.security.tls else None) }}

consul-backup-timer-module-run-daemon-reload:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: consul-backup-timer-file-managed-service
      - file: consul-backup-timer-file-managed-timer

consul-backup-timer-service-running:
  service.running:
    - name: {{ backup.unit }}.timer
    - enable: True
    - require:
      - file: consul-backup-timer-file-directory
      - file: consul-backup-timer-file-managed-script
      - module: consul-backup-timer-module-run-daemon-reload
{%-   if plan.security.tls %}
      - file: consul-backup-timer-secret-file-token-file-managed
{%-   endif %}
    - watch:
      - file: consul-backup-timer-file-managed-timer
{%- endif %}
