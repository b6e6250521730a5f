{#- The Consul service `marathon` with an HTTP check of /ping; the local agent reloads when
    the definition changes. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import marathon with context %}
{%- from "consul/macros.jinja" import consul_service with context %}
{%- set address = salt['quorum.plan']().host.address %}

include:
  - consul.service.running
{{ consul_service('marathon-consul-registration', {
    'name': 'marathon',
    'address': address,
    'port': marathon.http_port,
    'tags': marathon.consul.tags,
    'checks': [{
      'id': 'marathon-ping',
      'name': 'Marathon /ping',
      'http': 'http://' ~ address ~ ':' ~ marathon.http_port ~ '/ping',
      'interval': marathon.consul.check_interval,
      'timeout': marathon.consul.check_timeout,
    }],
  }) }}
