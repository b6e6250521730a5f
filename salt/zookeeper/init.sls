{#- A ZooKeeper ensemble member on a control node: the software, zoo.cfg with the id and the
    server lines of the quorum module, the service with its rolling restart and health gate,
    the timer that saves its data, and the Consul service `zookeeper`. #}
include:
  - .install
  - .config
  - .service
  - .backup
  - .consul
