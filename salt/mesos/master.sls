{#- A Mesos master on a control node: HA through the datacenter's ZooKeeper ensemble. #}
include:
  - .install
  - .config.master
  - .service.master
  - .consul.master
