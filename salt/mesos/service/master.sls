{#- The mesos-master unit and service, after ZooKeeper is serving. A changed flag restarts a
    running master under the datacenter's Consul lock, one master at a time, each waiting until
    the restarted one answers /health. With install method none and no binary, the service is
    defined and left stopped. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_config = tplroot ~ '.config.master' %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{%- from "platform/systemd.jinja" import systemd_service with context %}
{%- set plan = salt['quorum.plan']() %}
{%- set address = plan.host.address %}
{%- set binary = mesos.install[mesos.install.method].master_bin %}

include:
  - zookeeper
  - {{ sls_config }}
{{ systemd_service('mesos-service-master', {
    'name': mesos.master.service.name,
    'unit_path': mesos.master.service.unit,
    'unit': {
      'formula': 'mesos',
      'description': 'Apache Mesos master',
      'documentation': 'https://mesos.apache.org/documentation/latest/configuration/master/',
      'wants': [],
      'user': 'root',
      'group': 'root',
      'environment_file': mesos.master.environment_file,
      'exec_start': binary,
      'limit_nofile': mesos.master.service.limit_nofile,
      'service_options': {},
    },
    'binary_optional': mesos.install.method == 'none',
    'binary': binary,
    'restart_on': [sls_config],
    'require': [{'sls': 'zookeeper.service.running'}],
    'health': {
      'function': 'http_probe.ok',
      'kwargs': {'url': 'http://' ~ address ~ ':' ~ mesos.master.port ~ '/health'},
      'timeout': mesos.master.health.timeout,
    },
    'lock': mesos.master.rolling_restart.lock.format(datacenter=plan.datacenter),
    'lock_timeout': mesos.master.rolling_restart.lock_timeout,
  }) }}
