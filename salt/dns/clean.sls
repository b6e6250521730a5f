{#- Undoes the formula in reverse: the original resolv.conf comes back first, then dnsmasq
    stops and its configuration and package go. #}
include:
  - .resolver.clean
  - .service.clean
  - .config.clean
  - .package.clean
