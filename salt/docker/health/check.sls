{#- The engine's health as the Consul node check `docker`: a TTL check that a systemd timer
    feeds every docker:health:interval with the engine's answer to GET /_ping on its unix
    socket (files/docker-consul-check.py says why neither a script nor a TCP check).
    A node check: while it is critical, Consul DNS returns none of the node's services.
    The state is green once the check is registered and passing. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_service_running = tplroot ~ '.service.running' %}
{%- from tplroot ~ "/map.jinja" import docker with context %}
{%- from "platform/files.jinja" import secret_file with context %}
{%- set health = docker.health %}
{%- set tokens_in_use = salt['quorum.plan']().security.tokens_in_use %}
{%- set sls_consul_ready = 'consul.acl' if tokens_in_use else 'consul.service.running' %}
{%- if health.enabled %}
{%-   set arguments = [
        '--consul-url', health.consul_url, '--socket', health.socket,
        '--token-file', health.token_file if tokens_in_use else '',
        '--check-id', health.check_id, '--interval', health.interval, '--ttl', health.ttl,
        '--timeout', health.timeout | string,
      ] | map('quote') | join(' ') %}
{%-   set units = {
        'service': health.unit_dir ~ '/docker-consul-check.service',
        'timer': health.unit_dir ~ '/docker-consul-check.timer',
      } %}

include:
  - {{ sls_service_running }}
  - {{ sls_consul_ready }}

{#- Its ACL token, where the site's tokens are in use: root's only, read from pillar on the
    host. #}
{{ secret_file('docker-health-check-secret-file-token', health.token_file,
               'secrets:consul:acl:tokens:health_checks:secret_id' if tokens_in_use else None) }}

docker-health-check-file-managed-script:
  file.managed:
    - name: {{ health.script }}
    - source: salt://{{ tplroot }}/files/docker-consul-check.py
    - user: root
    - group: root
    - mode: '0755'
    - makedirs: True

{%-   for kind, path in units | dictsort %}

docker-health-check-file-managed-{{ kind }}:
  file.managed:
    - name: {{ path }}
    - source: salt://{{ tplroot }}/files/docker-consul-check.{{ kind }}.jinja
    - template: jinja
    - context:
        config:
          check_id: {{ health.check_id }}
          script: {{ health.script }}
          arguments: {{ arguments | json }}
          interval: {{ health.interval }}
    - user: root
    - group: root
    - mode: '0644'
{%-   endfor %}

docker-health-check-module-run-daemon-reload:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: docker-health-check-file-managed-service
      - file: docker-health-check-file-managed-timer

docker-health-check-service-running-timer:
  service.running:
    - name: docker-consul-check.timer
    - enable: True
    - require:
      - module: docker-health-check-module-run-daemon-reload
      - file: docker-health-check-file-managed-script
      - file: docker-health-check-secret-file-token-file-{{ 'managed' if tokens_in_use else 'absent' }}
      - service: docker-service-running-service-running
    - watch:
      - file: docker-health-check-file-managed-timer

{#- The gate: report once now unless the check is already registered as configured and
    passing; red with the probe's answer if the engine does not answer. #}
docker-health-check-cmd-run-report:
  cmd.run:
    - name: >-
        systemctl start docker-consul-check.service
        && /usr/bin/python3 {{ health.script }} {{ arguments }} --is-passing
        || { journalctl -u docker-consul-check.service -n 3 -o cat; exit 1; }
    - unless: /usr/bin/python3 {{ health.script }} {{ arguments }} --is-passing
    - require:
      - service: docker-health-check-service-running-timer
      # The local agent answers with a leader (restarted first if its settings changed) and
      # knows the check's token.
      - sls: {{ sls_consul_ready }}
{%- else %}

include:
  - .clean
{%- endif %}
