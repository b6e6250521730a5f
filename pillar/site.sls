# Site-wide settings and secrets; every host gets this file (pillar/top.sls). The formulas'
# pillar.example files (salt/<formula>/pillar.example) document every key. Everything below
# but the Marathon source is an example, commented out: the defaults suit a site with
# internet access.

# Marathon is archived upstream (last release 1.10.x) and has no default download: name its
# archive (URL and the sha256 you computed from the file) or a package, or keep `none` when
# the binaries come another way. Until then its unit and flags are written and it stays
# stopped.
marathon:
  install:
    method: none
    # method: archive
    # archive:
    #   source: https://mirror.example/marathon/marathon-1.10.x.tgz
    #   source_hash: sha256=<sha256sum of that file>

# The site's secrets (the Consul gossip key among them) are not here: `scripts/secrets init
# pillar` makes them once into pillar/secrets.sls, git-ignored (docs/secrets.md). A site that
# runs in the clear on purpose says so instead:
# security:
#   open: true

# consul:
#   # Consul 1.8.7 (the lab) instead of the default release.
#   version: '1.8.7'
#   install:
#     method: archive
#     archive:
#       # An offline site: a mirror laid out like releases.hashicorp.com/consul
#       # (<base_url>/<version>/consul_<version>_linux_<arch>.zip and
#       # <base_url>/<version>/consul_<version>_SHA256SUMS).
#       base_url: http://mirror.lab:8780/consul
#       # Or a literal URL and a hash you computed from the file itself:
#       # source: http://mirror.lab:8780/consul/consul_1.8.7_linux_amd64.zip
#       # source_hash: sha256=<sha256sum of that file>

# dns:
#   # Hosts whose /etc/resolv.conf is managed by something else: name the upstream
#   # nameservers instead of copying the host's.
#   upstream_nameservers:
#     - 10.0.0.2

# pkgsources:
#   # An offline Debian site: the hosts' archives on the site's mirror, their own sources
#   # moved aside (salt/pkgsources/pillar.example).
#   debian:
#     mirror: http://mirror.example:8080/debian
#     security:
#       mirror: http://mirror.example:8080/debian-security
#     replace_os_sources: true

# Under a salt-master: every minion runs the highstate at this interval, each at a random
# delay of up to `splay` seconds more, one run at a time (salt-ssh runs no schedule). The
# lab's: every 90 s with a splay of 15.
# schedule:
#   platform-highstate:
#     function: state.highstate
#     minutes: 30
#     splay: 300
#     maxrunning: 1
#     # Not at the minion's start: new minions wait for the orchestration (orch.site).
#     run_on_start: false
