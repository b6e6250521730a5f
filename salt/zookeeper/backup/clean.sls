{#- Undoes backup/timer.sls: the timer, its service and script. The archives stay unless
    zookeeper:clean:remove_data is true. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import zookeeper with context %}
{%- set backup = zookeeper.backup %}

zookeeper-backup-clean-service-dead:
  service.dead:
    - name: {{ backup.unit }}.timer
    - enable: False

{%- for name, path in [
      ('timer', '/etc/systemd/system/' ~ backup.unit ~ '.timer'),
      ('service', '/etc/systemd/system/' ~ backup.unit ~ '.service'),
      ('script', backup.script),
    ] + ([('directory', backup.directory)] if zookeeper.clean.remove_data else []) %}

zookeeper-backup-clean-file-absent-{{ name }}:
  file.absent:
    - name: {{ path }}
    - require:
      - service: zookeeper-backup-clean-service-dead
{%- endfor %}

zookeeper-backup-clean-module-run-daemon-reload:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: zookeeper-backup-clean-file-absent-timer
      - file: zookeeper-backup-clean-file-absent-service
