"""consul_cluster module and states, loaded by Salt, against two real Consul datacenters."""

import time

import pytest
from pytestshellutils.utils.ports import get_unused_localhost_port
from salt.exceptions import CommandExecutionError

# Seconds for the WAN pool to show a joined datacenter in the catalog.
FEDERATION_TIMEOUT = 30


@pytest.fixture
def consul_cluster_module(loaders):
    assert "consul_cluster.leader" in loaders.modules, "the consul_cluster module did not load"
    return loaders.modules.consul_cluster


@pytest.fixture
def consul_cluster_states(loaders):
    return loaders.states.consul_cluster


def wait_for_datacenters(agent, expected: list[str]) -> list[str]:
    """The agent's known datacenters once they equal ``expected``, or the last seen."""
    deadline = time.monotonic() + FEDERATION_TIMEOUT
    seen = agent.datacenters()
    while seen != expected and time.monotonic() < deadline:
        time.sleep(0.5)
        seen = agent.datacenters()
    return seen


def test_servers_healthy_reports_autopilots_view_of_a_stable_server(
    consul_cluster_module, consul_dc1
):
    # Autopilot calls a server healthy once it has been stable for its stabilization time
    # (10 s by default): bounded wait.
    deadline = time.monotonic() + 60
    answer = consul_cluster_module.servers_healthy(url=consul_dc1.url)
    while not answer and time.monotonic() < deadline:
        time.sleep(1)
        answer = consul_cluster_module.servers_healthy(url=consul_dc1.url)

    assert answer.startswith(f"leader {consul_dc1.server_address}, 1 of 1 servers healthy"), answer


def test_servers_healthy_fails_naming_the_agent_that_does_not_answer(consul_cluster_module):
    unused_url = f"http://127.0.0.1:{get_unused_localhost_port()}"

    with pytest.raises(CommandExecutionError, match="reading autopilot's server health"):
        consul_cluster_module.servers_healthy(url=unused_url)


def test_module_reports_the_agents_raft_leader_and_peers(consul_cluster_module, consul_dc1):
    assert consul_cluster_module.leader(url=consul_dc1.url) == consul_dc1.server_address
    assert consul_cluster_module.wait_for_leader(timeout=10, url=consul_dc1.url) == (
        consul_dc1.server_address
    )
    assert consul_cluster_module.raft_peers(url=consul_dc1.url) == [consul_dc1.server_address]


def test_wan_joined_in_test_mode_reports_missing_peer_and_joins_nothing(
    consul_cluster_states, consul_dc1, consul_dc2
):
    ret = consul_cluster_states.wan_joined(
        name="consul-wan", peers=[consul_dc2.wan_address], url=consul_dc1.url, test=True
    )

    assert ret.result is None
    assert ret.changes == {"joined": [consul_dc2.wan_address]}
    assert consul_dc1.datacenters() == ["dc1"]


def test_wan_joined_joins_missing_peer_then_changes_nothing(
    consul_cluster_module, consul_cluster_states, consul_dc1, consul_dc2
):
    first = consul_cluster_states.wan_joined(
        name="consul-wan", peers=[consul_dc2.wan_address], url=consul_dc1.url
    )

    assert first.result is True
    assert first.changes == {"joined": [consul_dc2.wan_address]}
    assert wait_for_datacenters(consul_dc1, ["dc1", "dc2"]) == ["dc1", "dc2"]
    members = consul_cluster_module.wan_members(url=consul_dc1.url)
    assert {(member["datacenter"], member["status"]) for member in members} == {
        ("dc1", "alive"),
        ("dc2", "alive"),
    }

    second = consul_cluster_states.wan_joined(
        name="consul-wan", peers=[consul_dc2.wan_address], url=consul_dc1.url
    )

    assert second.result is True
    assert second.changes == {}


def test_leader_elected_is_green_with_a_leader(consul_cluster_states, consul_dc1):
    ret = consul_cluster_states.leader_elected(name="consul-leader", timeout=10, url=consul_dc1.url)

    assert ret.result is True
    assert consul_dc1.server_address in ret.comment


def test_leader_elected_in_test_mode_waits_for_nothing(consul_cluster_states):
    unused_url = f"http://127.0.0.1:{get_unused_localhost_port()}"

    ret = consul_cluster_states.leader_elected(name="consul-leader", url=unused_url, test=True)

    assert ret.result is None
    assert ret.changes == {}


def test_leader_elected_in_test_mode_is_green_when_a_leader_answers(
    consul_cluster_states, consul_dc1
):
    ret = consul_cluster_states.leader_elected(name="consul-leader", url=consul_dc1.url, test=True)

    assert ret.result is True
    assert consul_dc1.server_address in ret.comment


def test_wan_joined_in_test_mode_on_a_bare_host_would_join_every_peer(consul_cluster_states):
    unused_url = f"http://127.0.0.1:{get_unused_localhost_port()}"

    ret = consul_cluster_states.wan_joined(
        name="consul-wan", peers=["10.0.2.11", "10.0.3.11"], url=unused_url, test=True
    )

    assert ret.result is None
    assert ret.changes == {"joined": ["10.0.2.11", "10.0.3.11"]}
    assert "No Consul agent answers yet" in ret.comment


def test_leader_elected_fails_within_timeout_without_an_agent(consul_cluster_states):
    unused_url = f"http://127.0.0.1:{get_unused_localhost_port()}"
    started = time.monotonic()

    ret = consul_cluster_states.leader_elected(
        name="consul-leader", timeout=2, interval=0.5, url=unused_url
    )

    assert ret.result is False
    assert ret.changes == {}
    assert "no Consul leader within 2s" in ret.comment
    assert unused_url in ret.comment
    assert "Connection refused" in ret.comment
    assert time.monotonic() - started < 10


def test_wan_joined_fails_on_unreachable_peer_and_reports_the_peers_it_joined(
    consul_cluster_states, consul_dc1, consul_dc2
):
    unreachable = f"127.0.0.1:{get_unused_localhost_port()}"

    ret = consul_cluster_states.wan_joined(
        name="consul-wan", peers=[consul_dc2.wan_address, unreachable], url=consul_dc1.url,
        timeout=2, interval=0.5,
    )

    assert ret.result is False
    assert ret.changes == {"joined": [consul_dc2.wan_address]}
    assert f"WAN join of {unreachable} failed" in ret.comment
