{#- The member's data saved on a systemd timer: zookeeper-backup.py copies the newest complete
    snapshot and the transaction logs ZooKeeper replays over it (ZooKeeper's documented
    data-directory backup; Debian's ZooKeeper 3.8 has no admin `snapshot` command, which came
    with 3.9) into one tar.gz in zookeeper:backup:directory, and keeps the newest
    zookeeper:backup:keep. It reads dataDir and dataLogDir from zoo.cfg, so it follows the
    configuration. Disabled, the timer, its service and script are removed (backup/clean.sls).
    The restore: docs/operations.md. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import zookeeper with context %}
{%- set backup = zookeeper.backup %}

{%- if backup.enabled %}

zookeeper-backup-timer-file-directory:
  file.directory:
    - name: {{ backup.directory }}
    - user: root
    - group: root
    - mode: '0700'
    - makedirs: True

zookeeper-backup-timer-file-managed-script:
  file.managed:
    - name: {{ backup.script }}
    - source: salt://{{ tplroot }}/files/zookeeper-backup.py
    - user: root
    - group: root
    - mode: '0755'
    - makedirs: True

{%-   for kind in ('service', 'timer') %}

zookeeper-backup-timer-file-managed-{{ kind }}:
  file.managed:
    - name: /etc/systemd/system/{{ backup.unit }}.{{ kind }}
    - source: salt://{{ tplroot }}/files/zookeeper-backup.{{ kind }}.jinja
    - template: jinja
    - context:
        config:
          script: {{ backup.script }}
          zoo_cfg: {{ zookeeper.config_dir }}/zoo.cfg
          directory: {{ backup.directory }}
          keep: {{ backup.keep }}
          zookeeper_service: {{ zookeeper.service.name }}
          on_calendar: {{ backup.on_calendar | json }}
          randomized_delay_sec: {{ backup.randomized_delay_sec }}
    - user: root
    - group: root
    - mode: '0644'
{%-   endfor %}

zookeeper-backup-timer-module-run-daemon-reload:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: zookeeper-backup-timer-file-managed-service
      - file: zookeeper-backup-timer-file-managed-timer

zookeeper-backup-timer-service-running:
  service.running:
    - name: {{ backup.unit }}.timer
    - enable: True
    - require:
      - file: zookeeper-backup-timer-file-directory
      - file: zookeeper-backup-timer-file-managed-script
      - module: zookeeper-backup-timer-module-run-daemon-reload
    - watch:
      - file: zookeeper-backup-timer-file-managed-timer
{%- else %}

include:
  - .clean
{%- endif %}
