{#- Removes the Consul service `edge` first, so that nothing is sent to this edge while it
    stops; the local agent reloads if it runs. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import haproxy with context %}
{%- from "consul/macros.jinja" import consul_service_absent with context %}
{{ consul_service_absent('haproxy-consul-clean', haproxy.consul.service_name) }}
