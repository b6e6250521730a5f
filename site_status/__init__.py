"""The platform's status across datacenters: every host's ``platform.status`` (salt-ssh) folded
into one table per datacenter, or JSON (``scripts/status``)."""
