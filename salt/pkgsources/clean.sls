{#- Undoes the formula in reverse: the site's other repositories go, the OS's own sources come
    back before the mirror's go, then the package index is refreshed. #}
include:
  - .repos.clean
  - .os.clean
  - .refresh.clean
