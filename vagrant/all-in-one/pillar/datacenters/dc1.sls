# Datacenter dc1 of the all-in-one VM (vagrant/all-in-one/roster): one control node, which
# is also the compute node. No fault tolerance: Consul bootstrap_expect 1, a standalone
# ZooKeeper.
datacenters:
  dc1:
    control_nodes:
      - id: dc1-control-1
        address: 192.168.56.11
