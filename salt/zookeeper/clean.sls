{#- Undoes the formula in reverse: the Consul service, the backup timer, the systemd service,
    the configuration, then the software and the account. The data directory and the backups
    go only with zookeeper:clean:remove_data: true. #}
include:
  - .consul.clean
  - .backup.clean
  - .service.clean
  - .config.clean
  - .install.clean
