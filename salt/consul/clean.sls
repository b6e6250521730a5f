{#- Undoes the formula in reverse: certificate check, ACLs, service, backups, configuration,
    then binary and account. #}
include:
  - .certificate.clean
  - .acl.clean
  - .service.clean
  - .backup.clean
  - .config.clean
  - .install.clean
