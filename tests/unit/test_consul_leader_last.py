"""The leader restarts last: which servers have not restarted since a change, by autopilot's
StableSince, as the consul_cluster module reads it."""

import importlib.util
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

MODULE_PATH = Path(__file__).resolve().parents[2] / "_modules" / "consul_cluster.py"
_spec = importlib.util.spec_from_file_location("consul_cluster_module", MODULE_PATH)
consul_cluster = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(consul_cluster)
STATES_PATH = MODULE_PATH.parents[1] / "_states" / "consul_cluster.py"
_states_spec = importlib.util.spec_from_file_location("consul_cluster_states", STATES_PATH)
consul_cluster_states = importlib.util.module_from_spec(_states_spec)
_states_spec.loader.exec_module(consul_cluster_states)

CHANGE = datetime(2026, 11, 29, 14, 0, 0, tzinfo=UTC).timestamp()


def server(name: str, stable_since: str, leader: bool = False) -> dict:
    return {"Name": name, "Leader": leader, "Healthy": True, "StableSince": stable_since}


@pytest.fixture(autouse=True)
def agent_url_as_given(monkeypatch):
    monkeypatch.setattr(consul_cluster, "_agent_url", lambda url: url)


def agent_of(node: str, servers: list[dict]):
    return SimpleNamespace(
        agent=SimpleNamespace(self=lambda: {"Config": {"NodeName": node}}),
        operator=SimpleNamespace(autopilot_health=lambda: {"Servers": servers}),
    )


def test_consul_times_with_nanoseconds_and_zone_are_read():
    assert consul_cluster._timestamp("2026-11-29T14:00:00.123456789Z") == CHANGE + 0.123456
    assert consul_cluster._timestamp("2026-11-29T15:00:00+01:00") == CHANGE
    assert consul_cluster._timestamp("0001-01-01T00:00:00Z") < CHANGE
    assert consul_cluster._timestamp("") == 0.0


def test_leader_sees_the_followers_that_have_not_restarted_since_the_change(monkeypatch):
    servers = [
        server("dc1-control-1", "2026-11-29T13:00:00Z", leader=True),
        server("dc1-control-2", "2026-11-29T14:01:10.5Z"),
        server("dc1-control-3", "2026-11-29T13:59:59Z"),
    ]
    monkeypatch.setattr(consul_cluster, "_client", lambda url: agent_of("dc1-control-1", servers))

    assert consul_cluster._servers_behind("url", CHANGE) == ("dc1-control-1", ["dc1-control-3"])


def test_a_follower_waits_for_nobody(monkeypatch):
    servers = [
        server("dc1-control-1", "2026-11-29T13:00:00Z", leader=True),
        server("dc1-control-2", "2026-11-29T13:00:00Z"),
    ]
    monkeypatch.setattr(consul_cluster, "_client", lambda url: agent_of("dc1-control-2", servers))

    assert consul_cluster._servers_behind("url", CHANGE) == ("", [])
    assert consul_cluster.wait_for_followers(CHANGE, timeout=0, url="http://x:8500").startswith(
        "not the raft leader"
    )


def test_leader_goes_ahead_after_the_wait_naming_who_did_not_restart(monkeypatch):
    servers = [
        server("dc1-control-1", "2026-11-29T13:00:00Z", leader=True),
        server("dc1-control-2", "2026-11-29T13:00:00Z"),
    ]
    monkeypatch.setattr(consul_cluster, "_client", lambda url: agent_of("dc1-control-1", servers))

    answer = consul_cluster.wait_for_followers(
        CHANGE, timeout=0.05, interval=0.01, url="http://x:8500"
    )

    assert "dc1-control-2 did not restart within 0.05s" in answer
    assert answer.endswith("the leader restarts now")



def leader_waiting(monkeypatch) -> dict:
    """A running leader whose wait_for_followers records the time it was asked to count
    from (``asked["changed_since"]``)."""
    asked = {}

    def wait_for_followers(changed_since, **kwargs):
        asked["changed_since"] = changed_since
        return "waited"

    monkeypatch.setattr(consul_cluster_states, "__salt__", {
        "consul_cluster.wait_for_followers": wait_for_followers,
        "service.status": lambda name: True,
    }, raising=False)
    monkeypatch.setattr(consul_cluster_states, "__opts__", {"test": False}, raising=False)
    return asked


@pytest.mark.parametrize("file_age, counts_from", [(-100, "run"), (10**6, "file")])
def test_the_change_counts_from_the_file_or_the_start_of_this_run_whichever_is_earlier(
    tmp_path, monkeypatch, file_age, counts_from
):
    """A follower may restart for the new configuration before the leader's run writes it,
    even before that run starts: that restart counts, since the leader's change is no younger
    than the leader's run less the skew between the runs of one converge."""
    config_file = tmp_path / "consul.json"
    config_file.write_text("{}")
    written = time.time() - file_age
    os.utime(config_file, (written, written))
    asked = leader_waiting(monkeypatch)

    ret = consul_cluster_states.leader_restarts_last(
        "consul", [str(config_file), str(tmp_path / "missing")]
    )

    assert ret["result"] is True and ret["comment"] == "waited"
    # The run counts from its start less the skew between the runs of one converge.
    run = psutil.Process().create_time() - consul_cluster_states.RUN_SKEW
    expected = run if counts_from == "run" else written
    assert asked["changed_since"] == pytest.approx(expected, abs=1)


def test_a_new_binary_counts_from_its_relinking_though_the_configuration_is_older(
    tmp_path, monkeypatch
):
    """A version change re-points /usr/local/bin/consul and leaves consul.json as it was: the
    change is as old as the link, so the leader still waits for the other servers."""
    config_file = tmp_path / "consul.json"
    config_file.write_text("{}")
    os.utime(config_file, (time.time() - 10**6, time.time() - 10**6))
    binary = tmp_path / "consul"
    binary.symlink_to(tmp_path / "1.8.8" / "consul")
    # Before this run (the test process) started, after the configuration was written.
    relinked = psutil.Process().create_time() - 10**3
    os.utime(binary, (relinked, relinked), follow_symlinks=False)
    asked = leader_waiting(monkeypatch)

    consul_cluster_states.leader_restarts_last("consul", [str(config_file), str(binary)])

    assert asked["changed_since"] == pytest.approx(relinked, abs=1)


def test_a_server_whose_agent_is_not_running_yet_waits_for_nobody(monkeypatch):
    """A first bring-up: the config file is new and no agent answers yet."""
    def wait_for_followers(changed_since, **kwargs):
        raise AssertionError("no agent to ask")

    monkeypatch.setattr(consul_cluster_states, "__salt__", {
        "consul_cluster.wait_for_followers": wait_for_followers,
        "service.status": lambda name: False,
    }, raising=False)
    monkeypatch.setattr(consul_cluster_states, "__opts__", {"test": False}, raising=False)

    ret = consul_cluster_states.leader_restarts_last("consul", ["/nonexistent/consul.json"])

    assert ret["result"] is True
    assert ret["comment"] == "consul is not running: nothing to wait for"
