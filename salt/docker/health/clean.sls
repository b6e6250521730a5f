{#- Stops the probe, removes its units and deregisters the check from the local agent. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import docker with context %}
{%- set health = docker.health %}

docker-health-clean-service-dead-timer:
  service.dead:
    - name: docker-consul-check.timer
    - enable: False

docker-health-clean-cmd-run-deregister:
  cmd.run:
    - name: >-
        /usr/bin/python3 {{ health.script }} --consul-url {{ health.consul_url | quote }}
        --check-id {{ health.check_id | quote }} --deregister
        $(test -f {{ health.token_file }} && echo --token-file {{ health.token_file }})
    - onlyif: test -f {{ health.script }}
    - require:
      - service: docker-health-clean-service-dead-timer

docker-health-clean-file-absent:
  file.absent:
    - names:
      - {{ health.unit_dir }}/docker-consul-check.timer
      - {{ health.unit_dir }}/docker-consul-check.service
      - {{ health.script }}
      - {{ health.token_file }}
    - require:
      - cmd: docker-health-clean-cmd-run-deregister

docker-health-clean-module-run-daemon-reload:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: docker-health-clean-file-absent
