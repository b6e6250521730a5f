{#- Undoes the formula in reverse: service, configuration, then binary and account. #}
include:
  - .service.clean
  - .config.clean
  - .install.clean
