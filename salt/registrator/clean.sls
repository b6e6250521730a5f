{#- Undoes the formula in reverse: the service, its settings, code and venv. The OS's Python
    packages (docker, requests, venv) stay: other programs of the host may use them. #}
include:
  - .service.clean
  - .config.clean
  - .agent.clean
  - .venv.clean
