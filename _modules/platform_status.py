"""
One host's view of the platform, for the operator's status across datacenters
(``scripts/status`` folds every host's answer into one table per datacenter).

``platform.status`` asks the host's own programs, read-only: its Consul agent (leader, raft
peers, autopilot's server health and the WAN members on a server, the checks that fail) and,
on a control node, ZooKeeper (its mode). A program that does not answer is reported with its
error, never raised: the status of a half-broken site is what the operator needs most.
"""

from collections.abc import Callable
from typing import Any

from salt.exceptions import SaltException

__virtualname__ = "platform"


def __virtual__():
    if "consul_cluster.leader" not in __salt__:
        return (False, "the consul_cluster module is not loaded (is py-consul installed?)")
    return __virtualname__


def _answer(ask: Callable[[], Any]) -> dict[str, Any]:
    """``{"value": ...}``, or ``{"error": ...}`` when the program does not answer."""
    try:
        return {"value": ask()}
    except SaltException as err:
        return {"error": str(err).partition("\n")[0]}


def _consul(url: str | None) -> dict[str, Any]:
    client = __utils__["consul_agent.client"](url)
    agent = client.agent.self()
    server = agent["Config"].get("Server", False)
    checks = client.agent.checks()
    view = {
        "node": agent["Config"]["NodeName"],
        "server": server,
        "leader": client.status.leader() or "",
        "failing_checks": sorted(
            check["Name"] for check in checks.values() if check.get("Status") != "passing"
        ),
    }
    if server:
        health = client.operator.autopilot_health()
        view["raft_peers"] = client.status.peers() or []
        view["autopilot"] = {
            "healthy": bool(health.get("Healthy")),
            "failure_tolerance": health.get("FailureTolerance"),
            "unhealthy": sorted(
                server_health.get("Name", "?")
                for server_health in health.get("Servers") or []
                if not server_health.get("Healthy")
            ),
        }
        view["wan_members"] = {
            wan["name"]: wan["status"] for wan in __salt__["consul_cluster.wan_members"](url=url)
        }
    return view


def _consul_view(url: str | None) -> dict[str, Any]:
    try:
        return {"value": _consul(url)}
    except Exception as err:  # noqa: BLE001 - any failure of the agent is its status
        return {"error": f"{type(err).__name__}: {err}".partition("\n")[0]}


def status(url: str | None = None) -> dict[str, Any]:
    """
    This host's view: ``{"id", "datacenter", "roles", "consul": {...}, "zookeeper": {...}}``,
    each program's part ``{"value": ...}`` or ``{"error": ...}``; ``zookeeper`` only on a
    host with the control role.

    CLI Example:

    .. code-block:: bash

        salt-ssh '*' platform.status
    """
    roles = __grains__.get("roles") or []
    roles = [roles] if isinstance(roles, str) else list(roles)
    view = {
        "id": __grains__.get("id"),
        "datacenter": __grains__.get("datacenter"),
        "roles": roles,
        "consul": _consul_view(url),
    }
    if "control" in roles:
        port = __salt__["pillar.get"]("zookeeper:ports:client")
        ports = {"port": port} if port else {}
        view["zookeeper"] = _answer(
            lambda: __salt__["zookeeper_probe.srvr"](**ports).get("mode", "")
        )
    return view
