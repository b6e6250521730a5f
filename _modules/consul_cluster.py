"""
Consul cluster operations through the agent's HTTP API, with py-consul.

The agent URL comes from the ``url`` argument, else from ``consul_cluster:url`` in the
minion config or pillar (default ``http://127.0.0.1:8500``); the ACL token and the CA file
of an HTTPS agent as ``consul_agent``'s client chooses them (``consul_cluster:token``, else
the Salt token's file; ``consul_cluster:ca_file``). Salt's own consul module sends GET for an agent join, which Consul
rejects; py-consul's ``agent.join`` sends the PUT Consul expects.
"""

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    import consul
    import requests

    HAS_CONSUL = True
except ImportError:
    HAS_CONSUL = False

log = logging.getLogger(__name__)

__virtualname__ = "consul_cluster"

# Serf member status codes as /v1/agent/members reports them.
MEMBER_STATUS = {0: "none", 1: "alive", 2: "leaving", 3: "left", 4: "failed"}
# Seconds a question to an agent that may have stopped may take.
MIN_WAIT = 2


def __virtual__():
    if not HAS_CONSUL:
        return (False, "py-consul is not installed")
    return __virtualname__


def _agent_url(url: str | None) -> str:
    return __utils__["consul_agent.agent_url"](url)


def _client(url: str, time_left: float | None = None) -> "consul.Consul":
    return __utils__["consul_agent.client"](url, time_left=time_left)


@contextmanager
def _agent_errors(url: str, action: str) -> Iterator[None]:
    """Turn py-consul and transport errors into CommandExecutionError."""
    try:
        yield
    except (consul.ConsulException, requests.RequestException) as err:
        raise CommandExecutionError(f"Consul agent at {url}: {action} failed: {err}") from err


def _leader(url: str, time_left: float | None = None) -> str:
    with _agent_errors(url, "reading the raft leader"):
        return _client(url, time_left).status.leader() or ""


def leader(url: str | None = None) -> str:
    """
    Address (``ip:port``) of the raft leader as the agent sees it, ``""`` if there is none.

    CLI Example:

    .. code-block:: bash

        salt-call consul_cluster.leader
        salt-call consul_cluster.leader url=http://10.0.1.11:8500
    """
    return _leader(_agent_url(url))


def _check_interval(interval: float) -> None:
    if interval <= 0:
        raise SaltInvocationError(f"interval must be positive, not {interval}")


def wait_for_leader(timeout: float = 120, interval: float = 2, url: str | None = None) -> str:
    """
    Wait at most ``timeout`` seconds for a raft leader and return its address.

    Asks every ``interval`` seconds; raises CommandExecutionError with the last error when no
    leader shows up in time.

    CLI Example:

    .. code-block:: bash

        salt-call consul_cluster.wait_for_leader timeout=60
    """
    _check_interval(interval)
    url = _agent_url(url)
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        try:
            current = _leader(url, time_left=remaining)
        except CommandExecutionError as err:
            last_error = str(err)
        else:
            if current:
                return current
            last_error = f"Consul agent at {url} answers but knows no leader"
        if time.monotonic() + interval > deadline:
            raise CommandExecutionError(f"no Consul leader within {timeout}s: {last_error}")
        time.sleep(interval)


def raft_peers(url: str | None = None) -> list[str]:
    """
    Server addresses (``ip:port``) in the raft configuration of the agent's datacenter.

    CLI Example:

    .. code-block:: bash

        salt-call consul_cluster.raft_peers
    """
    url = _agent_url(url)
    with _agent_errors(url, "reading the raft peers"):
        return _client(url).status.peers() or []


def servers_healthy(url: str | None = None) -> str:
    """
    Whether the agent's datacenter can lose a server now: a raft leader, and autopilot reports
    every server healthy (up, in step with the leader, stable for its stabilization time).

    Returns a short account (``"leader 10.0.1.11:8300, 3 of 3 servers healthy, failure
    tolerance 1"``) when healthy, else an empty string: a health function for
    ``rolling_restart``. Raises CommandExecutionError when the agent does not answer.

    CLI Example:

    .. code-block:: bash

        salt-call consul_cluster.servers_healthy
    """
    url = _agent_url(url)
    with _agent_errors(url, "reading autopilot's server health"):
        client = _client(url)
        leader = client.status.leader()
        health = client.operator.autopilot_health() if leader else {}
    servers = health.get("Servers") or []
    healthy = sum(1 for server in servers if server.get("Healthy"))
    if not leader or not health.get("Healthy"):
        log.debug("Consul servers not healthy: leader %r, %s of %s", leader, healthy, len(servers))
        return ""
    return (
        f"leader {leader}, {healthy} of {len(servers)} servers healthy, failure tolerance "
        f"{health.get('FailureTolerance')}"
    )


def is_server(url: str | None = None) -> bool:
    """
    Whether the agent runs as a server.

    CLI Example:

    .. code-block:: bash

        salt-call consul_cluster.is_server
    """
    url = _agent_url(url)
    with _agent_errors(url, "reading the agent's configuration"):
        return bool(_client(url).agent.self()["Config"]["Server"])


def _answers(url: str) -> bool:
    try:
        _leader(url, time_left=MIN_WAIT)
    except CommandExecutionError:
        return False
    return True


def leave(timeout: float = 300, interval: float = 2, url: str | None = None) -> str:
    """
    The agent leaves its datacenter gracefully and stops. A server first waits, at most
    ``timeout`` seconds, until autopilot reports every server healthy (the datacenter can
    lose it now), then leaves the raft peers: the quorum shrinks with it and is never lost.
    Returns what happened; raises CommandExecutionError when the servers are not healthy in
    time or the agent still answers ``timeout`` seconds after leaving.

    CLI Example:

    .. code-block:: bash

        salt-call consul_cluster.leave timeout=120
    """
    _check_interval(interval)
    url = _agent_url(url)
    deadline = time.monotonic() + timeout
    healthy = ""
    if is_server(url):
        while not (healthy := servers_healthy(url)):
            if time.monotonic() + interval > deadline:
                raise CommandExecutionError(
                    f"the Consul servers were not all healthy within {timeout}s: this server "
                    "does not leave (the datacenter could lose its quorum); run again once "
                    "`consul operator autopilot state` shows them healthy"
                )
            time.sleep(interval)
    try:
        _client(url).agent.leave()
    except requests.Timeout:
        # A server's graceful leave outlasts a request (Consul 1.8: about 10 s); it goes on.
        log.debug("Consul agent at %s is still leaving", url)
    except (consul.ConsulException, requests.RequestException) as err:
        raise CommandExecutionError(f"Consul agent at {url}: leaving failed: {err}") from err
    while _answers(url):
        if time.monotonic() + interval > deadline:
            raise CommandExecutionError(
                f"Consul agent at {url} still answers {timeout}s after leaving"
            )
        time.sleep(interval)
    return f"left the datacenter ({healthy})" if healthy else "left the datacenter"


def _timestamp(value: str | None) -> float:
    """Seconds since the epoch of a time Consul writes (RFC 3339, nanoseconds); 0 if none."""
    if not value:
        return 0.0
    value = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return 0.0


def _servers_behind(url: str, changed_since: float) -> tuple[str, list[str]]:
    """This agent's node name if it is the raft leader (else ""), and the other servers that
    have not been stable since ``changed_since``: they have not restarted since."""
    client = _client(url)
    node = client.agent.self()["Config"]["NodeName"]
    servers = client.operator.autopilot_health().get("Servers") or []
    if not any(server.get("Leader") and server.get("Name") == node for server in servers):
        return "", []
    return node, [
        server.get("Name", "?")
        for server in servers
        if server.get("Name") != node and _timestamp(server.get("StableSince")) < changed_since
    ]


def wait_for_followers(
    changed_since: float, timeout: float = 300, interval: float = 2, url: str | None = None
) -> str:
    """
    On the raft leader, wait until every other server has restarted since ``changed_since``
    (autopilot's StableSince is later), at most ``timeout`` seconds: the leader restarts
    last, so that a datacenter elects a new leader once, among servers that already run the
    new configuration. Returns what happened; on a server that is not the leader, at once.

    CLI Example:

    .. code-block:: bash

        salt-call consul_cluster.wait_for_followers 1764400000 timeout=120
    """
    _check_interval(interval)
    url = _agent_url(url)
    deadline = time.monotonic() + timeout
    while True:
        with _agent_errors(url, "reading autopilot's server health"):
            leader, behind = _servers_behind(url, changed_since)
        if not leader:
            return "not the raft leader: nothing to wait for"
        if not behind:
            return f"{leader} is the leader: every other server restarted after the change"
        if time.monotonic() + interval > deadline:
            return (
                f"{leader} is the leader; {', '.join(behind)} did not restart within "
                f"{timeout}s (their change may need none): the leader restarts now"
            )
        time.sleep(interval)


def wan_members(url: str | None = None) -> list[dict[str, Any]]:
    """
    WAN members the agent (a server) sees: ``{"name", "address", "port", "datacenter", "status"}``.

    ``status`` is one of alive, leaving, left, failed, none.

    CLI Example:

    .. code-block:: bash

        salt-call consul_cluster.wan_members
    """
    url = _agent_url(url)
    with _agent_errors(url, "listing WAN members"):
        members = _client(url).agent.members(wan=True)
    return [
        {
            "name": member["Name"],
            "address": member["Addr"],
            "port": member["Port"],
            "datacenter": (member.get("Tags") or {}).get("dc", ""),
            "status": MEMBER_STATUS.get(member["Status"], str(member["Status"])),
        }
        for member in members or []
    ]


def join_wan(address: str, url: str | None = None) -> bool:
    """
    Join the agent to a server of another datacenter over the WAN pool.

    Sends ``PUT /v1/agent/join/<address>?wan=1``; ``address`` may carry a port
    (``10.0.0.21:8302``). Returns True or raises CommandExecutionError.

    CLI Example:

    .. code-block:: bash

        salt-call consul_cluster.join_wan 10.0.0.21
    """
    url = _agent_url(url)
    log.debug("Joining the Consul agent at %s to %s over the WAN", url, address)
    with _agent_errors(url, f"WAN join of {address}"):
        joined = _client(url).agent.join(address, wan=True)
    if not joined:
        raise CommandExecutionError(f"Consul agent at {url}: WAN join of {address} was refused")
    return True
