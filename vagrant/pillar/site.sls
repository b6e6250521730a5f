# Site-wide settings of the Vagrant VMs; every formula's pillar.example documents its keys.
# The defaults suit VMs with internet access (Consul from releases.hashicorp.com, Mesos from
# AVENTER's repository, the rest from Debian).

# Marathon is archived upstream and has no default download (pillar/site.sls): its unit and
# flags are written and it stays stopped.
marathon:
  install:
    method: none
