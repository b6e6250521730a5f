{#- The agent as a systemd service, restarted when its code, venv, settings or unit change
    (it keeps what it registered: a restart re-reads and reconciles). The unit is
    Type=notify and ready only after the first reconciliation, so the state is green only
    when the agent reaches both Docker and the Consul agent, within
    registrator:service:timeout_start_sec. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_venv_install = tplroot ~ '.venv.install' %}
{%- set sls_agent_install = tplroot ~ '.agent.install' %}
{%- set sls_config_file = tplroot ~ '.config.file' %}
{%- from tplroot ~ "/map.jinja" import registrator with context %}
{#- The local agent runs, and knows the registrator's token once tokens are in use. #}
{%- set sls_consul_ready = 'consul.acl' if salt['quorum.plan']().security.tokens_in_use
      else 'consul.service.running' %}

include:
  - docker.service.running
  - {{ sls_consul_ready }}
  - {{ sls_venv_install }}
  - {{ sls_agent_install }}
  - {{ sls_config_file }}

registrator-service-running-file-managed-unit:
  file.managed:
    - name: {{ registrator.service.unit }}
    - source: salt://{{ tplroot }}/files/registrator.service.jinja
    - template: jinja
    - context:
        config:
          python: {{ registrator.directory }}/venv/bin/python
          lib: {{ registrator.directory }}/lib
          config_file: {{ registrator.config_file }}
          timeout_start_sec: {{ registrator.service.timeout_start_sec }}
    - user: root
    - group: root
    - mode: '0644'

registrator-service-running-module-run-daemon-reload:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: registrator-service-running-file-managed-unit

registrator-service-running-service-running:
  service.running:
    - name: {{ registrator.service.name }}
    - enable: True
    - require:
      - module: registrator-service-running-module-run-daemon-reload
      - service: docker-service-running-service-running
      - sls: {{ sls_consul_ready }}
    - watch:
      - sls: {{ sls_venv_install }}
      - sls: {{ sls_agent_install }}
      - sls: {{ sls_config_file }}
      - file: registrator-service-running-file-managed-unit
