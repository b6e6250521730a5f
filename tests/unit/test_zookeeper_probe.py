"""The four-letter-word client: parsing of srvr and mntr, and bounded talks to a fake member on
loopback."""

import importlib.util
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

MODULE_PATH = Path(__file__).resolve().parents[2] / "_modules" / "zookeeper_probe.py"
_spec = importlib.util.spec_from_file_location("zookeeper_probe", MODULE_PATH)
zookeeper_probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(zookeeper_probe)

LEADER_SRVR = """Zookeeper version: 3.8.0-debian, built on 2024-06-16 10:40 UTC
Latency min/avg/max: 0/0.4286/3
Received: 42
Sent: 41
Connections: 2
Outstanding: 0
Zxid: 0x100000004
Mode: leader
Node count: 7
Proposal sizes last/min/max: 48/36/92
"""
MNTR = "zk_version\t3.8.0\nzk_server_state\tfollower\nzk_znode_count\t7\nzk_avg_latency\t0.5\n"
NOT_SERVING = "This ZooKeeper instance is not currently serving requests\n"


def test_srvr_of_a_leader_gives_mode_counters_and_split_triples():
    parsed = zookeeper_probe._parse_srvr(LEADER_SRVR)

    assert parsed["mode"] == "leader"
    assert parsed["serving"] is True
    assert parsed["node_count"] == 7
    assert parsed["zxid"] == "0x100000004"
    assert (parsed["latency_min"], parsed["latency_avg"], parsed["latency_max"]) == (0, 0.4286, 3)
    assert parsed["proposal_sizes_last"] == 48
    assert parsed["zookeeper_version"].startswith("3.8.0")


@pytest.mark.parametrize("mode", ["follower", "standalone", "observer"])
def test_srvr_reports_every_mode(mode):
    assert zookeeper_probe._parse_srvr(f"Zxid: 0x0\nMode: {mode}\n")["mode"] == mode


def test_member_without_quorum_is_not_serving_rather_than_an_error():
    assert zookeeper_probe._parse_srvr(NOT_SERVING) == {
        "serving": False,
        "message": NOT_SERVING.strip(),
    }
    assert zookeeper_probe._parse_mntr(NOT_SERVING)["serving"] is False


def test_srvr_answer_without_mode_is_an_error():
    with pytest.raises(CommandExecutionError, match="without a Mode line"):
        zookeeper_probe._parse_srvr("imok")


def test_mntr_gives_typed_values():
    parsed = zookeeper_probe._parse_mntr(MNTR)

    assert parsed["zk_server_state"] == "follower"
    assert parsed["zk_znode_count"] == 7
    assert parsed["zk_avg_latency"] == 0.5
    assert parsed["serving"] is True


class FakeMember(socketserver.BaseRequestHandler):
    """Answers each four-letter word from ``answers`` and closes, as ZooKeeper does."""

    answers: dict[bytes, bytes] = {}

    def handle(self) -> None:
        word = self.request.recv(4)
        self.request.sendall(self.answers.get(word, b""))


def serve(answers: dict[bytes, bytes]) -> Iterator[int]:
    handler = type("Handler", (FakeMember,), {"answers": answers})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def follower() -> Iterator[int]:
    yield from serve(
        {b"ruok": b"imok", b"srvr": b"Zxid: 0x1\nMode: follower\n", b"mntr": MNTR.encode()}
    )


@pytest.fixture
def member_without_quorum() -> Iterator[int]:
    yield from serve({b"ruok": b"imok", b"srvr": NOT_SERVING.encode()})


@pytest.fixture
def member_with_default_whitelist() -> Iterator[int]:
    refusal = b"mntr is not executed because it is not in the whitelist.\n"
    yield from serve({b"ruok": b"imok", b"mntr": refusal})


def test_serving_follower_answers_its_mode(follower):
    assert zookeeper_probe.ruok(port=follower) is True
    assert zookeeper_probe.srvr(port=follower)["mode"] == "follower"
    assert zookeeper_probe.mntr(port=follower)["zk_server_state"] == "follower"
    assert zookeeper_probe.serving(port=follower) == "follower"


def test_running_member_without_quorum_is_not_serving(member_without_quorum):
    assert zookeeper_probe.ruok(port=member_without_quorum) is True
    assert zookeeper_probe.serving(port=member_without_quorum) == ""


def test_word_outside_the_whitelist_names_the_setting(member_with_default_whitelist):
    with pytest.raises(CommandExecutionError, match="4lw.commands.whitelist"):
        zookeeper_probe.mntr(port=member_with_default_whitelist)


def test_closed_port_raises_with_the_cause():
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    with pytest.raises(CommandExecutionError, match=f"127.0.0.1:{port}: ruok failed"):
        zookeeper_probe.ruok(port=port)


def test_member_that_never_answers_is_given_up_on_within_the_timeout():
    # The kernel accepts the connection; nobody ever reads or answers it.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        with pytest.raises(CommandExecutionError, match="srvr failed"):
            zookeeper_probe.srvr(port=silent.getsockname()[1], timeout=0.3)
    assert time.monotonic() - started < 2


def test_unknown_word_is_refused_before_any_connection():
    with pytest.raises(SaltInvocationError, match="unknown four-letter word"):
        zookeeper_probe._ask("kill", "127.0.0.1", 2181, 1)


# `conf` of a member of ZooKeeper 3.8 (recorded), and one with a client address per server.
CONF = """clientPort=2181
dataDir=/var/lib/zookeeper/version-2
tickTime=2000
serverId=1
peerType=0
membership: 
server.1=10.0.1.11:2888:3888:participant
server.2=10.0.1.12:2888:3888:participant
server.4=10.0.1.14:2888:3888:participant
version=0
"""
CONF_WITH_CLIENT_ADDRESSES = (
    "membership: \nserver.1=10.0.1.11:2888:3888:participant;0.0.0.0:2181\n"
    "server.2=[fd00::12]:2888:3888:observer;[::]:2181\n"
)


def test_conf_gives_the_ensemble_a_member_runs_with_as_zoo_cfg_writes_it():
    assert zookeeper_probe._parse_membership(CONF) == {
        "1": "10.0.1.11:2888:3888", "2": "10.0.1.12:2888:3888", "4": "10.0.1.14:2888:3888",
    }
    assert zookeeper_probe._parse_membership(CONF_WITH_CLIENT_ADDRESSES) == {
        "1": "10.0.1.11:2888:3888", "2": "[fd00::12]:2888:3888",
    }


def test_conf_without_server_lines_is_an_error():
    with pytest.raises(CommandExecutionError, match="without server lines"):
        zookeeper_probe._parse_membership("clientPort=2181\n")


def srvr(mode: str) -> bytes:
    return NOT_SERVING.encode() if mode == "none" else f"Zxid: 0x1\nMode: {mode}\n".encode()


@pytest.fixture
def ensemble() -> Iterator[Callable[..., int]]:
    """``ensemble({"127.0.0.1": "follower", "127.0.0.2": "leader"}, conf={...})``: fake
    members on loopback addresses, all on one port (as the members of a datacenter are), each
    answering srvr with its mode and conf with its server lines; returns the port."""
    servers = []

    def start(modes: dict[str, str], conf: dict[str, str] | None = None) -> int:
        port = 0
        for address, mode in modes.items():
            answers = {b"ruok": b"imok", b"srvr": srvr(mode),
                       b"conf": (conf or {}).get(address, CONF).encode()}
            handler = type("Handler", (FakeMember,), {"answers": answers})
            server = socketserver.ThreadingTCPServer((address, port), handler)
            port = server.server_address[1]
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
        return port

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_member_may_restart_when_the_others_serve_and_one_of_them_leads(ensemble):
    port = ensemble({"127.0.0.1": "follower", "127.0.0.2": "leader", "127.0.0.3": "follower"})

    answer = zookeeper_probe.ensemble_ready(["127.0.0.2", "127.0.0.3"], port=port, timeout=2)

    assert answer == "2 other members serve, leader 127.0.0.2"


def test_the_leader_itself_may_restart_when_the_others_serve(ensemble):
    port = ensemble({"127.0.0.1": "leader", "127.0.0.2": "follower"})

    assert zookeeper_probe.ensemble_ready(["127.0.0.2"], port=port, timeout=2)


def test_not_while_another_member_does_not_serve(ensemble):
    port = ensemble({"127.0.0.1": "leader", "127.0.0.2": "follower", "127.0.0.3": "none"})

    assert zookeeper_probe.ensemble_ready(["127.0.0.2", "127.0.0.3"], port=port, timeout=2) == ""


def test_not_while_the_leader_is_a_member_on_its_way_out(ensemble):
    # 127.0.0.4 leads but is not in the new list: a member restarted without it could not
    # follow it.
    port = ensemble({"127.0.0.1": "follower", "127.0.0.2": "follower", "127.0.0.4": "leader"})

    assert zookeeper_probe.ensemble_ready(["127.0.0.2"], port=port, timeout=2) == ""


def test_a_member_that_cannot_be_asked_raises(ensemble):
    port = ensemble({"127.0.0.1": "leader"})

    with pytest.raises(CommandExecutionError, match="127.0.0.2"):
        zookeeper_probe.ensemble_ready(["127.0.0.2"], port=port, timeout=1)


def test_a_leaving_member_is_released_once_no_member_runs_with_it(ensemble):
    without_4 = CONF.replace("server.4=10.0.1.14:2888:3888:participant\n", "")
    port = ensemble(
        {"127.0.0.2": "follower", "127.0.0.3": "leader"},
        conf={"127.0.0.2": without_4, "127.0.0.3": without_4},
    )

    answer = zookeeper_probe.released(["127.0.0.2", "127.0.0.3"], 4, port=port, timeout=2)

    assert answer == "none of 127.0.0.2, 127.0.0.3 runs with server.4"


def test_a_leaving_member_is_held_while_one_member_still_runs_with_it(ensemble):
    without_4 = CONF.replace("server.4=10.0.1.14:2888:3888:participant\n", "")
    port = ensemble(
        {"127.0.0.2": "follower", "127.0.0.3": "leader"},
        conf={"127.0.0.2": without_4, "127.0.0.3": CONF},
    )

    assert zookeeper_probe.released(["127.0.0.2", "127.0.0.3"], 4, port=port, timeout=2) == ""


def test_a_member_that_cannot_be_asked_still_holds_a_leaving_one(ensemble):
    without_4 = CONF.replace("server.4=10.0.1.14:2888:3888:participant\n", "")
    port = ensemble({"127.0.0.2": "follower"}, conf={"127.0.0.2": without_4})

    assert zookeeper_probe.released(["127.0.0.2", "127.0.0.3"], 4, port=port, timeout=1) == ""


NEW_ENSEMBLE = {"1": "10.0.1.11:2888:3888", "2": "10.0.1.12:2888:3888",
                "4": "10.0.1.14:2888:3888"}
OLD_CONF = CONF.replace("server.4=10.0.1.14:2888:3888:participant\n",
                        "server.3=10.0.1.13:2888:3888:participant\n")


def test_the_leader_restarts_with_a_new_ensemble_only_after_the_others(ensemble):
    # Restarted first, the leader would leave the members of the old list to elect one of
    # their own, which the members of the new list could not follow.
    port = ensemble({"127.0.0.1": "leader", "127.0.0.2": "follower", "127.0.0.3": "follower"},
                    conf={"127.0.0.2": CONF, "127.0.0.3": OLD_CONF})
    members = ["127.0.0.2", "127.0.0.3"]

    assert zookeeper_probe.ensemble_ready(members, NEW_ENSEMBLE, port=port, timeout=2) == ""


def test_the_leader_restarts_once_the_others_run_with_the_new_ensemble(ensemble):
    port = ensemble({"127.0.0.1": "leader", "127.0.0.2": "follower", "127.0.0.3": "follower"},
                    conf={"127.0.0.2": CONF, "127.0.0.3": CONF})

    answer = zookeeper_probe.ensemble_ready(
        ["127.0.0.2", "127.0.0.3"], NEW_ENSEMBLE, port=port, timeout=2
    )

    assert answer == "2 other members serve with the new ensemble; this one leads"


def test_a_follower_does_not_wait_for_the_others_to_take_the_new_ensemble(ensemble):
    port = ensemble({"127.0.0.1": "follower", "127.0.0.2": "leader", "127.0.0.3": "follower"},
                    conf={"127.0.0.2": OLD_CONF, "127.0.0.3": OLD_CONF})

    assert zookeeper_probe.ensemble_ready(
        ["127.0.0.2", "127.0.0.3"], NEW_ENSEMBLE, port=port, timeout=2
    ) == "2 other members serve, leader 127.0.0.2"
