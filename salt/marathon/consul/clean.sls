{#- Removes the Consul service `marathon` first, so that clients stop finding this instance
    before it stops; the local agent reloads if it runs. #}
{%- from "consul/macros.jinja" import consul_service_absent with context %}
{{ consul_service_absent('marathon-clean-consul', 'marathon') }}
