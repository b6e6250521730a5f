"""dc1's control plane grown from 3 to 5 nodes and shrunk back to 3, one node at a time, the
way an operator does it: a pillar edit and a highstate (`scripts/lab add dc1 control` lists a
new host in pillar datacenters:dc1:control_nodes and converges the lab; `scripts/lab remove
dc1 control` takes the last one out of the list and of the control role, converges, then
removes the host).

Probes run on a compute host throughout (lab/probes.py): a name every 0.1 s, a KV write every
second, a container registered every few seconds, a ZooKeeper write every second. Nothing
restarts a Consul server on the way (whom an agent joins is in join.json, which restarts
nothing; a leaving server leaves the raft peers gracefully), ZooKeeper's members take each new
list one at a time once the others serve, and a leaving member hands its lead over before the
others drop it: no probe may fail.
"""

import pytest

from lab import artifacts
from lab.__main__ import add, remove, saved_layout
from lab.probes import Probes

from .conftest import Lab
from .test_mesos_marathon import environment, flag_value, zk_url

# The steps: the command and the number of dc1 control nodes after it.
STEPS = (("add", 4), ("add", 5), ("remove", 4), ("remove", 3))
DATACENTER = "dc1"
# Seconds the raft peers and the ZooKeeper modes may take to settle after a step (autopilot
# promotes a new server after its stabilization time, 10 s).
SETTLE_TIMEOUT = 120


def server_lines(lab: Lab, host) -> list[str]:
    code, output = lab.run(host, "cat", "/etc/zookeeper/conf/zoo.cfg")
    assert code == 0, f"{host.name}: {output}"
    return [line for line in output.splitlines() if line.startswith("server.")]


def running_members(lab: Lab, host) -> list[str]:
    """The server lines of the ensemble the member runs with (ZooKeeper's `conf`)."""
    _, output = lab.four_letter_word(host, "conf")
    return sorted(
        line.removesuffix(":participant") for line in output.splitlines()
        if line.startswith("server.")
    )


def observe(lab: Lab) -> dict:
    """What the hosts of dc1 run once a step has settled, and what the pillar asks for."""
    controls = lab.hosts_with("control", DATACENTER)
    expected_peers = sorted(f"{host.address}:8300" for host in controls)
    lab.wait_for(
        "every dc1 server a raft peer, and no other",
        lambda: all(sorted(lab.consul(host, "status/peers") or []) == expected_peers
                    for host in controls),
        timeout=SETTLE_TIMEOUT,
    )
    lab.wait_for(
        "every ZooKeeper member serving, one of them the leader",
        lambda: sorted(lab.zookeeper_mode(host) for host in controls)
        == ["follower"] * (len(controls) - 1) + ["leader"],
        timeout=SETTLE_TIMEOUT,
    )
    lines = [f"server.{number}={host.address}:2888:3888"
             for number, host in enumerate(controls, start=1)]
    masters = {
        host.name: environment(lab, host, "/etc/default/mesos-master") for host in controls
    }
    return {
        "controls": [host.name for host in controls],
        "expected_lines": lines,
        "zoo_cfg": {host.name: server_lines(lab, host) for host in controls},
        "running": {host.name: running_members(lab, host) for host in controls},
        "majority": len(controls) // 2 + 1,
        "quorum": {name: variables["MESOS_QUORUM"] for name, variables in masters.items()},
        "expected_url": zk_url(lab, DATACENTER, "/mesos", "mesos"),
        "master_urls": {
            host.name: flag_value(lab, host, masters[host.name]["MESOS_ZK"])
            for host in controls
        },
        "agent_urls": {
            host.name: flag_value(
                lab, host, environment(lab, host, "/etc/default/mesos-agent")["MESOS_MASTER"]
            )
            for host in lab.hosts_with("compute", DATACENTER)
        },
        "expected_marathon_url": zk_url(lab, DATACENTER, "/marathon", "marathon"),
        "marathon_urls": {
            host.name: (variables["MARATHON_MASTER"], variables["MARATHON_ZK"])
            for host in controls
            if (variables := environment(lab, host, "/etc/default/marathon"))
        },
        "members": {
            member["Name"]: member["Status"]
            for member in lab.consul(controls[0], "agent/members") or []
        },
    }


@pytest.fixture(scope="module")
def resize(lab):
    """The four steps under probes, then a highstate that should change nothing; the lab is
    left with three dc1 control nodes whatever happens."""
    start = len(lab.hosts_with("control", DATACENTER))
    assert start == 3, f"the lab's dc1 has {start} control nodes, not 3"
    prober = lab.hosts_with("compute", DATACENTER)[0]
    ensemble = ",".join(f"{host.address}:2181" for host in lab.hosts_with("control", DATACENTER))
    steps = []
    try:
        with Probes(prober.name, image=artifacts.TEST_IMAGE, zookeeper=ensemble) as probes:
            for command, size in STEPS:
                code = (add if command == "add" else remove)(DATACENTER, "control")
                step_lab = Lab(saved_layout())
                steps.append({
                    "step": f"{command} -> {size}", "code": code, "size": size,
                    "observed": observe(step_lab) if code == 0 else None,
                })
                if code != 0:
                    break
            again = Lab(saved_layout()).highstate()
        yield {"steps": steps, "probes": probes.counts, "again": again}
    finally:
        while len(Lab(saved_layout()).hosts_with("control", DATACENTER)) > start:
            if remove(DATACENTER, "control") != 0:
                break


def test_every_step_converges_the_lab_with_no_failed_state(resize):
    assert [(step["step"], step["code"]) for step in resize["steps"]] == [
        (f"{command} -> {size}", 0) for command, size in STEPS
    ]


def test_no_probe_fails_while_the_control_plane_grows_and_shrinks(resize):
    counts = resize["probes"]
    print(counts.line())
    assert counts.dns_ok > 0 and counts.kv_ok > 0 and counts.zookeeper_ok > 0, counts
    assert counts.registration_ok > 0, counts
    failed = (counts.dns_failed, counts.kv_failed, counts.registration_failed,
              counts.zookeeper_failed)
    assert failed == (0, 0, 0, 0), counts.first_failure


def test_raft_peers_follow_the_pillar_at_every_step(resize):
    # observe() waited until every server's raft peers were exactly the pillar's.
    for step in resize["steps"]:
        assert len(step["observed"]["controls"]) == step["size"], step["step"]


def test_zookeeper_server_lines_and_running_ensembles_follow_the_pillar(resize):
    for step in resize["steps"]:
        observed = step["observed"]
        expected = observed["expected_lines"]
        for name in observed["controls"]:
            assert observed["zoo_cfg"][name] == expected, (step["step"], name)
            assert observed["running"][name] == sorted(expected), (step["step"], name)


def test_mesos_quorum_and_every_zk_url_follow_the_pillar(resize):
    for step in resize["steps"]:
        observed = step["observed"]
        assert set(observed["quorum"].values()) == {str(observed["majority"])}, step["step"]
        for name, url in {**observed["master_urls"], **observed["agent_urls"]}.items():
            assert url == observed["expected_url"], (step["step"], name)
        for name, urls in observed["marathon_urls"].items():
            assert urls == (observed["expected_url"], observed["expected_marathon_url"]), (
                step["step"], name,
            )


def test_a_removed_control_node_left_consul_and_is_no_server(resize):
    # Serf status 3 is "left": the node said goodbye rather than failing.
    shrunk = {step["step"]: step["observed"] for step in resize["steps"]}
    assert shrunk["remove -> 4"]["members"].get("dc1-control-5") == 3
    assert shrunk["remove -> 3"]["members"].get("dc1-control-4") == 3


def test_a_highstate_after_the_last_step_changes_nothing(resize):
    again = resize["again"]
    assert again and all(result.ok for result in again.values()), again
    changed = {name: result.changed for name, result in again.items() if result.changed}
    assert changed == {}
