{#- The Consul service mesos-agent with an HTTP check of its /health endpoint; the local
    agent reloads when the definition changes. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{%- from tplroot ~ "/macros.jinja" import registration with context %}
{%- from "consul/macros.jinja" import host_address with context %}

include:
  - consul.service.running
{{ registration('agent', mesos.agent, host_address(mesos.agent.ip)) }}
