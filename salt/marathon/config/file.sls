{#- Marathon's flags, as MARATHON_<FLAG> variables in its environment file (Marathon reads them
    so; a true switch is an empty MARATHON_<FLAG>, a false one MARATHON_DISABLE_<FLAG>):
    marathon:flags, then the values of the plan, which pillar cannot override: --master the
    Mesos zk:// URL, --zk its own zk://.../marathon on the same ensemble, --hostname the node's
    address, --http_port. JAVA_OPTS carries the heap. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import marathon with context %}
{%- from "consul/macros.jinja" import host_address with context %}
{%- if not salt['quorum.is_control']() %}
{{-   raise("host " ~ grains['id'] ~ " is not a control node of its datacenter: Marathon runs "
            ~ "on the nodes of pillar datacenters:" ~ grains['datacenter'] ~ ":control_nodes") }}
{%- endif %}
{%- set flags = salt['slsutil.merge'](marathon.flags, {
      'master': salt['quorum.zk_url']('/mesos', client_port=marathon.zookeeper_client_port),
      'zk': salt['quorum.zk_url']('/marathon', client_port=marathon.zookeeper_client_port),
      'hostname': host_address(),
      'http_port': marathon.http_port,
    }, strategy='overwrite') %}
{%- set environment = salt['slsutil.merge'](marathon.environment, {
      'JAVA_OPTS': '-Xms' ~ marathon.jvm.heap ~ ' -Xmx' ~ marathon.jvm.heap,
    }, strategy='overwrite') %}

include:
  - {{ sls_install }}

marathon-config-file-file-managed-environment:
  file.managed:
    - name: {{ marathon.environment_file }}
    - source: salt://zookeeper/files/default/environment.jinja
    - template: jinja
    - context:
        config:
          formula: marathon
          environment: {{ environment | json }}
          prefix: MARATHON_
          booleans: presence
          flags: {{ flags | json }}
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
    - require:
      - sls: {{ sls_install }}
