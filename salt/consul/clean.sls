{#- Undoes the formula in reverse: service, backups, configuration, then binary and account. #}
include:
  - .acl.clean
  - .service.clean
  - .backup.clean
  - .config.clean
  - .install.clean
