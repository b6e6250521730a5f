{#- The hosts' package sources, from pillar `pkgsources`: the OS's archives on the site's
    mirror (Debian's with its security archive, or the RedHat family's repositories), the
    OS's default sources moved aside on request, the site's other repositories, and one index
    refresh when any of them changed. First in the top file, so that every later formula
    installs from them. An absent or empty pillar block renders nothing: a site keeps its own
    sources. #}
include:
  - .os
  - .repos
  - .refresh
