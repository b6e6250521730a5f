{#- Undoes the formula in reverse: the Consul service, the systemd service, the flag file, then
    the software. Marathon's state lives in ZooKeeper (/marathon) and stays. #}
include:
  - .consul.clean
  - .service.clean
  - .config.clean
  - .install.clean
