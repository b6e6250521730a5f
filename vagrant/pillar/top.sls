# The pillar of the Vagrant VMs (Vagrantfile): this directory, then the shape's own
# (vagrant/<shape>/pillar: its datacenter file), then the VM's secrets
# (/etc/salt-platform/secrets, made on the VM by scripts/secrets init), then the VM's own
# overrides, if any (/etc/salt-platform/pillar/local.sls: e.g. an offline VM's mirror for
# Consul, the registrator's wheel and images). Each file is in one of the four only; a
# later file's keys win.
base:
  '*':
    - site
    - secrets
    - datacenters.dc1
    - local
    - ignore_missing: True
