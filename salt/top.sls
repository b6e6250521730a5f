{#- The plan is checked before anything else: a bad datacenter pillar or a host's bad grains
    fail the render with the key and the fix, and no state runs. #}
{%- do salt['quorum.validate']() %}
base:
  # Every host: *.consul through the local dnsmasq, and a Consul agent (server on the control
  # nodes listed in pillar datacenters:<dc>:control_nodes, client elsewhere).
  '*':
    - dns
    - consul
  # Control-plane formulas (zookeeper, mesos master, marathon) go under a target
  # 'G@roles:control' with `- match: compound`; compute formulas (docker, registrator) under
  # 'G@roles:compute'. A host with both roles gets both lists.
