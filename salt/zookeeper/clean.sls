{#- Undoes the zookeeper formula in reverse: the Consul service, the systemd service, the
    configuration, the software. The data directory goes only with
    zookeeper:clean:remove_data: true. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import zookeeper with context %}
{%- from tplroot ~ "/macros.jinja" import systemd_service_absent with context %}
{%- from "consul/macros.jinja" import consul_service_absent with context %}
{{ consul_service_absent('zookeeper-clean-consul', 'zookeeper') }}
{{ systemd_service_absent('zookeeper-clean', zookeeper.service.name, zookeeper.service.unit) }}

zookeeper-clean-file-absent-environment:
  file.absent:
    - name: {{ zookeeper.service.environment_file }}
    - require:
      - service: zookeeper-clean-service-dead
{%- if zookeeper.install.method == 'package' %}

{#- zoo.cfg and myid are the package's configuration files: they go with it (purge). #}
zookeeper-clean-pkg-purged:
  pkg.purged:
    - pkgs: {{ zookeeper.install.package.names | json }}
    - require:
      - service: zookeeper-clean-service-dead
{%- else %}
{%-   for name in ('zoo.cfg', 'logback.xml') %}

zookeeper-clean-file-absent-{{ name }}:
  file.absent:
    - name: {{ zookeeper.config_dir }}/{{ name }}
    - require:
      - service: zookeeper-clean-service-dead
{%-   endfor %}

zookeeper-clean-file-absent-myid:
  file.absent:
    - name: {{ zookeeper.myid_file }}
    - require:
      - service: zookeeper-clean-service-dead
{%- endif %}
{%- if zookeeper.install.method == 'archive' %}

zookeeper-clean-file-absent-archive-directory:
  file.absent:
    - name: {{ zookeeper.install.archive.directory }}
    - require:
      - service: zookeeper-clean-service-dead
{%- endif %}
{%- if zookeeper.clean.remove_data %}

zookeeper-clean-file-absent-data-dir:
  file.absent:
    - name: {{ zookeeper.data_dir }}
    - require:
      - service: zookeeper-clean-service-dead
{%- endif %}
