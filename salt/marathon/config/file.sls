{#- Marathon's flags, as MARATHON_<FLAG> variables in its environment file (Marathon reads them
    so; a true switch is an empty MARATHON_<FLAG>, a false one MARATHON_DISABLE_<FLAG>):
    marathon:flags, then what the site's security stage adds (marathon:security:stages), then
    the values of the plan, which pillar cannot override: --master the Mesos zk:// URL, --zk
    its own zk://.../marathon on the same ensemble, --hostname the node's address,
    --http_port. JAVA_OPTS carries the heap.

    Authentication (docs/security.md): from accept the zk:// URLs carry the ZooKeeper logins of
    secrets:zookeeper:clients (mesos in --master, marathon in --zk), the environment file is
    root's only, and the secret of Mesos principal secrets:mesos:principals:marathon is in
    marathon:security:secret_file; from verify Marathon authenticates with Mesos as that
    principal; at secure its HTTP API requires the login of secrets:marathon:http
    (--http_credentials), and a logback configuration keeps Marathon from logging it. The
    template reads every secret from pillar on the host. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import marathon with context %}
{%- from "platform/files.jinja" import environment_file, flag_variables, secret_file with context %}
{%- from "platform/security.jinja" import require_pillar, stage_settings, zookeeper_url with context %}
{%- set plan = salt['quorum.plan']() %}
{%- if not plan.host.is_control %}
{{-   raise("host " ~ plan.host.id ~ " is not a control node of its datacenter: Marathon runs "
            ~ "on the nodes of pillar datacenters:" ~ plan.datacenter ~ ":control_nodes") }}
{%- endif %}
{%- set security = marathon.security %}
{%- set reached = plan.security.stages_reached %}
{%- set principal_key = 'secrets:mesos:principals:marathon' %}
{%- set mesos_url = {} %}
{%- do zookeeper_url(mesos_url, 'mesos', plan.zookeeper_connect, 'mesos') %}
{%- set marathon_url = {} %}
{%- do zookeeper_url(marathon_url, 'marathon', plan.zookeeper_connect, 'marathon') %}
{%- set http_login = {'format': '{user}:{password}',
                      'pillar': {'user': 'secrets:marathon:http:user',
                                 'password': 'secrets:marathon:http:password'}} %}
{%- set security_flags = {} %}
{%- do stage_settings(security_flags, security.stages, reached) %}
{#- Flags whose values are secrets, by name; the template reads them from pillar. #}
{%- set secret_flags = {} %}
{%- if reached %}
{{-   require_pillar((mesos_url.pillar.values() | list) + (marathon_url.pillar.values() | list)
                     + (http_login.pillar.values() | list)
                     + [principal_key ~ ':principal', principal_key ~ ':secret'],
                     'Marathon') }}
{%-   do secret_flags.update({'master': mesos_url, 'zk': marathon_url}) %}
{%- endif %}
{%- set flags = salt['slsutil.merge_all']([marathon.flags, security_flags, {
      'master': plan.mesos_zk_url,
      'zk': plan.marathon_zk_url,
      'hostname': plan.host.address,
      'http_port': marathon.http_port,
    }], strategy='overwrite') %}
{#- The principal goes with the switch only: Marathon registers with Mesos under any principal
    it is given, and Mesos refuses to change a registered framework's principal. #}
{%- if reached and flags.get('mesos_authentication') is sameas true %}
{%-   do secret_flags.update({'mesos_authentication_principal': {
        'format': '{principal}', 'pillar': {'principal': principal_key ~ ':principal'}}}) %}
{%-   do flags.update({'mesos_authentication_secret_file': security.secret_file}) %}
{%- endif %}
{%- if 'secure' in reached %}
{%-   do secret_flags.update({'http_credentials': http_login}) %}
{%- endif %}
{#- Marathon's switches: an empty MARATHON_<FLAG> turns --<flag> on, an empty
    MARATHON_DISABLE_<FLAG> turns it off. #}
{%- set switched_flags = {} %}
{%- for name, value in flags | dictsort if name not in secret_flags %}
{%-   if value is sameas true or value is sameas false %}
{%-     do switched_flags.update({('' if value else 'disable_') ~ name: ''}) %}
{%-   else %}
{%-     do switched_flags.update({name: value}) %}
{%-   endif %}
{%- endfor %}
{%- set flag_environment = {} %}
{%- do flag_variables(flag_environment, 'MARATHON_', switched_flags) %}
{%- set secret_environment = {} %}
{%- for name, spec in secret_flags | dictsort %}
{%-   do secret_environment.update({'MARATHON_' ~ name | upper: spec}) %}
{%- endfor %}
{%- set java_opts = ['-Xms' ~ marathon.jvm.heap, '-Xmx' ~ marathon.jvm.heap] %}
{%- if 'secure' in reached %}
{%-   do java_opts.append('-Dlogback.configurationFile=' ~ security.logback_file) %}
{%- endif %}
{%- set environment = salt['slsutil.merge'](marathon.environment, {
      'JAVA_OPTS': java_opts | join(' '),
    }, strategy='overwrite') %}

include:
  - {{ sls_install }}
{{ secret_file('marathon-config-file-secret-file-mesos', security.secret_file,
               principal_key ~ ':secret' if reached else None,
               group=marathon.service.group, mode='0640', newline=False) }}
{%- if 'secure' in reached %}

marathon-config-file-file-managed-logback:
  file.managed:
    - name: {{ security.logback_file }}
    - source: salt://{{ tplroot }}/files/logback.xml
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
{%- else %}

marathon-config-file-file-absent-logback:
  file.absent:
    - name: {{ security.logback_file }}
{%- endif %}
{{ environment_file('marathon-config-file', 'marathon', marathon.environment_file, [
    {'comment': '', 'variables': environment},
    {'comment': 'Command-line flags: MARATHON_<FLAG> is --<flag>.', 'variables': flag_environment,
     'secrets': secret_environment},
  ], sls_install, mode='0600' if reached else '0644') }}
