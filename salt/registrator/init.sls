{#- The platform's registrator on compute nodes: every published port of a container becomes
    a service of the local Consul agent (files/registrator says the rules). #}
include:
  - .package
  - .venv
  - .agent
  - .config
  - .service
