{#- Undoes the formula in reverse: the health check and the resolver drop-in, the engine,
    its configuration and packages, the image tarballs. /var/lib/docker stays. #}
include:
  - .health.clean
  - .resolver.clean
  - .service.clean
  - .config.clean
  - .package.clean
  - .images.clean
