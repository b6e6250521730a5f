{#- The Consul service mesos-master with an HTTP check of its /health endpoint; the local
    agent reloads when the definition changes. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{%- from tplroot ~ "/macros.jinja" import registration with context %}
{%- set plan = salt['quorum.plan']() %}

include:
  - consul.service.running
{{ registration('master', mesos.master, plan.host.address) }}
