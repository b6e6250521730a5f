{#- Stops and disables Marathon and removes its unit, once Consul no longer advertises it. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import marathon with context %}
{%- from "platform/systemd.jinja" import systemd_service_absent with context %}

include:
  - {{ tplroot }}.consul.clean
{{ systemd_service_absent('marathon-clean', marathon.service.name, marathon.service.unit,
    [{'sls': tplroot ~ '.consul.clean'}]) }}
