{#- Undoes the formula in reverse: the Consul service, the systemd service, the configuration,
    then the package. #}
include:
  - .consul.clean
  - .service.clean
  - .config.clean
  - .install.clean
