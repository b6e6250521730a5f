{#- Removes the Consul service `zookeeper` first, so that clients stop finding this member
    before it stops; the local agent reloads if it runs. #}
{%- from "consul/macros.jinja" import consul_service_absent with context %}
{{ consul_service_absent('zookeeper-clean-consul', 'zookeeper') }}
