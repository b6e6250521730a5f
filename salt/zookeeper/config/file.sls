{#- zoo.cfg, myid, log4j.properties, the members' JAAS file and the server's environment (JVM
    heap; on Debian also the classpath). The id and the server.N lines come from the quorum
    module: position N in pillar datacenters:<dc>:control_nodes is id N. dataDir is persistent
    (Debian's example configuration has /tmp/zookeeper). Authentication follows the site's
    security stage (zookeeper:security in defaults.yaml). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_install = tplroot ~ '.install' %}
{%- from tplroot ~ "/map.jinja" import zookeeper with context %}
{%- from "platform/files.jinja" import environment_file with context %}
{%- from "platform/security.jinja" import stage_settings with context %}
{%- set plan = salt['quorum.plan']() %}
{%- set myid = plan.zookeeper_id %}
{%- if not myid %}
{{-   raise("host " ~ grains['id'] ~ " is not a control node of its datacenter: ZooKeeper runs "
            ~ "on the nodes of pillar datacenters:" ~ grains['datacenter'] ~ ":control_nodes; "
            ~ "apply the zookeeper formula to those only") }}
{%- endif %}
{#- A running member moves one stage per highstate from the stage its zoo.cfg is at (grain
    zookeeper_security_stage), as ZooKeeper's rolling procedure needs, whatever stage pillar
    asks for: a site secured by an earlier tree, whose members never spoke SASL, gets there in
    three highstates. #}
{%- set asked = plan.security.stages_reached %}
{%- set current = grains.get('zookeeper_security_stage') %}
{%- set reached = asked if current is none
      else asked[:['open', 'accept', 'verify', 'secure'].index(current) + 1] %}
{%- set security_settings = {} %}
{%- do stage_settings(security_settings, zookeeper.security.stages, reached) %}
{%- set settings = salt['slsutil.merge_all']([
      zookeeper.config,
      security_settings,
      {'dataDir': zookeeper.data_dir, 'clientPort': plan.zookeeper_ports.client},
    ], strategy='overwrite') %}
{%- set jvm_flags = ['-Xms' ~ zookeeper.jvm.heap, '-Xmx' ~ zookeeper.jvm.heap] %}
{%- if security_settings %}
{%-   do jvm_flags.append('-Djava.security.auth.login.config=' ~ zookeeper.security.jaas_file) %}
{%- endif %}
{%- for name, value in zookeeper.jvm.system_properties | dictsort %}
{%-   do jvm_flags.append('-D' ~ name ~ '=' ~ value) %}
{%- endfor %}
{%- set environment = salt['slsutil.merge'](zookeeper.service.environment, {
      'ZOOCFGDIR': zookeeper.config_dir,
      'ZOO_LOG_DIR': zookeeper.log_dir,
      'SERVER_JVMFLAGS': (jvm_flags + zookeeper.jvm.flags) | join(' '),
    }, strategy='overwrite') %}

include:
  - {{ sls_install }}

{%- for name, directory in [('data-dir', zookeeper.data_dir), ('log-dir', zookeeper.log_dir)] %}

zookeeper-config-file-file-directory-{{ name }}:
  file.directory:
    - name: {{ directory }}
    - user: {{ zookeeper.user }}
    - group: {{ zookeeper.group }}
    - mode: '0750'
    - makedirs: True
    - require:
      - sls: {{ sls_install }}
{%- endfor %}

{%- for name, properties, lines in [
      ('zoo.cfg', settings, plan.zookeeper_servers),
      ('log4j.properties', zookeeper.log4j, []),
    ] if properties %}

zookeeper-config-file-file-managed-{{ name }}:
  file.managed:
    - name: {{ zookeeper.config_dir }}/{{ name }}
    - source: salt://{{ tplroot }}/files/properties.jinja
    - template: jinja
    - context:
        config:
          settings: {{ properties | json }}
          servers: {{ lines | json }}
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
    - require:
      - sls: {{ sls_install }}
{%- endfor %}

zookeeper-config-file-file-managed-myid:
  file.managed:
    - name: {{ zookeeper.myid_file }}
    - contents: '{{ myid }}'
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
    - require:
      - sls: {{ sls_install }}
{%- if reached != asked %}

zookeeper-config-file-test-show-notification-stage:
  test.show_notification:
    - text: >-
        ZooKeeper on {{ plan.host.id }} moves from security stage {{ current }} to
        {{ reached[-1] }} in this highstate; run the highstate again to reach {{ asked[-1] }}
        (one stage per highstate: docs/security.md)
{%- endif %}
{%- if security_settings %}

zookeeper-config-file-file-managed-jaas:
  file.managed:
    - name: {{ zookeeper.security.jaas_file }}
    - source: salt://{{ tplroot }}/files/jaas.conf.jinja
    - template: jinja
    - user: root
    - group: {{ zookeeper.group }}
    - mode: '0640'
    - makedirs: True
    - show_changes: False
    - require:
      - sls: {{ sls_install }}
{%- else %}

zookeeper-config-file-file-absent-jaas:
  file.absent:
    - name: {{ zookeeper.security.jaas_file }}
{%- endif %}
{{ environment_file('zookeeper-config-file', 'zookeeper', zookeeper.service.environment_file,
                    [{'comment': '', 'variables': environment}], sls_install) }}
