# Datacenter dc1 (inventory/1-datacenter and inventory/2-datacenter): three control nodes, in
# a fixed order (position N is ZooKeeper id N). Example addresses, see the rosters.
datacenters:
  dc1:
    control_nodes:
      - id: dc1-control-1
        address: 10.0.1.11
        wan_address: 10.0.0.11
      - id: dc1-control-2
        address: 10.0.1.12
        wan_address: 10.0.0.12
      - id: dc1-control-3
        address: 10.0.1.13
        wan_address: 10.0.0.13
