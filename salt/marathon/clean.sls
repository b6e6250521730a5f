{#- Undoes the marathon formula in reverse: the Consul service, the systemd service, the flag
    file, the software. Marathon's state lives in ZooKeeper (/marathon) and stays. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import marathon with context %}
{%- from "zookeeper/macros.jinja" import systemd_service_absent with context %}
{%- from "consul/macros.jinja" import consul_service_absent with context %}
{{ consul_service_absent('marathon-clean-consul', 'marathon') }}
{{ systemd_service_absent('marathon-clean', marathon.service.name, marathon.service.unit) }}

marathon-clean-file-absent-environment:
  file.absent:
    - name: {{ marathon.environment_file }}
    - require:
      - service: marathon-clean-service-dead
{%- if marathon.install.method == 'package' %}

marathon-clean-pkg-removed:
  pkg.removed:
    - name: {{ marathon.install.package.name }}
    - require:
      - service: marathon-clean-service-dead
{%- elif marathon.install.method == 'archive' %}

marathon-clean-file-absent-archive-directory:
  file.absent:
    - name: {{ marathon.install.archive.directory }}
    - require:
      - service: marathon-clean-service-dead
{%- endif %}
