{#- Consul's ACLs: the platform's policies and tokens, made by one server, and every host
    waiting for the tokens it uses (docs/security.md). #}
include:
  - .tokens
