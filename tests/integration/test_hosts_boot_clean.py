"""Every lab host, of every Debian release in the shape, boots clean: with the platform the
highstate installed, systemd finishes starting with no failed unit.

A unit that fails only on one release (trixie's systemd-modules-load without libkmod) shows
here as that host's failed unit, named with its release.
"""

# systemctl is-system-running --wait returns once start-up has finished; bounded, as a host
# stopped and started by another test may still be booting.
BOOT_TIMEOUT = 120


def test_every_host_boots_with_no_failed_unit(lab):
    unclean = {}
    for host in lab.hosts:
        _, state = lab.run(
            host, "systemctl", "is-system-running", "--wait", timeout=BOOT_TIMEOUT
        )
        _, failed_units = lab.run(host, "systemctl", "--failed", "--no-legend", "--plain")
        if state.strip() != "running" or failed_units.strip():
            unclean[f"{host.name} ({host.release})"] = (
                f"{state.strip()}: {failed_units.strip() or 'no failed unit listed'}"
            )
    assert not unclean, f"hosts not booted clean: {unclean}"
