{#- The mesos-agent unit and service. A changed flag restarts the agent (KillMode=process:
    the executors and their tasks survive and the agent recovers them); agents are not a
    quorum, so no lock. With install method none and no binary, the service is defined and
    left stopped. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_config = tplroot ~ '.config.agent' %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{%- from "platform/systemd.jinja" import systemd_service with context %}
{%- set plan = salt['quorum.plan']() %}
{%- set address = mesos.agent.ip or plan.host.address %}
{%- set binary = mesos.install[mesos.install.method].agent_bin %}

include:
  - {{ sls_config }}
{{ systemd_service('mesos-service-agent', {
    'name': mesos.agent.service.name,
    'unit_path': mesos.agent.service.unit,
    'unit': {
      'formula': 'mesos',
      'description': 'Apache Mesos agent',
      'documentation': 'https://mesos.apache.org/documentation/latest/configuration/agent/',
      'wants': ['docker.service'],
      'user': 'root',
      'group': 'root',
      'environment_file': mesos.agent.environment_file,
      'exec_start': binary,
      'limit_nofile': mesos.agent.service.limit_nofile,
      'service_options': {'KillMode': 'process', 'Delegate': 'true'},
    },
    'binary_optional': mesos.install.method == 'none',
    'binary': binary,
    'restart_on': [sls_config],
    'require': [],
    'health': {
      'function': 'http_probe.ok',
      'kwargs': {
        'url': 'http://' ~ address ~ ':' ~ mesos.agent.port ~ '/health',
      },
      'timeout': mesos.agent.health.timeout,
    },
    'lock': '',
    'lock_timeout': 0,
  }) }}
