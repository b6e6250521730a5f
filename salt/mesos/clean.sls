{#- Undoes the mesos formula in reverse, for both roles: the Consul services, the systemd
    services, the flag files, the package and its repository. The work directories go only
    with mesos:clean:remove_data: true. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{%- from "zookeeper/macros.jinja" import systemd_service_absent with context %}
{%- from "consul/macros.jinja" import consul_service_absent with context %}
{%- for role in ('master', 'agent') %}
{%-   set settings = mesos[role] %}
{{ consul_service_absent('mesos-clean-consul-' ~ role, 'mesos-' ~ role) }}
{{ systemd_service_absent('mesos-clean-' ~ role, settings.service.name, settings.service.unit) }}

mesos-clean-{{ role }}-file-absent-environment:
  file.absent:
    - name: {{ settings.environment_file }}
    - require:
      - service: mesos-clean-{{ role }}-service-dead
{%-   if mesos.clean.remove_data %}

mesos-clean-{{ role }}-file-absent-work-dir:
  file.absent:
    - name: {{ settings.work_dir }}
    - require:
      - service: mesos-clean-{{ role }}-service-dead
{%-   endif %}
{%- endfor %}
{%- if mesos.install.method == 'package' %}

mesos-clean-pkg-removed:
  pkg.removed:
    - name: {{ mesos.install.package.name }}
    - require:
      - service: mesos-clean-master-service-dead
      - service: mesos-clean-agent-service-dead
{%-   if mesos.install.package.repo %}

mesos-clean-pkgrepo-absent:
  pkgrepo.absent:
    - name: {{ mesos.install.package.repo.name.format(codename=grains.get('oscodename', '')) | json }}
    - require:
      - pkg: mesos-clean-pkg-removed
{%-   endif %}
{%- endif %}
