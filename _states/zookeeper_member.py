"""
A ZooKeeper member on its way out of the ensemble: the states of a host that is no longer a
control node.

Thin wrappers over the ``zookeeper_probe`` and ``rolling_restart`` execution modules.
"""

from typing import Any

from salt.exceptions import CommandExecutionError, SaltException

__virtualname__ = "zookeeper_member"


def __virtual__():
    if "zookeeper_probe.released" in __salt__ and "rolling_restart.restart" in __salt__:
        return __virtualname__
    return (False, "the zookeeper_probe and rolling_restart execution modules are not loaded")


def _server_id(myid_file: str) -> str:
    try:
        with open(myid_file, encoding="ascii") as myid:
            server_id = myid.read().strip()
    except OSError as err:
        raise CommandExecutionError(f"cannot read the member's id from {myid_file}: {err}") from err
    if not server_id.isdigit():
        raise CommandExecutionError(f"{myid_file} holds {server_id!r}, not a server id")
    return server_id


def left(
    name: str,
    myid_file: str,
    members: list[str],
    lock: str,
    port: int = 2181,
    timeout: float = 900,
    health_timeout: float = 180,
    interval: float = 2,
) -> dict[str, Any]:
    """
    The running member ``name`` (the service) leaves the ensemble of ``members`` (the
    addresses of the control nodes that stay): if it leads, it hands the lead over first (a
    restart under the datacenter's lock ``lock``, once every other member serves), so that
    the members that stay can follow a leader of their own list; then it waits, at most
    ``timeout`` seconds, until none of them runs with it in its ensemble (they restart with
    the new list, one at a time) and stops. Until then it keeps serving as one of the
    quorum: the quorum never depends on a member that has stopped.

    .. code-block:: yaml

        zookeeper-service-clean-zookeeper-member-left:
          zookeeper_member.left:
            - name: zookeeper
            - myid_file: /var/lib/zookeeper/myid
            - members: [10.0.1.11, 10.0.1.12, 10.0.1.13]
            - lock: platform/locks/dc1/zookeeper
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    if not __salt__["service.status"](name):
        ret["comment"] = f"{name} is not running: no member to leave the ensemble"
        return ret
    steps: list[str] = []
    try:
        server_id = _server_id(myid_file)
        ret["changes"] = {"left": f"server.{server_id}"}
        if __opts__["test"]:
            ret["result"] = None
            ret["comment"] = (
                f"server.{server_id} would leave the ensemble once {', '.join(members)} run "
                "without it, handing over its lead first if it leads"
            )
            return ret
        if __salt__["zookeeper_probe.serving"](port=port) == "leader":
            __salt__["rolling_restart.restart"](
                name, lock, "zookeeper_probe.serving", timeout=health_timeout,
                interval=interval, health_kwargs={"port": port},
                ready="zookeeper_probe.ensemble_ready",
                ready_kwargs={"members": members, "port": port}, ready_timeout=timeout,
            )
            steps.append("handed its lead over")
        __salt__["rolling_restart.wait_healthy"](
            "zookeeper_probe.released",
            timeout=timeout,
            interval=interval,
            health_kwargs={"members": members, "server_id": server_id, "port": port},
        )
        if not __salt__["service.stop"](name):
            raise CommandExecutionError(f"systemd could not stop {name}")
    except SaltException as err:
        # Only a hand-over changed anything before the failure.
        ret["changes"] = {"restarted": "to hand its lead over"} if steps else {}
        ret["result"] = False
        ret["comment"] = "; ".join([*steps, str(err)])
        return ret
    steps.append(f"stopped once {', '.join(members)} ran without it")
    ret["comment"] = f"server.{server_id} left the ensemble: " + "; ".join(steps)
    return ret
