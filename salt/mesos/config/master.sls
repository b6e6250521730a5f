{#- The master's flags, as MESOS_<FLAG> variables in its environment file: mesos:master:flags,
    then the values of the plan, which pillar cannot override: the zk:// URL naming every
    ZooKeeper of the datacenter, quorum = majority of the control nodes, cluster = datacenter,
    and the node's address as ip, hostname and advertise_ip. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{%- from tplroot ~ "/macros.jinja" import flags_file with context %}
{%- set plan = salt['quorum.plan']() %}
{%- if not plan.host.is_control %}
{{-   raise("host " ~ grains['id'] ~ " is not a control node of its datacenter: Mesos masters run "
            ~ "on the nodes of pillar datacenters:" ~ grains['datacenter'] ~ ":control_nodes") }}
{%- endif %}
{%- set address = plan.host.address %}
{%- set flags = salt['slsutil.merge'](mesos.master.flags, {
      'zk': plan.mesos_zk_url,
      'quorum': plan.majority,
      'cluster': plan.datacenter,
      'work_dir': mesos.master.work_dir,
      'ip': address,
      'hostname': address,
      'advertise_ip': address,
      'port': mesos.master.port,
    }, strategy='overwrite') %}

include:
  - {{ sls_install }}
{{ flags_file('master', mesos.master, flags, sls_install) }}
