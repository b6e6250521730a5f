"""The states of a host taken out of its datacenter's control nodes: its Consul server leaves
the raft peers (consul_cluster.server_left) and its ZooKeeper member leaves the ensemble
(zookeeper_member.left), with their execution functions replaced by recorders. The real
programs do this on the lab: tests/integration/test_control_plane_resize.py."""

import importlib.util
from pathlib import Path

import pytest
from salt.exceptions import CommandExecutionError

REPO = Path(__file__).resolve().parents[2]


def load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


consul_states = load("_states/consul_cluster.py", "consul_cluster_states_leaving")
zookeeper_states = load("_states/zookeeper_member.py", "zookeeper_member_states")


class Calls(list):
    def record(self, name, answer=None):
        def call(*args, **kwargs):
            self.append(name)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return call


@pytest.fixture
def consul_host(tmp_path, monkeypatch):
    """A host whose agent runs as a server (``running``, ``server``) with raft data."""
    calls = Calls()
    (tmp_path / "raft").mkdir()
    host = {"running": True, "server": True}
    monkeypatch.setattr(consul_states, "__opts__", {"test": False}, raising=False)
    monkeypatch.setattr(consul_states, "__salt__", {
        "service.status": lambda name: host["running"],
        "consul_cluster.is_server": lambda url=None: host["server"],
        "consul_cluster.leave": calls.record("leave", "left the datacenter"),
        "service.stop": calls.record("stop", True),
        "file.remove": lambda path: calls.append(f"remove {Path(path).name}"),
    }, raising=False)
    return host, calls, tmp_path


def test_a_former_server_leaves_the_raft_peers_stops_and_drops_its_raft_data(consul_host):
    _, calls, data_dir = consul_host

    ret = consul_states.server_left("consul", str(data_dir))

    assert ret["result"] is True, ret
    assert calls == ["leave", "stop", "remove raft"]
    assert ret["changes"] == {"left": "the raft peers", "removed": str(data_dir / "raft")}


def test_a_stopped_former_server_only_drops_its_raft_data(consul_host):
    host, calls, data_dir = consul_host
    host["running"] = False

    ret = consul_states.server_left("consul", str(data_dir))

    assert calls == ["remove raft"]
    assert ret["changes"] == {"removed": str(data_dir / "raft")}


def test_a_host_without_raft_data_asks_its_agent_nothing(consul_host):
    _, calls, data_dir = consul_host
    (data_dir / "raft").rmdir()

    ret = consul_states.server_left("consul", str(data_dir))

    assert (ret["result"], ret["changes"], calls) == (True, {}, [])


def test_a_dry_run_says_what_would_leave_and_does_nothing(consul_host, monkeypatch):
    _, calls, data_dir = consul_host
    monkeypatch.setattr(consul_states, "__opts__", {"test": True}, raising=False)

    ret = consul_states.server_left("consul", str(data_dir))

    assert ret["result"] is None and calls == []
    assert "would leave the raft peers" in ret["comment"]


@pytest.fixture
def zookeeper_host(tmp_path, monkeypatch):
    """A member with id 4 (``mode``: its srvr mode; ``released``: what the others answer)."""
    calls = Calls()
    myid = tmp_path / "myid"
    myid.write_text("4\n")
    host = {"running": True, "mode": "follower", "released": "none of them runs with server.4"}

    def wait_healthy(function, **kwargs):
        calls.append(f"wait {function}")
        if not host["released"]:
            raise CommandExecutionError(f"{function} not healthy within 900s")
        return host["released"]

    monkeypatch.setattr(zookeeper_states, "__opts__", {"test": False}, raising=False)
    monkeypatch.setattr(zookeeper_states, "__salt__", {
        "service.status": lambda name: host["running"],
        "zookeeper_probe.serving": lambda port: host["mode"],
        "rolling_restart.restart": calls.record("restart", {"lock": "lock"}),
        "rolling_restart.wait_healthy": wait_healthy,
        "service.stop": calls.record("stop", True),
    }, raising=False)
    return host, calls, myid


def leave(myid):
    return zookeeper_states.left(
        "zookeeper", str(myid), ["10.0.1.11", "10.0.1.12", "10.0.1.13"],
        "platform/locks/dc1/zookeeper",
    )


def test_a_leaving_follower_waits_until_released_then_stops(zookeeper_host):
    _, calls, myid = zookeeper_host

    ret = leave(myid)

    assert ret["result"] is True, ret
    assert calls == ["wait zookeeper_probe.released", "stop"]
    assert ret["changes"] == {"left": "server.4"}


def test_a_leaving_leader_hands_its_lead_over_first(zookeeper_host):
    host, calls, myid = zookeeper_host
    host["mode"] = "leader"

    ret = leave(myid)

    assert calls == ["restart", "wait zookeeper_probe.released", "stop"]
    assert "handed its lead over" in ret["comment"]


def test_a_member_still_listed_when_the_time_is_up_keeps_running_and_fails(zookeeper_host):
    host, calls, myid = zookeeper_host
    host["released"] = ""

    ret = leave(myid)

    assert ret["result"] is False and ret["changes"] == {}
    assert "stop" not in calls
    assert "not healthy within 900s" in ret["comment"]


def test_a_stopped_member_has_nothing_to_leave(zookeeper_host):
    host, calls, myid = zookeeper_host
    host["running"] = False

    ret = leave(myid)

    assert (ret["result"], ret["changes"], calls) == (True, {}, [])


def test_a_dry_run_of_a_leaving_member_changes_nothing(zookeeper_host, monkeypatch):
    _, calls, myid = zookeeper_host
    monkeypatch.setattr(zookeeper_states, "__opts__", {"test": True}, raising=False)

    ret = leave(myid)

    assert ret["result"] is None and calls == []
    assert ret["changes"] == {"left": "server.4"}
