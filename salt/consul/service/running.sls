{#- The consul systemd unit and the running, enabled service, then the health gate: the
    state is green only when the agent answers with a raft leader within
    consul:health:timeout seconds.

    A changed configuration, unit or binary restarts the agent, so that every setting takes
    effect (Consul applies few of them on a reload): one agent of the datacenter at a time,
    under the datacenter's Consul lock, and only when autopilot reports every server healthy
    (consul_cluster.servers_healthy); a server waits until it does again, the leader last, so
    a highstate over every host never costs the quorum and the datacenter elects a new leader
    once; a client until it sees a leader. A client takes the lock too: an agent that starts
    while a server restarts may fail to resolve the tokens it is handed (the server drops
    the RPC) and Consul 1.8 then refuses their writes until the agent restarts again.
    Service definitions of other formulas only reload the agent (consul/macros.jinja). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_config_file = tplroot ~ '.config.file' %}
{%- from tplroot ~ "/map.jinja" import consul with context %}
{%- set plan = salt['quorum.plan']() %}
{%- set restart_on = [
      {'sls': sls_config_file},
      {'file': 'consul-service-running-file-managed-unit'},
    ] %}
{%- if consul.install.method != 'none' %}
{%-   do restart_on.append({'sls': tplroot ~ '.install.' ~ consul.install.method}) %}
{%- endif %}

include:
  - {{ sls_config_file }}
  - {{ tplroot }}.config.join
  - {{ tplroot }}.config.token
  - {{ tplroot }}.backup

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
    # Every Consul call of the states below presents the Salt token, if any.
    - require:
      - sls: {{ tplroot }}.config.token

{%- if plan.is_control and consul.backup.enabled and consul.install.method != 'none' %}

{#- A new binary (a version change) takes effect only after a snapshot of the datacenter,
    saved through the agent that still runs the old one, before any restart; nothing to save
    on a first bring-up, when no agent runs yet. #}
consul-service-running-cmd-run-snapshot-before-upgrade:
  cmd.run:
    - name: systemctl start {{ consul.backup.unit }}.service
    - onlyif: systemctl is-active --quiet {{ consul.service.name }}
    - onchanges:
      - sls: {{ tplroot }}.install.{{ consul.install.method }}
    - require:
      - sls: {{ tplroot }}.backup.timer
    - require_in:
      - consul_cluster: consul-service-running-consul-cluster-leader-restarts-last
{%- endif %}
{%- if plan.is_control %}

consul-service-running-consul-cluster-leader-restarts-last:
  consul_cluster.leader_restarts_last:
    - name: {{ consul.service.name }}
    - changed_files:
      - {{ consul.config_dir }}/consul.json
      - {{ consul.config_dir }}/encrypt.json
      - {{ consul.config_dir }}/{{ consul.acl.tokens_file }}
      - {{ consul.tls.directory }}/agent.pem
      - {{ consul.tls.directory }}/ca.pem
      - {{ consul.service.unit }}
      - {{ consul.install[consul.install.method].bin }}
    - timeout: {{ consul.rolling_restart.leader_wait }}
    - onchanges: {{ restart_on | json }}
    - require:
      - module: consul-service-running-module-run-daemon-reload
{%- endif %}

consul-service-running-rolling-restart-restarted:
  rolling_restart.restarted:
    - name: {{ consul.service.name }}
    - lock: {{ consul.rolling_restart.lock.format(datacenter=plan.datacenter) }}
    - ready: consul_cluster.servers_healthy
    - health: consul_cluster.{{ 'servers_healthy' if plan.is_control else 'leader' }}
    - timeout: {{ consul.health.timeout }}
    - lock_timeout: {{ consul.rolling_restart.lock_timeout }}
    - onchanges: {{ restart_on | json }}
    - require:
      - module: consul-service-running-module-run-daemon-reload
{%- if plan.is_control %}
      - consul_cluster: consul-service-running-consul-cluster-leader-restarts-last
{%- else %}
      - consul_cluster: consul-service-running-consul-cluster-server-left

{#- A host taken out of its datacenter's control nodes: its agent, still a server, leaves the
    raft peers before it restarts as a client, so the datacenter's quorum shrinks with it. #}
consul-service-running-consul-cluster-server-left:
  consul_cluster.server_left:
    - name: {{ consul.service.name }}
    - data_dir: {{ consul.data_dir }}
    - timeout: {{ consul.health.timeout }}
    - require:
      - module: consul-service-running-module-run-daemon-reload
      # The agent's configuration says client before it leaves: a server that systemd
      # started again would come back as a client.
      - file: consul-config-file-file-serialize
{%- endif %}

consul-service-running-service-running:
  service.running:
    - name: {{ consul.service.name }}
    - enable: True
    - require:
      - module: consul-service-running-module-run-daemon-reload
      - file: consul-config-join-file-serialize
      - rolling_restart: consul-service-running-rolling-restart-restarted

consul-service-running-consul-cluster-leader-elected:
  consul_cluster.leader_elected:
    - name: {{ consul.service.name }}
    - timeout: {{ consul.health.timeout }}
    - require:
      - service: consul-service-running-service-running
