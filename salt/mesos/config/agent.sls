{#- The agent's flags, as MESOS_<FLAG> variables in its environment file: mesos:agent:flags,
    then what the site's security stage adds (mesos:agent:security:stages), then the values of
    the plan, which pillar cannot override: master = the zk:// URL of the datacenter's masters
    (the URL only: the masters need not be up), the agent's address, and the attributes
    datacenter and node (the minion id) besides mesos:agent:attributes.

    From accept (docs/security.md) the zk:// URL carries the ZooKeeper login of
    secrets:zookeeper:clients:mesos and is read from a file (--master=file://...), and the
    agent's credential (principal secrets:mesos:principals:agent) is in place; from verify
    the agent presents it to the master (--credential): the masters hold it from accept. Both
    files are root's only and written on the host from pillar. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{%- from tplroot ~ "/macros.jinja" import flags_file with context %}
{%- from "platform/security.jinja" import require_pillar, stage_settings, zookeeper_url with context %}
{%- from "platform/files.jinja" import secret_template with context %}
{%- set plan = salt['quorum.plan']() %}
{%- set address = mesos.agent.ip or plan.host.address %}
{%- set security = mesos.agent.security %}
{%- set reached = plan.security.stages_reached %}
{%- set principal_key = 'secrets:mesos:principals:agent' %}
{%- set zk_url = {} %}
{%- do zookeeper_url(zk_url, 'mesos', plan.zookeeper_connect, 'mesos') %}
{%- set attributes = salt['slsutil.merge'](
      mesos.agent.attributes,
      {'datacenter': plan.datacenter, 'node': plan.host.id},
      strategy='overwrite') %}
{%- set security_flags = {} %}
{%- do stage_settings(security_flags, security.stages, reached) %}
{%- if reached %}
{{-   require_pillar(zk_url.pillar.values() | sort
                     + [principal_key ~ ':principal', principal_key ~ ':secret'],
                     'the Mesos agent') }}
{%- endif %}
{%- if 'verify' in reached %}
{%-   do security_flags.update({'credential': security.credential_file}) %}
{%- endif %}
{%- set flags = salt['slsutil.merge_all']([mesos.agent.flags, security_flags, {
      'master': 'file://' ~ security.master_file if reached else plan.mesos_zk_url,
      'work_dir': mesos.agent.work_dir,
      'ip': address,
      'hostname': address,
      'port': mesos.agent.port,
      'attributes': attributes | dictsort | map('join', ':') | join(';'),
    }], strategy='overwrite') %}

include:
  - {{ sls_install }}
{{ secret_template('mesos-config-agent-secret-template-master', security.master_file,
                   'salt://platform/files/secret.jinja' if reached else None, zk_url) }}
{{ secret_template('mesos-config-agent-secret-template-credential', security.credential_file,
                   'salt://' ~ tplroot ~ '/files/credentials.json.jinja' if reached else None,
                   {'principals': [principal_key], 'single': True}) }}
{{ flags_file('agent', mesos.agent, flags, sls_install) }}
