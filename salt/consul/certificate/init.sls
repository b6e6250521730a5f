{#- The agent's certificate watched by Consul itself: a node check that turns warning weeks
    before the certificate expires. #}
include:
  - .check
