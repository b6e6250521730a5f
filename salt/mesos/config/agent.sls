{#- The agent's flags, as MESOS_<FLAG> variables in its environment file: mesos:agent:flags,
    then the values of the plan, which pillar cannot override: master = the zk:// URL of the
    datacenter's masters (the URL only: the masters need not be up), the agent's address,
    and the attributes datacenter and node (the minion id) besides mesos:agent:attributes. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{%- from tplroot ~ "/macros.jinja" import flags_file with context %}
{%- from "consul/macros.jinja" import host_address with context %}
{%- set address = host_address(mesos.agent.ip) %}
{%- set attributes = salt['slsutil.merge'](
      mesos.agent.attributes,
      {'datacenter': grains['datacenter'], 'node': grains['id']},
      strategy='overwrite') %}
{%- set flags = salt['slsutil.merge'](mesos.agent.flags, {
      'master': salt['quorum.zk_url']('/mesos', client_port=mesos.zookeeper_client_port),
      'work_dir': mesos.agent.work_dir,
      'ip': address,
      'hostname': address,
      'port': mesos.agent.port,
      'attributes': attributes | dictsort | map('join', ':') | join(';'),
    }, strategy='overwrite') %}

include:
  - {{ sls_install }}
{{ flags_file('agent', mesos.agent, flags, sls_install) }}
