{#- Marathon on a control node: HA through ZooKeeper, scheduling on the datacenter's Mesos. #}
include:
  - .install
  - .config
  - .service
  - .consul
