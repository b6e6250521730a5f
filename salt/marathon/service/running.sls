{#- The marathon unit and service, after the Mesos master. A changed flag restarts a running
    Marathon under the datacenter's Consul lock, one at a time, each waiting until the
    restarted one answers /ping (at the secure stage, where every path of Marathon's HTTP API
    asks for it, with the login of secrets:marathon:http, which the probe reads from pillar on
    the host). With install method none and no launcher, the service is defined and left
    stopped. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_config_file = tplroot ~ '.config.file' %}
{%- from tplroot ~ "/map.jinja" import marathon with context %}
{%- from "platform/systemd.jinja" import systemd_service with context %}
{%- set plan = salt['quorum.plan']() %}
{%- set binary = marathon.install[marathon.install.method].bin %}
{%- set ping = {'url': 'http://' ~ plan.host.address ~ ':' ~ marathon.http_port ~ '/ping'} %}
{%- if 'secure' in plan.security.stages_reached %}
{%-   do ping.update({'credentials_pillar': 'secrets:marathon:http'}) %}
{%- endif %}

include:
  - mesos.master
  - {{ sls_config_file }}
{#- SuccessExitStatus: a JVM stopped by SIGTERM exits with 143. #}
{{ systemd_service('marathon-service-running', {
    'name': marathon.service.name,
    'unit_path': marathon.service.unit,
    'unit': {
      'formula': 'marathon',
      'description': 'Marathon, the Mesos framework for long-running services',
      'documentation': 'https://mesosphere.github.io/marathon/docs/command-line-flags.html',
      'wants': ['mesos-master.service'],
      'user': marathon.service.user,
      'group': marathon.service.group,
      'environment_file': marathon.environment_file,
      'exec_start': binary,
      'limit_nofile': marathon.service.limit_nofile,
      'service_options': {'SuccessExitStatus': 143},
    },
    'binary_optional': marathon.install.method == 'none',
    'binary': binary,
    'restart_on': [sls_config_file],
    'require': [{'sls': 'mesos.service.master'}],
    'health': {
      'function': 'http_probe.ok',
      'kwargs': ping,
      'timeout': marathon.health.timeout,
    },
    'lock': marathon.rolling_restart.lock.format(datacenter=plan.datacenter),
    'lock_timeout': marathon.rolling_restart.lock_timeout,
  }) }}
