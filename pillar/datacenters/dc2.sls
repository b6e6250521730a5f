# Datacenter dc2 (inventory/2-datacenter): one control node, so no fault tolerance.
datacenters:
  dc2:
    control_nodes:
      - id: dc2-control-1
        address: 10.0.2.11
        wan_address: 10.0.0.21
