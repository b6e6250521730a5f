{#- Whom the agent joins when it starts, /etc/consul.d/join.json: the datacenter's servers
    (retry_join) and, on a server, how many servers bootstrap the datacenter
    (bootstrap_expect) and the other datacenters' servers (retry_join_wan: a datacenter whose
    servers all restarted at once finds the others at start, not whenever gossip brings them;
    consul.wan joins them while the agent runs). Consul reads them only when the agent starts
    (a running agent stays in the pool; a bootstrapped datacenter ignores bootstrap_expect),
    so they live apart from consul.json and a change here restarts no agent: growing or
    shrinking the control plane rewrites this file on every host and restarts none of them. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import consul with context %}
{%- set plan = salt['quorum.plan']() %}
{%- set join = {'retry_join': plan.lan_peers} %}
{%- if plan.is_control %}
{%-   do join.update({'bootstrap_expect': plan.bootstrap_expect}) %}
{%-   if plan.wan_peers %}
{%-     do join.update({'retry_join_wan': plan.wan_peers}) %}
{%-   endif %}
{%- endif %}

include:
  - .file

consul-config-join-file-serialize:
  file.serialize:
    - name: {{ consul.config_dir }}/join.json
    - dataset: {{ join | json }}
    - serializer: json
    - user: root
    - group: {{ consul.group }}
    - mode: '0640'
    - require:
      - file: consul-config-file-file-directory-config-dir
