{#- Control nodes join the servers of every other datacenter over the Consul WAN, once their
    own datacenter has a leader. Only the missing peers are joined (consul_cluster.wan_joined).
    Other hosts get no state from this file. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_service_running = tplroot ~ '.service.running' %}
{%- from tplroot ~ "/map.jinja" import consul with context %}
{%- set plan = salt['quorum.plan']() %}

{%- if plan.is_control %}

include:
  - {{ sls_service_running }}
  - {{ tplroot }}.acl

consul-wan-joined-consul-cluster-wan-joined:
  consul_cluster.wan_joined:
    - name: wan
    - peers: {{ plan.wan_peers | json }}
    - timeout: {{ consul.wan.join_timeout }}
    - require:
      - consul_cluster: consul-service-running-consul-cluster-leader-elected
{%-   if plan.security.tls %}
      - sls: {{ tplroot }}.acl
{%-   endif %}
{%- endif %}
