{#- The consul systemd unit and the running, enabled service, then the health gate: the
    state is green only when the agent answers with a raft leader within
    consul:health:timeout seconds.

    A changed configuration or unit RELOADS the agent (SIGHUP), it never restarts it: a
    highstate over every host must not restart all servers of a datacenter at once and lose
    the quorum. Settings that a reload does not apply wait for the next restart, done by the
    operator one server at a time (README.md). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_config_file = tplroot ~ '.config.file' %}
{%- from tplroot ~ "/map.jinja" import consul with context %}

include:
  - {{ sls_config_file }}

consul-service-running-file-managed-unit:
  file.managed:
    - name: {{ consul.service.unit }}
    - source: salt://{{ tplroot }}/files/consul.service.jinja
    - template: jinja
    - context:
        config:
          binary: {{ consul.install[consul.install.method].bin }}
          config_dir: {{ consul.config_dir }}
          user: {{ consul.user }}
          group: {{ consul.group }}
          limit_nofile: {{ consul.service.limit_nofile }}
          timeout_start_sec: {{ consul.service.timeout_start_sec }}
    - user: root
    - group: root
    - mode: '0644'

consul-service-running-module-run-daemon-reload:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: consul-service-running-file-managed-unit

consul-service-running-service-running:
  service.running:
    - name: {{ consul.service.name }}
    - enable: True
    - reload: True
    - require:
      - module: consul-service-running-module-run-daemon-reload
    - watch:
      - sls: {{ sls_config_file }}
      - file: consul-service-running-file-managed-unit

consul-service-running-consul-cluster-leader-elected:
  consul_cluster.leader_elected:
    - name: {{ consul.service.name }}
    - timeout: {{ consul.health.timeout }}
    - require:
      - service: consul-service-running-service-running
