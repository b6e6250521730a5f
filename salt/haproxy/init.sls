{#- HAProxy on an edge host: the Consul services of pillar haproxy:services served to the
    outside, each instance found through the local Consul agent's DNS (SRV records), a stats
    page behind authentication, and the Consul service `edge`. #}
include:
  - .install
  - .config
  - .service
  - .consul
