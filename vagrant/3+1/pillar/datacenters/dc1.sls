# Datacenter dc1 of the 3+1 VMs (vagrant/3+1/roster), the lab's dc1: three control nodes,
# in a fixed order (position N is ZooKeeper id N).
datacenters:
  dc1:
    control_nodes:
      - id: dc1-control-1
        address: 192.168.56.11
      - id: dc1-control-2
        address: 192.168.56.12
      - id: dc1-control-3
        address: 192.168.56.13
