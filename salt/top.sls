{#- The plan is checked before anything else: a bad datacenter pillar or a host's bad grains
    fail the render with the key and the fix, and no state runs. #}
{%- do salt['quorum.validate']() %}
base:
  # Every host: its package sources first (pillar pkgsources; nothing without it), so that
  # every later state installs from them (states run in the order of this file); then
  # *.consul through the local dnsmasq, and a Consul agent (server on the control nodes listed
  # in pillar datacenters:<dc>:control_nodes, client elsewhere).
  '*':
    - pkgsources
    - dns
    - consul
  # Control nodes: the ZooKeeper ensemble, then the Mesos masters, then Marathon (each
  # requires the one before). A host with both roles gets both lists.
  'G@roles:control':
    - match: compound
    - zookeeper
    - mesos.master
    - marathon
  # A former control node: taken out of pillar datacenters:<dc>:control_nodes and of the
  # control role, it still has a zoo.cfg. Marathon and the Mesos master stop; its ZooKeeper
  # member leaves the ensemble once the members that stay run without it (its Consul agent
  # has left the raft peers in consul above, and runs on as a client).
  'not G@roles:control and not G@zookeeper_security_stage:None':
    - match: compound
    - marathon.clean
    - mesos.master.clean
    - zookeeper.clean
  # Compute nodes: the Docker engine, the registrator that puts its containers into Consul,
  # and the Mesos agent (it needs the masters' zk:// URL, not the masters themselves).
  'G@roles:compute':
    - match: compound
    - docker
    - registrator
    - mesos.agent
  # Edge hosts: HAProxy serving the Consul services of pillar haproxy:services to the outside,
  # their instances found through the local agent's DNS (SRV records).
  'G@roles:edge':
    - match: compound
    - haproxy
