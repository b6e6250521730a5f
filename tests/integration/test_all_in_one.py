"""The Vagrantfile's all-in-one VM as a lab host (lab/allinone.py): one host with both roles
in a one-node dc1, provisioned by vagrant/provision and converged by `salt-call --local
state.highstate` on the host itself, as Vagrant's salt provisioner runs it. The spine's
checks on it: a leader, DNS, a container in DNS, a second run that changes nothing.

The module's fixture makes the host (or reuses it) and converges it twice: a few minutes.
"""

import os

import pytest

from lab import allinone
from lab.naming import DEFAULT_SUBNET_PREFIX
from tests.integration.test_service_discovery import TEST_LABEL, running, srv, suffix


def say(message: str) -> None:
    print(f"[all-in-one] {message}", flush=True)


@pytest.fixture(scope="module")
def record():
    prefix = os.environ.get("LAB_SUBNET_PREFIX", DEFAULT_SUBNET_PREFIX)
    return allinone.up(prefix, say)


@pytest.fixture(scope="module")
def host(record):
    """The host's container name, which the lab's commands take."""
    return record["container"]


def test_the_first_highstate_converges_every_state(record):
    first = record["runs"]["first"]
    assert first["error"] == "", first["error"]
    assert first["failed"] == [], first["failed"]
    assert first["states"] > 50 and first["changed"], first


def test_the_second_highstate_changes_nothing(record):
    second = record["runs"]["second"]
    assert second["error"] == "" and second["failed"] == [], second
    assert second["changed"] == [], second["changed"]
    print(f"second highstate: {second['states']} states, {second['seconds']:.1f} s of states")


def test_consul_is_its_own_leader_with_one_raft_peer(lab, record, host):
    address = f"{record['host']['address']}:8300"
    assert lab.wait_for(
        "a Consul leader", lambda: lab.consul(host, "status/leader", token="") == address,
        timeout=60,
    )
    assert lab.consul(host, "status/peers", token="") == [address]


def test_zookeeper_runs_standalone(lab, host):
    assert lab.wait_for("ZooKeeper serving", lambda: lab.zookeeper_mode(host), timeout=60) \
        == "standalone"


def test_consul_names_resolve_through_the_hosts_resolver(lab, record, host):
    code, output = lab.run(host, "getent", "hosts", "consul.service.consul")
    assert code == 0, output
    assert output.split()[0] == record["host"]["address"]


def test_a_container_on_the_host_is_in_dns(lab, record, host):
    name = f"aio-{suffix()}"
    code, output = lab.run(host, "systemctl", "is-active", "docker", "registrator")
    assert code == 0, output
    _, leftovers = lab.run(host, "docker", "ps", "-aq", "--filter", f"label={TEST_LABEL}")
    if leftovers.split():
        lab.run(host, "docker", "rm", "-f", *leftovers.split())
    with running(lab, host, name, "-p", "8080:80", "-e", f"SERVICE_NAME={name}"):
        lab.wait_for(
            f"{name}.service.consul from the host's resolver",
            lambda: srv(lab, host, f"{name}.service.consul")
            == [(record["host"]["address"], 8080)],
            timeout=30,
        )
