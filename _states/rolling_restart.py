"""
Rolling restarts and health gates of quorum services (ZooKeeper, Mesos masters, Marathon).

Thin wrappers over the ``rolling_restart`` execution module.
"""

from typing import Any

from salt.exceptions import CommandExecutionError, SaltException

__virtualname__ = "rolling_restart"


def __virtual__():
    if "rolling_restart.restart" in __salt__:
        return __virtualname__
    return (False, "the rolling_restart execution module is not loaded (is py-consul installed?)")


def _testing() -> bool:
    return bool(__opts__["test"])


def _restarted_before_failing(err: SaltException) -> bool:
    return isinstance(err, CommandExecutionError) and bool((err.info or {}).get("restarted"))


def restarted(
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
    Restart the running service ``name`` one member at a time, under the Consul lock ``lock``.

    Meant for ``onchanges`` on the service's configuration, ordered BEFORE its
    ``service.running``: a service that is not running is left to ``service.running``, which
    starts it with the new configuration (no change here). A running one is restarted holding
    the lock, and the lock is released once ``health`` (an execution function, with
    ``health_kwargs``) answers truthy within ``timeout`` seconds. Without a Consul leader
    (first bring-up) the restart goes ahead without the lock, and the comment says so. With
    ``ready`` (an execution function, called with ``ready_kwargs``), the member holding the
    lock waits until it answers truthy, at most ``ready_timeout`` seconds (default
    ``timeout``), before restarting: the cluster can lose the member now.

    .. code-block:: yaml

        zookeeper-service-running-rolling-restart-restarted:
          rolling_restart.restarted:
            - name: zookeeper
            - lock: platform/locks/dc1/zookeeper
            - health: zookeeper_probe.serving
            - timeout: 180
            - onchanges:
              - sls: zookeeper.config
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        if not __salt__["service.status"](name):
            ret["comment"] = (
                f"{name} is not running: nothing to restart (service.running starts it with "
                "the new configuration)"
            )
            return ret
        ret["changes"] = {"restarted": name}
        if _testing():
            ret["result"] = None
            ret["comment"] = (
                f"Would restart {name} holding the Consul lock {lock} (without it if Consul "
                f"has no leader), then wait up to {timeout}s for {health}"
            )
            return ret
        outcome = __salt__["rolling_restart.restart"](
            name,
            lock,
            health,
            timeout=timeout,
            lock_timeout=lock_timeout,
            interval=interval,
            health_kwargs=health_kwargs,
            url=url,
            ready=ready,
            ready_kwargs=ready_kwargs,
            ready_timeout=ready_timeout,
        )
    except SaltException as err:
        if not _restarted_before_failing(err):
            ret["changes"] = {}
        ret["result"] = False
        ret["comment"] = str(err)
        return ret
    if outcome["lock"]:
        how = f"holding the Consul lock {outcome['lock']}"
    else:
        how = (
            f"WITHOUT the lock {lock}: the Consul agent knows no leader, so there is no "
            "running quorum to protect (first bring-up)"
        )
    ret["comment"] = f"Restarted {name} {how}; {health} answered {outcome['health']!r}"
    return ret


def _release_stale_lock(ret: dict[str, Any], name: str, lock: str, url: str | None) -> None:
    """Release the lock an earlier unhealthy run on this host kept, now that it is healthy."""
    try:
        if not __salt__["rolling_restart.stale_session"](lock, name, url=url):
            return
        ret["changes"] = {"released": lock}
        if _testing():
            ret["result"] = None
            ret["comment"] += f"; would release the Consul lock {lock} kept by an earlier run"
            return
        __salt__["rolling_restart.release"](lock, name, url=url)
    except SaltException as err:
        # The service is healthy: a Consul that cannot answer does not make it less so.
        ret["changes"] = {}
        ret["comment"] += f"; could not check the Consul lock {lock}: {err}"
        return
    ret["comment"] += f"; released the Consul lock {lock} kept by an earlier run"


def healthy(
    name: str,
    health: str,
    timeout: float = 300,
    interval: float = 2,
    health_kwargs: dict[str, Any] | None = None,
    lock: str | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """
    Health gate: green only when ``health`` answers truthy within ``timeout`` seconds.

    ``name`` is the systemd unit: when the gate fails, the comment carries the health
    function's last answer and the tail of the unit's journal. With ``lock`` (the one of
    ``restarted``), a healthy service also releases that lock if an earlier run on this host
    kept it (its restart had failed): the only change this state makes. With ``test=True``
    it asks once, without waiting.

    .. code-block:: yaml

        zookeeper-service-running-rolling-restart-healthy:
          rolling_restart.healthy:
            - name: zookeeper
            - health: zookeeper_probe.serving
            - timeout: 180
            - lock: platform/locks/dc1/zookeeper
            - require:
              - service: zookeeper-service-running-service-running
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    wait = 0 if _testing() else timeout
    try:
        answer = __salt__["rolling_restart.wait_healthy"](
            health,
            timeout=wait,
            interval=interval,
            health_kwargs=health_kwargs,
            service=None if _testing() else name,
        )
    except SaltException as err:
        if _testing():
            ret["result"] = None
            ret["comment"] = f"Would wait up to {timeout}s for {health}; now: {err}"
        else:
            ret["result"] = False
            ret["comment"] = str(err)
        return ret
    ret["comment"] = f"{name} is healthy: {health} answered {answer!r}"
    if lock:
        _release_stale_lock(ret, name, lock, url)
    return ret
