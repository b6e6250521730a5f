{#- Undoes the formula in reverse: the Consul service, the systemd service, the configuration,
    then the software and the account. The data directory goes only with
    zookeeper:clean:remove_data: true. #}
include:
  - .consul.clean
  - .service.clean
  - .config.clean
  - .install.clean
