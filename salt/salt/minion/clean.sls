{#- Undoes salt.minion in reverse: the service, Salt, the minion's keys, its configuration.
    The master's side stays: delete the minion there with `salt-key -d ID`, and its private
    key with <master_pki_dir>/preseed/ID.pem. #}
include:
  - .service.clean
  - .install.clean
  - .pki.clean
  - .config.clean
