{#- Every host resolves *.consul through its local Consul agent and every other name as before:
    a dnsmasq on 127.0.0.1 forwards the Consul domain to the agent's DNS port and the rest to
    the host's original nameservers, and /etc/resolv.conf points at it. #}
include:
  - .config
  - .package
  - .service
  - .resolver
