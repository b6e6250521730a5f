{#- Marathon's flags, as MARATHON_<FLAG> variables in its environment file (Marathon reads them
    so; a true switch is an empty MARATHON_<FLAG>, a false one MARATHON_DISABLE_<FLAG>):
    marathon:flags, then the values of the plan, which pillar cannot override: --master the
    Mesos zk:// URL, --zk its own zk://.../marathon on the same ensemble, --hostname the node's
    address, --http_port. JAVA_OPTS carries the heap. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import marathon with context %}
{%- from "platform/macros.jinja" import environment_file, flag_variables with context %}
{%- set plan = salt['quorum.plan']() %}
{%- if not plan.host.is_control %}
{{-   raise("host " ~ plan.host.id ~ " is not a control node of its datacenter: Marathon runs "
            ~ "on the nodes of pillar datacenters:" ~ plan.datacenter ~ ":control_nodes") }}
{%- endif %}
{%- set flags = salt['slsutil.merge'](marathon.flags, {
      'master': plan.mesos_zk_url,
      'zk': plan.marathon_zk_url,
      'hostname': plan.host.address,
      'http_port': marathon.http_port,
    }, strategy='overwrite') %}
{#- Marathon's switches: an empty MARATHON_<FLAG> turns --<flag> on, an empty
    MARATHON_DISABLE_<FLAG> turns it off. #}
{%- set switched_flags = {} %}
{%- for name, value in flags | dictsort %}
{%-   if value is sameas true or value is sameas false %}
{%-     do switched_flags.update({('' if value else 'disable_') ~ name: ''}) %}
{%-   else %}
{%-     do switched_flags.update({name: value}) %}
{%-   endif %}
{%- endfor %}
{%- set flag_environment = {} %}
{%- do flag_variables(flag_environment, 'MARATHON_', switched_flags) %}
{%- set environment = salt['slsutil.merge'](marathon.environment, {
      'JAVA_OPTS': '-Xms' ~ marathon.jvm.heap ~ ' -Xmx' ~ marathon.jvm.heap,
    }, strategy='overwrite') %}

include:
  - {{ sls_install }}
{{ environment_file('marathon-config-file', 'marathon', marathon.environment_file, [
    {'comment': '', 'variables': environment},
    {'comment': 'Command-line flags: MARATHON_<FLAG> is --<flag>.', 'variables': flag_environment},
  ], sls_install) }}
