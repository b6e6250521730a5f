# Every host sees the site settings and every datacenter's file: a host knows the control
# nodes of its own datacenter (Consul servers, ZooKeeper ensemble) and those of the others
# (Consul WAN peers). List exactly the datacenters of the roster in use: a one-datacenter
# site (inventory/1-datacenter) lists datacenters.dc1 only, or its servers would wait for
# WAN peers that do not exist.
#
# `secrets` is the site's secrets (gossip key, CA certificate, tokens, credentials), made by
# `scripts/secrets init pillar` into pillar/secrets.sls (git-ignored; docs/secrets.md). Until
# it exists the render fails, naming that command.
base:
  '*':
    - site
    - secrets
    - datacenters.dc1
    - datacenters.dc2
    - ignore_missing: True
