{#- Undoes backup/timer.sls: the timer, its service and script. The snapshots stay unless
    consul:clean:remove_data is true. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import consul with context %}
{%- set backup = consul.backup %}

consul-backup-clean-service-dead:
  service.dead:
    - name: {{ backup.unit }}.timer
    - enable: False

{%- for path in [
      '/etc/systemd/system/' ~ backup.unit ~ '.timer',
      '/etc/systemd/system/' ~ backup.unit ~ '.service',
      backup.script,
      backup.token_file,
    ] + ([backup.directory] if consul.clean.remove_data else []) %}

consul-backup-clean-file-absent-{{ path }}:
  file.absent:
    - name: {{ path }}
    - require:
      - service: consul-backup-clean-service-dead
{%- endfor %}
