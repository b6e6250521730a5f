{#- Stops and disables the agent and removes its unit. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import consul with context %}

consul-service-clean-service-dead:
  service.dead:
    - name: {{ consul.service.name }}
    - enable: False

consul-service-clean-file-absent-unit:
  file.absent:
    - name: {{ consul.service.unit }}
    - require:
      - service: consul-service-clean-service-dead

consul-service-clean-module-run-daemon-reload:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: consul-service-clean-file-absent-unit
