{#- Stops and disables the member and removes its unit, once Consul no longer advertises it. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import zookeeper with context %}
{%- from "platform/macros.jinja" import systemd_service_absent with context %}

include:
  - {{ tplroot }}.consul.clean
{{ systemd_service_absent('zookeeper-clean', zookeeper.service.name, zookeeper.service.unit,
    [{'sls': tplroot ~ '.consul.clean'}]) }}
