{#- Undoes the master role (master/init.sls) in reverse: the Consul service mesos-master, the
    systemd service, then the flag file and the files of secrets (config/master.sls). The work
    directory goes only with mesos:clean:remove_data: true. The package stays: the agent may
    run on it too; mesos.install.clean removes it once both roles are stopped. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{%- from "platform/systemd.jinja" import systemd_service_absent with context %}
{%- from "consul/macros.jinja" import consul_service_absent with context %}
{%- set settings = mesos.master %}
{{ consul_service_absent('mesos-clean-consul-master', 'mesos-master') }}
{{ systemd_service_absent('mesos-clean-master', settings.service.name, settings.service.unit,
    [{'file': 'mesos-clean-consul-master-file-absent'},
     {'module': 'mesos-clean-consul-master-module-run-service-reload'}]) }}

mesos-clean-master-file-absent-environment:
  file.absent:
    - name: {{ settings.environment_file }}
    - require:
      - service: mesos-clean-master-service-dead
{%- for name in ['zk_file', 'credentials_file'] %}

mesos-clean-master-file-absent-{{ name | replace('_', '-') }}:
  file.absent:
    - name: {{ settings.security[name] }}
    - require:
      - service: mesos-clean-master-service-dead
{%- endfor %}
{%- if mesos.clean.remove_data %}

mesos-clean-master-file-absent-work-dir:
  file.absent:
    - name: {{ settings.work_dir }}
    - require:
      - service: mesos-clean-master-service-dead
{%- endif %}
