{#- The Consul service `zookeeper` on the member's address, with a TCP check of the client
    port; the local agent reloads when the definition changes. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import zookeeper with context %}
{%- from "consul/macros.jinja" import consul_service with context %}
{%- set plan = salt['quorum.plan']() %}
{%- set address = plan.host.address %}
{%- set port = plan.zookeeper_ports.client %}
{%- set endpoint = address ~ ':' ~ port %}

include:
  - consul.service.running
{{ consul_service('zookeeper-consul-registration', {
    'name': 'zookeeper',
    'address': address,
    'port': port,
    'tags': zookeeper.consul.tags,
    'checks': [{
      'id': 'zookeeper-client-port',
      'name': 'ZooKeeper client port ' ~ endpoint,
      'tcp': endpoint,
      'interval': zookeeper.consul.check_interval,
      'timeout': zookeeper.consul.check_timeout,
    }],
  }) }}
