{#- The zookeeper systemd unit and service. A change of the configuration restarts a running
    member only under the datacenter's Consul lock, one member at a time, each waiting until
    the restarted one serves again, and only once every other member of its new ensemble
    serves and the leader is among them (a member joining is up; one leaving has handed over
    its lead); the leader last, once the others run with the new ensemble. A stopped member
    is just started. The state is green only
    when the member answers `ruok` with imok and `srvr` with a mode (leader, follower or
    standalone) within zookeeper:health:timeout seconds; otherwise it fails with the journal. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_config_file = tplroot ~ '.config.file' %}
{%- from tplroot ~ "/map.jinja" import zookeeper with context %}
{%- from "platform/systemd.jinja" import systemd_service with context %}
{%- set plan = salt['quorum.plan']() %}
{%- set bin_dir = zookeeper.install[zookeeper.install.method].bin_dir %}
{%- set binary = bin_dir ~ '/zkServer.sh' %}
{%- set others = plan.members | map(attribute='address') | reject('equalto', plan.host.address)
      | list %}

include:
  - {{ sls_config_file }}
{#- SuccessExitStatus: a JVM stopped by SIGTERM exits with 143. #}
{{ systemd_service('zookeeper-service-running', {
    'name': zookeeper.service.name,
    'unit_path': zookeeper.service.unit,
    'unit': {
      'formula': 'zookeeper',
      'description': 'Apache ZooKeeper',
      'documentation': 'https://zookeeper.apache.org/doc/current/zookeeperAdmin.html',
      'wants': [],
      'user': zookeeper.user,
      'group': zookeeper.group,
      'environment_file': zookeeper.service.environment_file,
      'exec_start': binary ~ ' start-foreground ' ~ zookeeper.config_dir ~ '/zoo.cfg',
      'limit_nofile': zookeeper.service.limit_nofile,
      'service_options': {'SuccessExitStatus': 143},
    },
    'binary_optional': zookeeper.install.method == 'none',
    'binary': binary,
    'restart_on': [sls_config_file],
    'require': [],
    'health': {
      'function': 'zookeeper_probe.serving',
      'kwargs': {'port': plan.zookeeper_ports.client},
      'timeout': zookeeper.health.timeout,
    },
    'ready': {
      'function': 'zookeeper_probe.ensemble_ready',
      'kwargs': {'members': others, 'servers': plan.zookeeper_ensemble,
                 'port': plan.zookeeper_ports.client},
      'timeout': zookeeper.rolling_restart.ready_timeout,
    },
    'lock': zookeeper.rolling_restart.lock.format(datacenter=plan.datacenter),
    'lock_timeout': zookeeper.rolling_restart.lock_timeout,
  }) }}
