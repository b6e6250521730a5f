{#- The Consul service `marathon`; the local agent reloads when the definition changes. Its
    check reads /ping, except at the secure stage, where every path of Marathon's HTTP API asks
    for the login of secrets:marathon:http: a Consul HTTP check would carry it in its headers
    into Consul's catalog, so the check connects to the HTTP port instead (the health gate of
    service/running.sls still reads /ping, with the login). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import marathon with context %}
{%- from "consul/macros.jinja" import consul_service with context %}
{%- set plan = salt['quorum.plan']() %}
{%- set address = plan.host.address %}
{%- if 'secure' in plan.security.stages_reached %}
{%-   set check = {'id': 'marathon-http', 'name': 'Marathon HTTP port',
                   'tcp': address ~ ':' ~ marathon.http_port} %}
{%- else %}
{%-   set check = {'id': 'marathon-ping', 'name': 'Marathon /ping',
                   'http': 'http://' ~ address ~ ':' ~ marathon.http_port ~ '/ping'} %}
{%- endif %}

include:
  - consul.service.running
{{ consul_service('marathon-consul-registration', {
    'name': 'marathon',
    'address': address,
    'port': marathon.http_port,
    'tags': marathon.consul.tags,
    'checks': [salt['slsutil.merge'](check, {
      'interval': marathon.consul.check_interval,
      'timeout': marathon.consul.check_timeout,
    })],
  }) }}
