{#- The master's flags, as MESOS_<FLAG> variables in its environment file: mesos:master:flags,
    then what the site's security stage adds (mesos:master:security:stages), then the values of
    the plan, which pillar cannot override: the zk:// URL naming every ZooKeeper of the
    datacenter, quorum = majority of the control nodes, cluster = datacenter, and the node's
    address as ip, hostname and advertise_ip.

    From accept (docs/security.md) the zk:// URL carries the ZooKeeper login of
    secrets:zookeeper:clients:mesos and is read from a file (--zk=file://...: a value given so
    stays off the command line and out of the master's /flags), and the master holds the
    credentials of every principal of secrets:mesos:principals (--credentials); both files are
    root's only and written on the host from pillar. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{%- from tplroot ~ "/macros.jinja" import flags_file with context %}
{%- from "platform/security.jinja" import require_pillar, stage_settings, zookeeper_url with context %}
{%- from "platform/files.jinja" import secret_template with context %}
{%- set plan = salt['quorum.plan']() %}
{%- if not plan.host.is_control %}
{{-   raise("host " ~ grains['id'] ~ " is not a control node of its datacenter: Mesos masters run "
            ~ "on the nodes of pillar datacenters:" ~ grains['datacenter'] ~ ":control_nodes") }}
{%- endif %}
{%- set address = plan.host.address %}
{%- set security = mesos.master.security %}
{%- set reached = plan.security.stages_reached %}
{%- set principal_keys = [] %}
{%- for name in salt['pillar.get']('secrets:mesos:principals', {}) | sort %}
{%-   do principal_keys.append('secrets:mesos:principals:' ~ name) %}
{%- endfor %}
{%- set zk_url = {} %}
{%- do zookeeper_url(zk_url, 'mesos', plan.zookeeper_connect, 'mesos') %}
{%- set security_flags = {} %}
{%- do stage_settings(security_flags, security.stages, reached) %}
{%- if reached %}
{%-   set required = zk_url.pillar.values() | sort | list %}
{%-   for name in ('agent', 'marathon') %}
{%-     do required.extend(['secrets:mesos:principals:' ~ name ~ ':principal',
                            'secrets:mesos:principals:' ~ name ~ ':secret']) %}
{%-   endfor %}
{{-   require_pillar(required, 'the Mesos master') }}
{%-   do security_flags.update({'credentials': security.credentials_file}) %}
{%- endif %}
{%- set flags = salt['slsutil.merge_all']([mesos.master.flags, security_flags, {
      'zk': 'file://' ~ security.zk_file if reached else plan.mesos_zk_url,
      'quorum': plan.majority,
      'cluster': plan.datacenter,
      'work_dir': mesos.master.work_dir,
      'ip': address,
      'hostname': address,
      'advertise_ip': address,
      'port': mesos.master.port,
    }], strategy='overwrite') %}

include:
  - {{ sls_install }}
{{ secret_template('mesos-config-master-secret-template-zk', security.zk_file,
                   'salt://platform/files/secret.jinja' if reached else None, zk_url) }}
{{ secret_template('mesos-config-master-secret-template-credentials', security.credentials_file,
                   'salt://' ~ tplroot ~ '/files/credentials.json.jinja' if reached else None,
                   {'principals': principal_keys, 'single': False}) }}
{{ flags_file('master', mesos.master, flags, sls_install) }}
