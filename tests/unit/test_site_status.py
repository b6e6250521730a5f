"""The status across datacenters: every host's platform.status folded per datacenter."""

from site_status.fold import fold, healthy, table


def server(host: str, dc: str, leader: str, peers: list[str], mode: str, **consul) -> dict:
    return {
        "id": host,
        "datacenter": dc,
        "roles": ["control"],
        "consul": {"value": {
            "node": host, "server": True, "leader": leader, "failing_checks": [],
            "raft_peers": peers,
            "autopilot": {"healthy": True, "failure_tolerance": 1, "unhealthy": []},
            "wan_members": {f"{host}.{dc}": "alive"},
            **consul,
        }},
        "zookeeper": {"value": mode},
    }


def client(host: str, dc: str, leader: str, failing: list[str] | None = None) -> dict:
    return {
        "id": host, "datacenter": dc, "roles": ["compute"],
        "consul": {"value": {"node": host, "server": False, "leader": leader,
                             "failing_checks": failing or []}},
    }


PEERS = ["10.0.1.11:8300", "10.0.1.12:8300", "10.0.1.13:8300"]
LEADER = PEERS[0]


def healthy_dc1() -> dict:
    return {
        "dc1-control-1": server("dc1-control-1", "dc1", LEADER, PEERS, "leader"),
        "dc1-control-2": server("dc1-control-2", "dc1", LEADER, PEERS, "follower"),
        "dc1-control-3": server("dc1-control-3", "dc1", LEADER, PEERS, "follower"),
        "dc1-compute-1": client("dc1-compute-1", "dc1", LEADER),
    }


def test_a_healthy_datacenter_reads_at_a_glance():
    summaries = fold(healthy_dc1())

    dc1 = summaries["dc1"]
    assert healthy(dc1)
    assert dc1["leaders"] == [LEADER] and dc1["raft_peers"] == PEERS
    assert sorted(dc1["zookeeper"].values()) == ["follower", "follower", "leader"]
    printed = table(summaries)
    assert printed.startswith("dc1: HEALTHY (4 hosts answering)")
    assert "zookeeper          2 follower, 1 leader" in printed


def test_a_host_that_does_not_answer_degrades_and_is_named():
    answers = healthy_dc1()
    answers["dc1-control-3"] = "ssh: connect to host 10.0.1.13 port 22: No route to host"
    for host in ("dc1-control-1", "dc1-control-2"):
        answers[host]["consul"]["value"]["autopilot"] = {
            "healthy": False, "failure_tolerance": 0, "unhealthy": ["dc1-control-3"],
        }

    summaries = fold(answers)

    assert not healthy(summaries["dc1"])
    assert summaries["?"]["unreachable"] == {
        "dc1-control-3": "ssh: connect to host 10.0.1.13 port 22: No route to host"
    }
    printed = table(summaries)
    assert "dc1: DEGRADED (3 hosts answering)" in printed
    assert "unhealthy=dc1-control-3" in printed
    assert "dc1-control-3: no answer: ssh: connect to host" in printed


def test_a_failing_check_and_a_silent_agent_degrade_the_datacenter():
    answers = healthy_dc1()
    answers["dc1-compute-1"] = client("dc1-compute-1", "dc1", LEADER, failing=["web"])
    answers["dc1-control-2"]["consul"] = {"error": "ConnectionError: refused"}

    summary = fold(answers)["dc1"]

    assert not healthy(summary)
    assert summary["failing_checks"] == {"dc1-compute-1": ["web"]}
    assert summary["agent_errors"] == {"dc1-control-2": "ConnectionError: refused"}


def test_no_leader_is_said_plainly():
    answers = healthy_dc1()
    for answer in answers.values():
        answer["consul"]["value"]["leader"] = ""

    assert "consul leader      NONE" in table(fold(answers))
