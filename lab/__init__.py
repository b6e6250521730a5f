"""The lab: real Debian hosts (systemd containers) on one machine, converged by salt-ssh."""
