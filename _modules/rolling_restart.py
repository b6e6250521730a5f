"""
Restart one member of a quorum at a time, under a Consul lock, and wait until it is healthy.

Every member of a datacenter that restarts a service (ZooKeeper, Mesos master, Marathon) after
a configuration change first takes the same Consul session lock (a KV key such as
``platform/locks/dc1/zookeeper``) through its LOCAL agent's HTTP API (py-consul), restarts,
waits until a health function answers truthy, and only then releases the lock: the next
member waits for it. Without a Consul leader there is no lock to take and no running quorum
to protect (first bring-up): the service restarts without the lock.

When the service does not come back healthy the lock is KEPT, so that no other member restarts
into the same bad configuration. It is released once the service is healthy again (``release``,
called by the health gate state) or taken over by the next restart on the same host; by hand,
by destroying its session (the error names it).

The agent is reached as the consul_cluster module reaches it, with ``consul_agent``'s client:
``consul_cluster:url`` (default ``http://127.0.0.1:8500``), the token it chooses
(``consul_cluster:token``, else the Salt token's file) and
``consul_cluster:ca_file``.
"""

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from salt.exceptions import CommandExecutionError, SaltException, SaltInvocationError

try:
    import consul
    import requests

    HAS_CONSUL = True
except ImportError:
    HAS_CONSUL = False

log = logging.getLogger(__name__)

__virtualname__ = "rolling_restart"

# Lines of the unit's journal quoted when a service does not come back, and the seconds
# journalctl may take to print them.
JOURNAL_LINES = 20
# Seconds a refused lock request is retried (_acquire says why).
DENIAL_GRACE = 60
JOURNAL_TIMEOUT = 10


def __virtual__():
    if not HAS_CONSUL:
        return (False, "py-consul is not installed: the rolling restart lock needs it")
    return __virtualname__


def _client(url: str | None) -> "consul.Consul":
    return __utils__["consul_agent.client"](url)


def _journal_tail(service: str) -> str:
    """The last lines the unit logged: the program's own account of why it is not healthy."""
    result = __salt__["cmd.run_all"](
        ["journalctl", "--unit", service, "--lines", str(JOURNAL_LINES), "--no-pager"],
        python_shell=False,
        ignore_retcode=True,
        timeout=JOURNAL_TIMEOUT,
    )
    return (result.get("stdout") or result.get("stderr") or "").strip()


def _check_interval(interval: float) -> None:
    if interval <= 0:
        raise SaltInvocationError(f"interval must be positive, not {interval}")


def _health_function(health: str) -> Callable[..., Any]:
    if health not in __salt__:
        raise SaltInvocationError(
            f"health function {health!r} is not loaded: name an execution function such as "
            "zookeeper_probe.serving or http_probe.ok"
        )
    return __salt__[health]


def _wait_healthy(
    health: str,
    health_kwargs: dict[str, Any],
    timeout: float,
    interval: float,
    service: str | None,
) -> Any:
    """Call ``health`` until it answers truthy; raise with its last answer after ``timeout``."""
    probe = _health_function(health)
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = probe(**health_kwargs)
        except SaltException as err:
            last = str(err)
        else:
            if answer:
                return answer
            last = f"{health} answered {answer!r}"
        if time.monotonic() + interval > deadline:
            message = f"{service or health} not healthy within {timeout}s: {last}"
            if service:
                message += f"\njournal of {service}:\n{_journal_tail(service)}"
            raise CommandExecutionError(message)
        time.sleep(interval)


def _wait_ready(*wait: Any) -> None:
    """``_wait_healthy`` for a ``ready`` function: nothing was restarted when it fails."""
    try:
        _wait_healthy(*wait)
    except CommandExecutionError as err:
        err.info = {"restarted": False}
        raise


def _restart_and_wait(
    name: str, health: str, health_kwargs: dict[str, Any], timeout: float, interval: float
) -> Any:
    """Restart the unit and wait for its health; errors carry ``info={"restarted": True}``."""
    try:
        if not __salt__["service.restart"](name):
            raise CommandExecutionError(f"systemd could not restart {name}:\n{_journal_tail(name)}")
        return _wait_healthy(health, health_kwargs, timeout, interval, name)
    except CommandExecutionError as err:
        # The unit was stopped at least: the state reports a change either way.
        err.info = {"restarted": True}
        raise


def _first_line(err: Exception) -> str:
    """The error's summary; the journal that follows it stays on the host that failed."""
    return str(err).partition("\n")[0]


def _lock_value(node: str, service: str, state: str) -> str:
    """What the lock key holds: who restarts what since when, for an operator reading it."""
    since = datetime.now(UTC).isoformat(timespec="seconds")
    return json.dumps({"holder": node, "service": service, "state": state, "since": since})


def _holder(client: "consul.Consul", key: str) -> tuple[str, str]:
    """Session id and value of the current lock holder; ``("", "")`` when the key is free."""
    _, entry = client.kv.get(key)
    if not entry or not entry.get("Session"):
        return "", ""
    value = entry.get("Value") or b""
    return entry["Session"], value.decode(errors="replace") if isinstance(value, bytes) else value


def _is_own_stale_session(
    client: "consul.Consul", session_id: str, node: str, session_name: str
) -> bool:
    """Whether ``session_id`` was left by an earlier run on this node for the same service."""
    _, info = client.session.info(session_id)
    return bool(info) and info.get("Node") == node and info.get("Name") == session_name


def _destroy_idle_sessions(client: "consul.Consul", key: str, node: str, session_name: str) -> None:
    """Destroy this node's sessions for the service that hold nothing (runs killed waiting)."""
    holder, _ = _holder(client, key)
    _, sessions = client.session.node(node)
    for session in sessions or []:
        if session.get("Name") == session_name and session["ID"] != holder:
            client.session.destroy(session["ID"])


def _acquire(
    client: "consul.Consul",
    key: str,
    service: str,
    node: str,
    lock_timeout: float,
    interval: float,
) -> str:
    """Create a session, take the lock with it and return the session id; bounded in time.

    While another member restarts, the agent may answer 500 for a moment (the RPC it
    forwards finds no leader, or a server gone): that is retried until the lock timeout. A
    refusal (403) is retried for DENIAL_GRACE seconds only: a secondary datacenter whose
    servers have just switched ACLs on refuses until their first replication from the
    primary (seen on the lab's dc2 at security stage accept); a wrong token stays refused."""
    session_name = f"rolling-restart {service}"
    deadline = time.monotonic() + lock_timeout
    denied_until = None
    session_id = None
    holder, value = "", ""
    try:
        while True:
            try:
                if session_id is None:
                    _destroy_idle_sessions(client, key, node, session_name)
                    session_id = client.session.create(name=session_name, behavior="release")
                if client.kv.put(key, _lock_value(node, service, "restarting"), acquire=session_id):
                    return session_id
                holder, value = _holder(client, key)
                if holder and _is_own_stale_session(client, holder, node, session_name):
                    # An earlier run here kept the lock (unhealthy service, or killed): take
                    # it over.
                    log.warning("Taking over the lock %s of an earlier run on %s", key, node)
                    client.session.destroy(holder)
                    continue
            except consul.ACLPermissionDenied as err:
                denied_until = denied_until or time.monotonic() + DENIAL_GRACE
                if time.monotonic() + interval > min(denied_until, deadline):
                    raise
                log.warning("Taking the lock %s: %s; trying again", key, err)
                holder, value = "", f"(the agent answered: {_first_line(err)})"
            except (consul.ConsulException, requests.RequestException) as err:
                log.warning("Taking the lock %s: %s; trying again", key, err)
                holder, value = "", f"(the agent answered: {_first_line(err)})"
            if time.monotonic() + interval > deadline:
                raise CommandExecutionError(
                    f"Consul lock {key} not free within {lock_timeout}s: held by session "
                    f"{holder or '(none: lock-delay after a failed holder)'} {value}. If that "
                    "member is stuck, fix it and run the state there, or release the lock: "
                    f"PUT {client.http.base_uri}/v1/session/destroy/{holder} with the Salt "
                    "token (docs/control-plane.md)",
                    info={"restarted": False},
                )
            time.sleep(interval)
    except BaseException:
        if session_id is not None:
            with contextlib.suppress(consul.ConsulException, requests.RequestException):
                client.session.destroy(session_id)
        raise


def _release(
    client: "consul.Consul",
    lock: str,
    session_id: str,
    value: str | None,
    timeout: float,
    interval: float,
) -> None:
    """Release ``lock`` (writing ``value`` unless None) and destroy the session; bounded.

    The release often falls while the Consul servers restart (a configuration change restarts
    them in the same highstate): an agent's 500, or no answer, is retried for ``timeout``
    seconds, since a session left behind would hold the lock and stop every other member. A
    refusal (403) is not retried."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if value is not None:
                client.kv.put(lock, value, release=session_id)
            client.session.destroy(session_id)
            return
        except consul.ACLPermissionDenied:
            raise
        except (consul.ConsulException, requests.RequestException) as err:
            if time.monotonic() + interval > deadline:
                raise
            log.warning("Releasing the lock %s: %s; trying again", lock, _first_line(err))
        time.sleep(interval)


@contextmanager
def _agent_errors(client: "consul.Consul", action: str, restarted: bool) -> Iterator[None]:
    """Turn py-consul and transport errors into CommandExecutionError (``info.restarted``)."""
    try:
        yield
    except (consul.ConsulException, requests.RequestException) as err:
        raise CommandExecutionError(
            f"Consul agent at {client.http.base_uri}: {action} failed: {err}",
            info={"restarted": restarted},
        ) from err


def _restart_locked(
    client: "consul.Consul",
    name: str,
    lock: str,
    health: str,
    health_kwargs: dict[str, Any],
    timeout: float,
    lock_timeout: float,
    interval: float,
    ready: str | None = None,
    ready_kwargs: dict[str, Any] | None = None,
    ready_timeout: float | None = None,
) -> Any:
    ready_wait = (ready, ready_kwargs or {}, ready_timeout or timeout, interval, None)
    if ready:
        # Ready before the lock too: a member that is to make this one ready (a ZooKeeper
        # leader on its way out, handing over) may need the lock to do so.
        _wait_ready(*ready_wait)
    with _agent_errors(client, f"taking the lock {lock}", restarted=False):
        node = client.agent.self()["Config"]["NodeName"]
        session_id = _acquire(client, lock, name, node, lock_timeout, interval)
    try:
        if ready:
            # The lock says no other member restarts; `ready` says the cluster can lose this
            # one now. Both are needed where the lock lives in the very program restarted
            # (Consul): its session may end with the restart, before the member is back.
            _wait_ready(*ready_wait)
        answer = _restart_and_wait(name, health, health_kwargs, timeout, interval)
    except CommandExecutionError as err:
        if not (err.info or {}).get("restarted"):
            # Not ready: nothing was restarted, the next run tries again.
            with _agent_errors(client, f"releasing the lock {lock}", restarted=False):
                _release(client, lock, session_id, None, timeout, interval)
            raise
        # Keep the lock: the other members must not restart into the same failure.
        try:
            client.kv.put(
                lock, _lock_value(node, name, f"unhealthy: {_first_line(err)}"), acquire=session_id
            )
        except (consul.ConsulException, requests.RequestException) as mark_error:
            log.error("Could not record the failure in the lock %s: %s", lock, mark_error)
        raise CommandExecutionError(
            f"{err}\nKept the Consul lock {lock} (session {session_id}) so that no other member "
            "restarts: fix the cause and run the state again on this host",
            info=err.info,
        ) from err
    with _agent_errors(client, f"releasing the lock {lock} (session {session_id})", restarted=True):
        _release(client, lock, session_id, _lock_value(node, name, "done"), timeout, interval)
    return answer


def restart(
    name: str,
    lock: str,
    health: str,
    timeout: float = 300,
    lock_timeout: float = 1800,
    interval: float = 2,
    health_kwargs: dict[str, Any] | None = None,
    url: str | None = None,
    ready: str | None = None,
    ready_kwargs: dict[str, Any] | None = None,
    ready_timeout: float | None = None,
) -> dict[str, Any]:
    """
    Restart the service ``name`` under the Consul lock ``lock``, then wait until healthy.

    With ``ready`` (an execution function, called with ``ready_kwargs``), waits at most
    ``ready_timeout`` seconds (default ``timeout``) for it to answer truthy (the cluster can
    lose this member now), first without the lock, so that another member may use the lock
    to make it so, and again once holding it. Waits at most ``lock_timeout`` seconds for the
    lock (other members restarting). Then it restarts and waits at most
    ``timeout`` seconds for ``health`` (an execution function, called with ``health_kwargs``)
    to answer truthy. Returns ``{"service", "lock", "health"}``; ``lock`` is
    None when the agent knows no leader and the restart went ahead without one. Raises
    CommandExecutionError when the agent cannot be reached, the lock is not free in time, or
    the service does not come back (then the lock is kept; see the module's description); its
    ``info["restarted"]`` tells whether the service was restarted before the failure.

    CLI Example:

    .. code-block:: bash

        salt-call rolling_restart.restart zookeeper platform/locks/dc1/zookeeper \\
            zookeeper_probe.serving
    """
    health_kwargs = health_kwargs or {}
    # Bad arguments fail here, before anything is locked or restarted.
    _check_interval(interval)
    _health_function(health)
    if ready:
        _health_function(ready)
    client = _client(url)
    with _agent_errors(client, "reading the raft leader", restarted=False):
        leader = client.status.leader()
    if leader:
        answer = _restart_locked(
            client, name, lock, health, health_kwargs, timeout, lock_timeout, interval, ready,
            ready_kwargs, ready_timeout,
        )
        return {"service": name, "lock": lock, "health": answer}
    log.warning("No Consul leader: restarting %s without the lock %s", name, lock)
    answer = _restart_and_wait(name, health, health_kwargs, timeout, interval)
    return {"service": name, "lock": None, "health": answer}


def _own_stale_session(client: "consul.Consul", lock: str, name: str) -> str:
    """The session holding ``lock`` if an earlier run on this node left it for ``name``."""
    node = client.agent.self()["Config"]["NodeName"]
    holder, _ = _holder(client, lock)
    if holder and _is_own_stale_session(client, holder, node, f"rolling-restart {name}"):
        return holder
    return ""


def stale_session(lock: str, name: str, url: str | None = None) -> str:
    """
    The session by which an earlier run on this host still holds ``lock`` for ``name``.

    A run keeps the lock when the service does not come back healthy; ``""`` when it holds
    none.

    CLI Example:

    .. code-block:: bash

        salt-call rolling_restart.stale_session platform/locks/dc1/zookeeper zookeeper
    """
    client = _client(url)
    with _agent_errors(client, f"reading the lock {lock}", restarted=False):
        return _own_stale_session(client, lock, name)


def release(lock: str, name: str, url: str | None = None) -> bool:
    """
    Release ``lock`` if an earlier run on this host kept it for ``name``; True if it did.

    The health gate calls it once the service is healthy again, so that the other members
    can go on with their restarts.

    CLI Example:

    .. code-block:: bash

        salt-call rolling_restart.release platform/locks/dc1/zookeeper zookeeper
    """
    client = _client(url)
    with _agent_errors(client, f"releasing the lock {lock}", restarted=False):
        session_id = _own_stale_session(client, lock, name)
        if not session_id:
            return False
        client.kv.put(lock, None, release=session_id)
        client.session.destroy(session_id)
    log.warning("Released the lock %s kept by an earlier run (session %s)", lock, session_id)
    return True


def wait_healthy(
    health: str,
    timeout: float = 300,
    interval: float = 2,
    health_kwargs: dict[str, Any] | None = None,
    service: str | None = None,
) -> Any:
    """
    Wait at most ``timeout`` seconds until ``health`` answers truthy; return its answer.

    Otherwise raise CommandExecutionError with the function's last answer or error and, when
    ``service`` names a systemd unit, the tail of its journal.

    CLI Example:

    .. code-block:: bash

        salt-call rolling_restart.wait_healthy zookeeper_probe.serving timeout=60 \\
            service=zookeeper
    """
    _check_interval(interval)
    return _wait_healthy(health, health_kwargs or {}, timeout, interval, service)
