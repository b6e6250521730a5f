# Every host sees the site settings and every datacenter's file: a host knows the control
# nodes of its own datacenter (Consul servers, ZooKeeper ensemble) and those of the others
# (Consul WAN peers). List exactly the datacenters of the roster in use: a one-datacenter
# site (inventory/1-datacenter) lists datacenters.dc1 only, or its servers would wait for
# WAN peers that do not exist.
base:
  '*':
    - site
    - datacenters.dc1
    - datacenters.dc2
