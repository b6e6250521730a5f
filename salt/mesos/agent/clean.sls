{#- Undoes the agent role (agent/init.sls) in reverse: the Consul service mesos-agent, the
    systemd service, then the flag file and the files of secrets (config/agent.sls). The work
    directory goes only with mesos:clean:remove_data: true. The package stays: the master may
    run on it too; mesos.install.clean removes it once both roles are stopped. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{%- from "platform/systemd.jinja" import systemd_service_absent with context %}
{%- from "consul/macros.jinja" import consul_service_absent with context %}
{%- set settings = mesos.agent %}
{{ consul_service_absent('mesos-clean-consul-agent', 'mesos-agent') }}
{{ systemd_service_absent('mesos-clean-agent', settings.service.name, settings.service.unit,
    [{'file': 'mesos-clean-consul-agent-file-absent'},
     {'module': 'mesos-clean-consul-agent-module-run-service-reload'}]) }}

mesos-clean-agent-file-absent-environment:
  file.absent:
    - name: {{ settings.environment_file }}
    - require:
      - service: mesos-clean-agent-service-dead
{%- for name in ['master_file', 'credential_file'] %}

mesos-clean-agent-file-absent-{{ name | replace('_', '-') }}:
  file.absent:
    - name: {{ settings.security[name] }}
    - require:
      - service: mesos-clean-agent-service-dead
{%- endfor %}
{%- if mesos.clean.remove_data %}

mesos-clean-agent-file-absent-work-dir:
  file.absent:
    - name: {{ settings.work_dir }}
    - require:
      - service: mesos-clean-agent-service-dead
{%- endif %}
