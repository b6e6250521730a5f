{#- Stops and disables the minion; method pip's unit goes with it (method package's goes
    with the package). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import salt_minion with context %}

salt-minion-service-clean-service-dead:
  service.dead:
    - name: {{ salt_minion.service.name }}
    - enable: False
{%- if salt_minion.install.method == 'pip' %}

salt-minion-service-clean-file-absent-unit:
  file.absent:
    - name: {{ salt_minion.service.unit }}
    - require:
      - service: salt-minion-service-clean-service-dead

salt-minion-service-clean-module-run-daemon-reload:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: salt-minion-service-clean-file-absent-unit
{%- endif %}
