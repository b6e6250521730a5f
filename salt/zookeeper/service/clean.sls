{#- Stops and disables the member and removes its unit, once Consul no longer advertises it.
    On a host taken out of its datacenter's control nodes, the member first leaves the
    ensemble (zookeeper_member.left): it hands its lead over and stops only once the members
    that stay run without it. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import zookeeper with context %}
{%- from "platform/systemd.jinja" import systemd_service_absent with context %}
{%- set plan = salt['quorum.plan']() %}
{%- set require = [{'sls': tplroot ~ '.consul.clean'}] %}

include:
  - {{ tplroot }}.consul.clean
{%- if not plan.is_control %}
{%-   do require.append({'zookeeper_member': 'zookeeper-service-clean-zookeeper-member-left'}) %}

zookeeper-service-clean-zookeeper-member-left:
  zookeeper_member.left:
    - name: {{ zookeeper.service.name }}
    - myid_file: {{ zookeeper.myid_file }}
    - members: {{ plan.members | map(attribute='address') | list | json }}
    - lock: {{ zookeeper.rolling_restart.lock.format(datacenter=plan.datacenter) }}
    - port: {{ plan.zookeeper_ports.client }}
    - timeout: {{ zookeeper.rolling_restart.ready_timeout }}
    - health_timeout: {{ zookeeper.health.timeout }}
    - require:
      - sls: {{ tplroot }}.consul.clean
{%- endif %}
{{ systemd_service_absent('zookeeper-clean', zookeeper.service.name, zookeeper.service.unit,
    require) }}
