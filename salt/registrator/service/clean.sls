{#- Stops and disables the agent and removes its unit. The services it registered stay in
    Consul until their containers stop; deregister them with the agent's API if needed. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import registrator with context %}

registrator-service-clean-service-dead:
  service.dead:
    - name: {{ registrator.service.name }}
    - enable: False

registrator-service-clean-file-absent-unit:
  file.absent:
    - name: {{ registrator.service.unit }}
    - require:
      - service: registrator-service-clean-service-dead

registrator-service-clean-module-run-daemon-reload:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: registrator-service-clean-file-absent-unit
