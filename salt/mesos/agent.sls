{#- A Mesos agent on a compute node, registered with the datacenter's leading master. #}
include:
  - .install
  - .config.agent
  - .service.agent
  - .consul.agent
