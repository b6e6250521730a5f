{#- A Docker engine on compute nodes: daemon.json from pillar, the engine running, the host's
    resolver answering containers on the bridge, images imported from tarballs for sites
    without a registry, and the engine's health as a Consul node check. #}
include:
  - .config
  - .package
  - .service
  - .resolver
  - .images
  - .health
