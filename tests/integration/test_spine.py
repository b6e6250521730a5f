"""The spine on the running lab: Consul in every datacenter, joined over WAN, DNS on every host,
convergence that is idempotent, and a dc1 that survives the loss of one control node."""

import json

import pytest
import yaml

from lab.inventory import ROSTER
from lab.probes import Probes


@pytest.mark.parametrize("datacenter", ["dc1", "dc2"])
def test_each_datacenter_has_one_leader(lab, datacenter):
    leaders = {lab.leader_of(host) for host in lab.hosts_with("control", datacenter)}
    assert len(leaders) == 1, f"{datacenter} servers disagree on the leader: {leaders}"
    (leader,) = leaders
    addresses = {f"{host.address}:8300" for host in lab.hosts_with("control", datacenter)}
    assert leader in addresses


def test_dc1_reports_three_raft_peers(lab):
    expected = sorted(f"{host.address}:8300" for host in lab.hosts_with("control", "dc1"))
    assert len(expected) == 3
    for host in lab.hosts_with("control", "dc1"):
        assert sorted(lab.consul(host, "status/peers")) == expected


def test_every_server_sees_both_datacenters(lab):
    for host in lab.hosts_with("control"):
        assert lab.consul(host, "catalog/datacenters") and set(
            lab.consul(host, "catalog/datacenters")
        ) == {"dc1", "dc2"}, host.name


def test_every_host_is_a_live_member_of_its_datacenter(lab):
    for datacenter in ("dc1", "dc2"):
        expected = {host.name for host in lab.hosts if host.datacenter == datacenter}
        members = lab.consul(lab.hosts_with("control", datacenter)[0], "agent/members")
        alive = {member["Name"] for member in members if member["Status"] == 1}
        assert alive == expected


def test_compute_host_resolves_consul_names_of_another_datacenter(lab):
    (compute,) = lab.hosts_with("compute", "dc1")
    code, output = lab.run(compute, "getent", "hosts", "consul.service.dc2.consul")
    assert code == 0, output
    dc2_server = lab.hosts_with("control", "dc2")[0]
    assert output.split()[0] == dc2_server.address


def test_compute_host_still_resolves_ordinary_names(lab):
    """Names outside .consul go to the resolver the host had before (the engine's DNS)."""
    (compute,) = lab.hosts_with("compute", "dc1")
    other = lab.hosts_with("control", "dc1")[1]
    code, output = lab.run(compute, "getent", "hosts", other.name)
    assert code == 0, output
    assert output.split()[0] == other.address
    code, resolv = lab.run(compute, "cat", "/etc/resolv.conf")
    assert "nameserver 127.0.0.1" in resolv


def test_gossip_key_is_not_in_the_main_config_or_the_highstate_output(lab):
    host = lab.hosts_with("control", "dc1")[0]
    code, config = lab.run(host, "cat", "/etc/consul.d/consul.json")
    assert code == 0
    assert "encrypt" not in json.loads(config)
    code, mode = lab.run(host, "stat", "-c", "%a %U:%G", "/etc/consul.d/encrypt.json")
    assert mode.strip() == "640 root:consul"


def test_second_highstate_changes_nothing(lab):
    results = lab.highstate()
    assert set(results) == {host.name for host in lab.hosts}
    for name, result in results.items():
        assert result.ok, (name, result.failed, result.error)
        assert result.changed == [], (name, result.changed)


def test_highstate_in_test_mode_reports_nothing_to_change(lab):
    results = lab.highstate(test=True)
    assert set(results) == {host.name for host in lab.hosts}
    for name, result in results.items():
        assert result.ok, (name, result.failed, result.error)
        assert result.changed == [], (name, result.changed)
        # A dry run reports only what would change: no "would be changed" (result None).
        assert result.pending == [], (name, result.pending)


def test_roster_edit_takes_effect_at_the_next_run(lab, tmp_path):
    """A host's grains come from the roster afresh on every run, not from a cache."""
    host = lab.hosts_with("compute")[0]
    roster = yaml.safe_load(ROSTER.read_text())
    assert roster[host.name]["minion_opts"]["grains"]["roles"] == ["compute"]
    assert lab.grain(host, "roles") == ["compute"], "the lab's own roster first"
    roster[host.name]["minion_opts"]["grains"]["roles"] = ["compute", "control"]
    edited = tmp_path / "roster"
    edited.write_text(yaml.safe_dump(roster))
    assert lab.grain(host, "roles", roster=edited) == ["compute", "control"]
    # The plan check sees the edit too: a control role without a place in the pillar.
    results = lab.highstate(host.name, test=True, roster=str(edited))
    assert "has role control" in results[host.name].error, results[host.name]


def test_dc1_survives_loss_of_one_control_node(lab):
    dc1 = lab.hosts_with("control", "dc1")
    leader = lab.leader_of(dc1[0])
    # Stop the leader itself: the hardest case for the remaining two.
    victim = next(host for host in dc1 if leader.startswith(f"{host.address}:"))
    survivors = [host for host in dc1 if host is not victim]

    def leader_other_than_victim():
        found = lab.leader_of(survivors[0])
        return found if found != leader else ""

    # A compute host resolves a name every 0.1 s and writes every second meanwhile: what
    # the loss of the leader costs is printed (bench/failover.py times it).
    probes = Probes(lab.hosts_with("compute", "dc1")[0].name)
    try:
        with probes:
            lab.stop(victim)
            new_leader = lab.wait_for(
                "a new dc1 leader among the survivors", leader_other_than_victim, timeout=60
            )
        print(probes.counts.line(), probes.counts.first_failure)
        assert new_leader in {f"{host.address}:8300" for host in survivors}
        status, _ = lab.http(survivors[1], "/v1/kv/lab/survival", method="PUT", data="still-here")
        assert status == 200
        status, body = lab.http(survivors[0], "/v1/kv/lab/survival?raw")
        assert (status, body) == (200, "still-here")
    finally:
        lab.start(victim)
    # The host boots, its agent starts by itself and it is a raft peer again.
    expected = sorted(f"{host.address}:8300" for host in dc1)
    lab.wait_for(
        f"{victim.name} back as a raft peer",
        lambda: sorted(lab.consul(victim, "status/peers") or []) == expected
        and lab.leader_of(victim),
        timeout=120,
    )
    lab.http(survivors[0], "/v1/kv/lab/survival", method="DELETE")


def test_every_server_saves_a_snapshot_consul_can_read(lab):
    for host in lab.hosts_with("control"):
        code, timer = lab.run(host, "systemctl", "is-enabled", "consul-snapshot.timer")
        assert (code, timer.strip()) == (0, "enabled"), (host.name, timer)
        code, output = lab.run(host, "systemctl", "start", "consul-snapshot.service", timeout=120)
        assert code == 0, (host.name, output)
        code, newest = lab.run(host, "sh", "-c", "ls -t /var/backups/consul/consul-*.snap | head -1")
        assert code == 0 and newest.strip(), (host.name, newest)
        code, mode = lab.run(host, "stat", "-c", "%a %U", newest.strip())
        assert mode.strip() == "600 root", (host.name, mode)
        code, inspected = lab.run(host, "consul", "snapshot", "inspect", newest.strip())
        assert code == 0 and "Index" in inspected, (host.name, inspected)
