{#- The agent's flags, as MESOS_<FLAG> variables in its environment file: mesos:agent:flags,
    then the values of the plan, which pillar cannot override: master = the zk:// URL of the
    datacenter's masters (the URL only: the masters need not be up), the agent's address,
    and the attributes datacenter and node (the minion id) besides mesos:agent:attributes. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{%- from tplroot ~ "/macros.jinja" import flags_file with context %}
{%- set plan = salt['quorum.plan']() %}
{%- set address = mesos.agent.ip or plan.host.address %}
{%- set attributes = salt['slsutil.merge'](
      mesos.agent.attributes,
      {'datacenter': plan.datacenter, 'node': plan.host.id},
      strategy='overwrite') %}
{%- set flags = salt['slsutil.merge'](mesos.agent.flags, {
      'master': plan.mesos_zk_url,
      'work_dir': mesos.agent.work_dir,
      'ip': address,
      'hostname': address,
      'port': mesos.agent.port,
      'attributes': attributes | dictsort | map('join', ':') | join(';'),
    }, strategy='overwrite') %}

include:
  - {{ sls_install }}
{{ flags_file('agent', mesos.agent, flags, sls_install) }}
