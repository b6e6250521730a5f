{#- A salt-minion of the operator's Salt version on a host, applied by salt-ssh
    (`salt-ssh HOST state.apply salt.minion`; salt/top.sls does not list it): its
    configuration (the master, the host's id and grains), its key pair made and accepted on
    the master's side (the master keeps auto_accept off), Salt installed (pip or the Salt
    project's package), and the service. Configuration and keys come first, so that a
    package that starts the minion at install starts it with them. #}
include:
  - .config
  - .pki
  - .install
  - .service
