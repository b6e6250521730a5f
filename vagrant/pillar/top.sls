# The pillar of the Vagrant VMs (Vagrantfile): this directory, then the shape's own
# (vagrant/<shape>/pillar: its datacenter file), then the VM's secrets
# (/etc/salt-platform/secrets, made on the VM by scripts/secrets init). Each file is in one
# of the three only.
base:
  '*':
    - site
    - secrets
    - datacenters.dc1
    - ignore_missing: True
