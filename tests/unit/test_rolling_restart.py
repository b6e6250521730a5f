"""Rolling restarts: the Consul lock, the health wait and the states, against an in-memory
Consul (sessions and KV locks as the HTTP API behaves) and a patched ``__salt__``."""

import importlib.util
import itertools
import json
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import consul
import pytest
import requests
import salt._logging
from salt.exceptions import CommandExecutionError, SaltInvocationError

ROOT = Path(__file__).resolve().parents[2]
LOCK = "platform/locks/dc1/zookeeper"


def load(kind: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"rolling_restart_{kind}", ROOT / f"_{kind}" / "rolling_restart.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Datacenter:
    """The state every agent of a datacenter shares: sessions and KV entries."""

    def __init__(self, leader: str = "10.0.1.11:8300") -> None:
        self.leader = leader
        self.sessions: dict[str, dict[str, str]] = {}
        self.entries: dict[str, dict[str, Any]] = {}
        self.ids = itertools.count(1)


class FakeAgent:
    """py-consul's Consul client, as far as the module uses it, on one node."""

    def __init__(self, datacenter: Datacenter, node: str) -> None:
        self.datacenter = datacenter
        self.node = node
        self.http = SimpleNamespace(base_uri="http://127.0.0.1:8500")
        self.status = SimpleNamespace(leader=lambda: datacenter.leader)
        self.agent = SimpleNamespace(self=lambda: {"Config": {"NodeName": node}})
        self.session = SimpleNamespace(
            create=self._create, destroy=self._destroy, info=self._info, node=self._node
        )
        self.kv = SimpleNamespace(get=self._get, put=self._put)

    def _create(self, name: str, behavior: str) -> str:
        session_id = f"session-{next(self.datacenter.ids)}"
        self.datacenter.sessions[session_id] = {"ID": session_id, "Name": name, "Node": self.node}
        return session_id

    def _destroy(self, session_id: str) -> bool:
        self.datacenter.sessions.pop(session_id, None)
        for entry in self.datacenter.entries.values():
            if entry["Session"] == session_id:
                entry["Session"] = None
        return True

    def _info(self, session_id: str):
        return 1, self.datacenter.sessions.get(session_id)

    def _node(self, node: str):
        return 1, [s for s in self.datacenter.sessions.values() if s["Node"] == node]

    def _get(self, key: str):
        entry = self.datacenter.entries.get(key)
        return 1, dict(entry) if entry else None

    def _put(self, key: str, value, acquire: str | None = None, release: str | None = None):
        entry = self.datacenter.entries.setdefault(key, {"Session": None, "Value": None})
        if acquire:
            if acquire not in self.datacenter.sessions:
                return False
            if entry["Session"] not in (None, acquire):
                return False
            entry["Session"] = acquire
        elif release:
            if entry["Session"] != release:
                return False
            entry["Session"] = None
        entry["Value"] = value.encode() if isinstance(value, str) else value
        return True


class Host:
    """The execution and state modules as loaded on one host, with its own ``__salt__``."""

    def __init__(self, datacenter: Datacenter, node: str, healthy_after: int = 0) -> None:
        self.agent = FakeAgent(datacenter, node)
        self.datacenter = datacenter
        self.running = True
        self.restarts = 0
        self.probes = 0
        self.healthy_after = healthy_after
        self.ready_after = 0
        self.readiness_probes = 0
        # Per readiness probe: whether the lock was held then, and the arguments it had.
        self.locked_when_probed: list[bool] = []
        self.ready_arguments: list[dict] = []
        self.module = load("modules")
        self.state = load("states")
        self.module._client = lambda url: self.agent
        self.module.__salt__ = {
            "config.get": lambda key, default=None: default,
            "service.restart": self._restart,
            "cmd.run_all": lambda *args, **kwargs: {"stdout": "ERROR bad config"},
            "test.health": self._health,
            "test.ready": self._ready,
        }
        self.state.__salt__ = {
            "service.status": lambda name: self.running,
            "rolling_restart.restart": self.module.restart,
            "rolling_restart.wait_healthy": self.module.wait_healthy,
            "rolling_restart.stale_session": self.module.stale_session,
            "rolling_restart.release": self.module.release,
        }
        self.state.__opts__ = {"test": False}

    def _restart(self, name: str) -> bool:
        self.restarts += 1
        return True

    def _ready(self, **kwargs) -> str:
        self.readiness_probes += 1
        self.locked_when_probed.append(holder_of(self.datacenter) is not None)
        self.ready_arguments.append(kwargs)
        return "" if self.readiness_probes <= self.ready_after else "3 of 3 servers healthy"

    def _health(self) -> str:
        self.probes += 1
        if self.healthy_after < 0 or self.probes <= self.healthy_after:
            return ""
        return "follower"

    def restart(self, **kwargs) -> dict:
        arguments = {"timeout": 0.2, "lock_timeout": 0.2, "interval": 0.01, **kwargs}
        return self.module.restart("zookeeper", LOCK, "test.health", **arguments)

    def restarted(self, test: bool = False, **kwargs) -> dict:
        self.state.__opts__["test"] = test
        arguments = {"timeout": 0.2, "lock_timeout": 0.2, "interval": 0.01, **kwargs}
        return self.state.restarted("zookeeper", LOCK, "test.health", **arguments)

    def healthy(self, test: bool = False) -> dict:
        self.state.__opts__["test"] = test
        return self.state.healthy("zookeeper", "test.health", timeout=0.2, interval=0.01, lock=LOCK)


@pytest.fixture
def dc1() -> Datacenter:
    return Datacenter()


@pytest.fixture(autouse=True, scope="module")
def hand_over_salt_log_records():
    yield
    # Salt defers log records to a handler it flushes at exit, to a stderr pytest has closed
    # by then; hand them over now instead.
    salt._logging.shutdown_temp_handler()


def holder_of(datacenter: Datacenter) -> dict | None:
    entry = datacenter.entries.get(LOCK)
    if not entry or not entry["Session"]:
        return None
    return {**json.loads(entry["Value"]), "session": entry["Session"]}


def test_restart_takes_the_lock_waits_for_health_and_releases(dc1):
    host = Host(dc1, "dc1-control-1", healthy_after=2)

    outcome = host.restart()

    assert outcome == {"service": "zookeeper", "lock": LOCK, "health": "follower"}
    assert host.restarts == 1 and host.probes == 3
    assert holder_of(dc1) is None
    assert dc1.sessions == {}


@pytest.mark.parametrize(
    "first_answer",
    [
        # A server restarting.
        consul.ConsulException("500 rpc error getting client: connection refused"),
        # Seen on the lab: dc2's client refused for a moment after its server switched ACLs
        # on, before its first replication from the primary.
        consul.ACLPermissionDenied("rpc error making call: Permission denied"),
    ],
    ids=["server-restarting", "acl-replication-starting"],
)
def test_the_lock_is_taken_when_the_agent_answers_again(dc1, first_answer):
    host = Host(dc1, "dc1-control-2")
    put = host.agent.kv.put
    answers = iter([first_answer])

    def put_once_refused(*args, **kwargs):
        for refusal in answers:
            raise refusal
        return put(*args, **kwargs)

    host.agent.kv.put = put_once_refused

    assert host.restart()["lock"] == LOCK
    assert host.restarts == 1
    assert holder_of(dc1) is None


def test_the_lock_is_released_when_the_agent_answers_again_after_a_server_restart(dc1):
    """Seen on the lab: a ZooKeeper member's release fell while the Consul servers restarted;
    a session left behind would have stopped the other members for the lock's timeout."""
    host = Host(dc1, "dc1-control-3")
    put = host.agent.kv.put
    refusals = iter([
        consul.ConsulException("500 No cluster leader"),
        requests.ConnectionError("connection refused"),
    ])

    def refused_on_release(*args, **kwargs):
        if kwargs.get("release"):
            for refusal in refusals:
                raise refusal
        return put(*args, **kwargs)

    host.agent.kv.put = refused_on_release

    assert host.restart()["lock"] == LOCK
    assert holder_of(dc1) is None
    assert dc1.sessions == {}
    assert json.loads(dc1.entries[LOCK]["Value"])["state"] == "done"


def test_a_release_the_agent_keeps_refusing_fails_naming_the_lock(dc1):
    host = Host(dc1, "dc1-control-3")
    put = host.agent.kv.put

    def always_refused_on_release(*args, **kwargs):
        if kwargs.get("release"):
            raise consul.ConsulException("500 No cluster leader")
        return put(*args, **kwargs)

    host.agent.kv.put = always_refused_on_release

    with pytest.raises(CommandExecutionError, match=f"releasing the lock {LOCK}") as failure:
        host.restart()
    assert failure.value.info == {"restarted": True}
    assert host.restarts == 1


def test_a_token_refused_past_the_grace_fails_without_restarting(dc1, monkeypatch):
    host = Host(dc1, "dc1-control-2")
    monkeypatch.setattr(host.module, "DENIAL_GRACE", 0.05)
    attempts = []

    def refused(*args, **kwargs):
        attempts.append(args)
        raise consul.ACLPermissionDenied("Permission denied")

    host.agent.kv.put = refused

    with pytest.raises(CommandExecutionError, match="Permission denied"):
        host.restart()
    assert host.restarts == 0
    assert dc1.sessions == {}
    assert len(attempts) < 100


def test_second_member_does_not_restart_while_the_first_holds_the_lock(dc1):
    first = Host(dc1, "dc1-control-1")
    second = Host(dc1, "dc1-control-2")
    held = first.agent.session.create(name="rolling-restart zookeeper", behavior="release")
    first.agent.kv.put(LOCK, json.dumps({"holder": "dc1-control-1"}), acquire=held)

    with pytest.raises(CommandExecutionError, match="not free within") as failure:
        second.restart()

    assert second.restarts == 0
    assert failure.value.info == {"restarted": False}
    assert held in str(failure.value) and "dc1-control-1" in str(failure.value)
    assert holder_of(dc1)["session"] == held
    # The waiting member leaves no session behind.
    assert set(dc1.sessions) == {held}

    first.agent.kv.put(LOCK, "done", release=held)
    assert second.restart()["lock"] == LOCK
    assert second.restarts == 1


def test_unhealthy_restart_keeps_the_lock_with_the_reason(dc1):
    host = Host(dc1, "dc1-control-1", healthy_after=-1)

    with pytest.raises(CommandExecutionError, match="Kept the Consul lock") as failure:
        host.restart()

    assert failure.value.info == {"restarted": True}
    assert "ERROR bad config" in str(failure.value)  # the unit's journal
    holder = holder_of(dc1)
    assert holder["holder"] == "dc1-control-1"
    assert holder["state"].startswith("unhealthy: zookeeper not healthy within")
    assert "journal" not in holder["state"]


def test_next_run_on_the_same_host_takes_its_kept_lock_over(dc1):
    host = Host(dc1, "dc1-control-1", healthy_after=-1)
    with pytest.raises(CommandExecutionError):
        host.restart()
    kept = holder_of(dc1)["session"]

    host.healthy_after = 0
    assert host.restart()["lock"] == LOCK

    assert kept not in dc1.sessions
    assert holder_of(dc1) is None


def test_another_hosts_kept_lock_is_not_taken_over(dc1):
    failed = Host(dc1, "dc1-control-1", healthy_after=-1)
    with pytest.raises(CommandExecutionError):
        failed.restart()

    with pytest.raises(CommandExecutionError, match="not free within"):
        Host(dc1, "dc1-control-2").restart()


def test_sessions_of_runs_killed_while_waiting_are_cleaned_up(dc1):
    host = Host(dc1, "dc1-control-1")
    leaked = host.agent.session.create(name="rolling-restart zookeeper", behavior="release")
    other_service = host.agent.session.create(name="rolling-restart marathon", behavior="release")

    host.restart()

    assert leaked not in dc1.sessions
    assert other_service in dc1.sessions


def test_without_a_consul_leader_the_restart_goes_ahead_unlocked(dc1):
    dc1.leader = ""
    host = Host(dc1, "dc1-control-1")

    outcome = host.restart()

    assert outcome["lock"] is None and host.restarts == 1
    assert dc1.entries == {} and dc1.sessions == {}


def test_unreachable_agent_fails_before_restarting(dc1):
    host = Host(dc1, "dc1-control-1")

    def refused():
        raise requests.ConnectionError("connection refused")

    host.agent.status.leader = refused

    with pytest.raises(CommandExecutionError, match="connection refused") as failure:
        host.restart()
    assert failure.value.info == {"restarted": False}
    assert host.restarts == 0


def test_health_function_must_be_loaded(dc1):
    host = Host(dc1, "dc1-control-1")

    with pytest.raises(SaltInvocationError, match="is not loaded"):
        host.module.restart("zookeeper", LOCK, "zookeeper_probe.serving")
    assert host.restarts == 0


def test_state_leaves_a_stopped_service_to_service_running(dc1):
    host = Host(dc1, "dc1-control-1")
    host.running = False

    ret = host.restarted()

    assert ret["result"] is True and ret["changes"] == {}
    assert "not running" in ret["comment"] and host.restarts == 0


def test_state_in_test_mode_reports_the_restart_and_touches_nothing(dc1):
    host = Host(dc1, "dc1-control-1")

    ret = host.restarted(test=True)

    assert ret["result"] is None and ret["changes"] == {"restarted": "zookeeper"}
    assert host.restarts == 0 and dc1.sessions == {} and dc1.entries == {}


def test_state_says_when_it_restarted_without_the_lock(dc1):
    dc1.leader = ""

    ret = Host(dc1, "dc1-control-1").restarted()

    assert ret["result"] is True and ret["changes"] == {"restarted": "zookeeper"}
    assert "WITHOUT the lock" in ret["comment"] and "no leader" in ret["comment"]


def test_failed_state_reports_a_change_only_if_the_service_was_restarted(dc1):
    unhealthy = Host(dc1, "dc1-control-1", healthy_after=-1)
    waiting = Host(dc1, "dc1-control-2")

    after_restart = unhealthy.restarted()
    before_restart = waiting.restarted()

    assert after_restart["result"] is False
    assert after_restart["changes"] == {"restarted": "zookeeper"}
    assert before_restart["result"] is False and before_restart["changes"] == {}


def test_health_gate_fails_with_the_journal(dc1):
    ret = Host(dc1, "dc1-control-1", healthy_after=-1).healthy()

    assert ret["result"] is False and ret["changes"] == {}
    assert "not healthy within" in ret["comment"] and "ERROR bad config" in ret["comment"]


def test_health_gate_in_test_mode_asks_once_without_waiting(dc1):
    host = Host(dc1, "dc1-control-1", healthy_after=-1)

    ret = host.healthy(test=True)

    assert ret["result"] is None and ret["changes"] == {}
    assert host.probes == 1


def test_healthy_again_releases_the_lock_an_earlier_run_kept(dc1):
    host = Host(dc1, "dc1-control-1", healthy_after=-1)
    with pytest.raises(CommandExecutionError):
        host.restart()
    host.healthy_after = 0

    dry_run = host.healthy(test=True)
    assert dry_run["result"] is None and dry_run["changes"] == {"released": LOCK}
    assert holder_of(dc1) is not None

    ret = host.healthy()
    assert ret["result"] is True and ret["changes"] == {"released": LOCK}
    assert holder_of(dc1) is None

    assert host.healthy()["changes"] == {}


def test_health_gate_stays_green_when_consul_cannot_answer_about_the_lock(dc1):
    host = Host(dc1, "dc1-control-1")

    def no_leader(key):
        raise requests.HTTPError("500 No cluster leader")

    host.agent.kv.get = no_leader

    ret = host.healthy()

    assert ret["result"] is True and ret["changes"] == {}
    assert "could not check the Consul lock" in ret["comment"]


def test_member_holding_the_lock_restarts_only_once_the_cluster_is_ready(dc1):
    # Consul restarting itself: its session may end with the restart, so the next member
    # also waits, holding the lock, until every server is healthy again.
    host = Host(dc1, "dc1-control-1")
    host.ready_after = 3

    outcome = host.restart(ready="test.ready")

    assert outcome["lock"] == LOCK
    # Ready first without the lock (three answers "not yet", then "ready"), then once more
    # holding it.
    assert host.locked_when_probed == [False, False, False, False, True]
    assert host.restarts == 1
    assert holder_of(dc1) is None and dc1.sessions == {}


def test_a_member_waiting_to_be_ready_leaves_the_lock_to_the_others(dc1):
    # A ZooKeeper member whose new ensemble waits on a leaving leader to hand its lead over:
    # the leaving member restarts under the same lock meanwhile.
    waiting, leaving = Host(dc1, "dc1-control-1"), Host(dc1, "dc1-control-4")

    def handed_over() -> str:
        if not leaving.restarts:
            leaving.restart()
        return "the leader handed over"

    waiting.module.__salt__["test.ready"] = handed_over

    outcome = waiting.restart(ready="test.ready")

    assert outcome["lock"] == LOCK
    assert leaving.restarts == 1 and waiting.restarts == 1
    assert holder_of(dc1) is None and dc1.sessions == {}


def test_ready_is_called_with_its_arguments_for_as_long_as_ready_timeout(dc1):
    host = Host(dc1, "dc1-control-1")
    host.ready_after = 10**6

    with pytest.raises(CommandExecutionError, match="not healthy within 0.3s"):
        host.restart(ready="test.ready", ready_kwargs={"members": ["10.0.1.12"]},
                     ready_timeout=0.3)

    assert host.restarts == 0
    assert host.ready_arguments and all(
        arguments == {"members": ["10.0.1.12"]} for arguments in host.ready_arguments
    )


def test_cluster_never_ready_fails_without_restarting_and_frees_the_lock(dc1):
    host = Host(dc1, "dc1-control-1")
    host.ready_after = 10**6

    with pytest.raises(CommandExecutionError, match="not healthy within") as failure:
        host.restart(ready="test.ready")

    assert host.restarts == 0
    assert failure.value.info == {"restarted": False}
    # Nothing was restarted: the lock is not kept, the next run tries again.
    assert holder_of(dc1) is None and dc1.sessions == {}


def test_state_passes_readiness_to_the_restart(dc1):
    host = Host(dc1, "dc1-control-1")
    host.ready_after = 1

    ret = host.restarted(ready="test.ready", ready_kwargs={"port": 2181})

    assert ret["result"] is True, ret
    assert host.readiness_probes == 3 and host.restarts == 1
    assert host.ready_arguments == [{"port": 2181}] * 3
