"""Which WAN peers the consul_cluster.wan_joined state still has to join."""

import importlib.util
from pathlib import Path

import pytest

MODULE_PATH = Path(__file__).resolve().parents[2] / "_states" / "consul_cluster.py"
_spec = importlib.util.spec_from_file_location("consul_cluster_state", MODULE_PATH)
consul_cluster_state = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(consul_cluster_state)


def member(address: str, port: int = 8302, status: str = "alive") -> dict:
    return {
        "name": "node.dc",
        "address": address,
        "port": port,
        "datacenter": "dc",
        "status": status,
    }


@pytest.mark.parametrize(
    ("peer", "endpoint"),
    [
        ("10.0.2.11", ("10.0.2.11", 8302)),
        ("10.0.2.11:18302", ("10.0.2.11", 18302)),
        ("[2001:db8::11]:18302", ("2001:db8::11", 18302)),
        ("2001:db8::11", ("2001:db8::11", 8302)),
    ],
)
def test_peer_without_port_means_the_serf_wan_port(peer, endpoint):
    assert consul_cluster_state._endpoint(peer) == endpoint


def test_only_peers_outside_the_pool_are_missing():
    members = [member("10.0.1.11"), member("10.0.2.11")]

    missing = consul_cluster_state._missing_peers(["10.0.2.11", "10.0.3.11"], members)

    assert missing == ["10.0.3.11"]


def test_same_address_on_another_port_is_another_peer():
    members = [member("127.0.0.1", 18302)]

    missing = consul_cluster_state._missing_peers(["127.0.0.1:18302", "127.0.0.1:28302"], members)

    assert missing == ["127.0.0.1:28302"]


def test_failed_peer_is_left_to_consul_and_left_peer_is_joined_again():
    # Serf reconnects failed members by itself; a member that left needs a new join.
    members = [member("10.0.2.11", status="failed"), member("10.0.3.11", status="left")]

    missing = consul_cluster_state._missing_peers(["10.0.2.11", "10.0.3.11"], members)

    assert missing == ["10.0.3.11"]


def test_repeated_peers_are_joined_once_in_given_order():
    missing = consul_cluster_state._missing_peers(["10.0.3.11", "10.0.2.11", "10.0.3.11"], [])

    assert missing == ["10.0.3.11", "10.0.2.11"]


def test_a_refusing_peer_is_tried_again_until_it_answers(monkeypatch):
    # Datacenters converging at the same time: the peer's server comes up a little later.
    refusals = iter([True, True, False])
    calls = []

    def fake_salt(function, *args, **kwargs):
        if function == "wan_members":
            return []
        calls.append(args[0])
        if next(refusals):
            raise consul_cluster_state.SaltException(f"WAN join of {args[0]} failed: refused")
        return True

    monkeypatch.setattr(consul_cluster_state, "_salt", fake_salt)
    monkeypatch.setattr(consul_cluster_state, "_testing", lambda: False)

    ret = consul_cluster_state.wan_joined("wan", ["10.0.2.11"], timeout=5, interval=0.01)

    assert ret["result"] is True, ret
    assert ret["changes"] == {"joined": ["10.0.2.11"]}
    assert calls == ["10.0.2.11"] * 3


def test_a_peer_that_never_answers_fails_after_the_timeout(monkeypatch):
    def fake_salt(function, *args, **kwargs):
        if function == "wan_members":
            return []
        raise consul_cluster_state.SaltException(f"WAN join of {args[0]} failed: refused")

    monkeypatch.setattr(consul_cluster_state, "_salt", fake_salt)
    monkeypatch.setattr(consul_cluster_state, "_testing", lambda: False)

    ret = consul_cluster_state.wan_joined("wan", ["10.0.2.11"], timeout=0.2, interval=0.05)

    assert ret["result"] is False
    assert ret["changes"] == {}
    assert "WAN join of 10.0.2.11 failed" in ret["comment"]
