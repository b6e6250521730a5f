{#- The Consul service `edge` on the stats listener, with an HTTP check of HAProxy's monitor
    URI (no credentials needed); the local agent reloads when the definition changes. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import haproxy with context %}
{%- from tplroot ~ "/stats.jinja" import stats_address, monitor_url with context %}
{%- from "consul/macros.jinja" import consul_service with context %}

include:
  - consul.service.running
{{ consul_service('haproxy-consul-registration', {
    'name': haproxy.consul.service_name,
    'address': stats_address,
    'port': haproxy.stats.port,
    'tags': haproxy.consul.tags,
    'checks': [{
      'id': haproxy.consul.service_name ~ '-haproxy-monitor',
      'name': 'HAProxy ' ~ monitor_url,
      'http': monitor_url,
      'interval': haproxy.consul.check_interval,
      'timeout': haproxy.consul.check_timeout,
    }],
  }) }}
