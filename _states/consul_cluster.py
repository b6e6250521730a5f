"""
Consul cluster states: WAN federation, the leader health gate and a former server's leave.

Thin wrappers over the ``consul_cluster`` execution module.
"""

import os
import time
from typing import Any

from salt.exceptions import SaltException

__virtualname__ = "consul_cluster"

# Port of the Serf WAN pool when a peer is given without one.
DEFAULT_SERF_WAN_PORT = 8302
# Seconds by which the highstates of one converge may start apart (leader_restarts_last).
RUN_SKEW = 60
# Members in these states are no longer part of the pool and need a new join.
GONE_STATUSES = ("left", "none")


def __virtual__():
    if "consul_cluster.leader" in __salt__:
        return __virtualname__
    return (False, "the consul_cluster execution module is not loaded (is py-consul installed?)")


def _salt(function: str, *args: Any, **kwargs: Any) -> Any:
    return __salt__[f"consul_cluster.{function}"](*args, **kwargs)


def _testing() -> bool:
    return bool(__opts__["test"])


def _run_started() -> float:
    """When this process started, in seconds since the epoch: the highstate's salt-call (or a
    minion's job); now if /proc does not tell."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            # Field 22, starttime, in clock ticks after boot; fields 3 on follow the ")".
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat", encoding="ascii") as kernel:
            boot = next(int(line.split()[1]) for line in kernel if line.startswith("btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _endpoint(peer: str) -> tuple[str, int]:
    """``(address, port)`` of a peer given as ``address``, ``address:port`` or ``[v6]:port``."""
    host, separator, port = peer.rpartition(":")
    if separator and port.isdigit() and (":" not in host or host.startswith("[")):
        return host.strip("[]"), int(port)
    return peer.strip("[]"), DEFAULT_SERF_WAN_PORT


def _missing_peers(peers: list[str], members: list[dict[str, Any]]) -> list[str]:
    """Peers, in the given order and without repeats, that are not in the WAN pool."""
    present = {
        (member["address"], member["port"])
        for member in members
        if member["status"] not in GONE_STATUSES
    }
    return [peer for peer in dict.fromkeys(peers) if _endpoint(peer) not in present]


def wan_joined(
    name: str,
    peers: list[str],
    url: str | None = None,
    timeout: float = 180,
    interval: float = 5,
) -> dict[str, Any]:
    """
    Make sure the local Consul server is joined over the WAN to ``peers``.

    ``peers`` are the servers of the other datacenters, as addresses (``quorum.wan_peers``);
    a peer without a port means the Serf WAN port 8302. Only peers that are not WAN members
    yet (or that left) are joined; they are listed in ``changes: {joined: [...]}``. A peer
    that refuses is tried again every ``interval`` seconds for up to ``timeout`` seconds:
    on a new site the other datacenters converge at the same time and their servers may not
    answer yet.

    .. code-block:: yaml

        consul-cluster-wan-joined:
          consul_cluster.wan_joined:
            - peers: {{ salt["quorum.wan_peers"]() | json }}
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    if not isinstance(peers, list):
        ret["result"] = False
        ret["comment"] = f"peers must be a list of addresses, not {peers!r}"
        return ret
    joined: list[str] = []
    try:
        try:
            members = _salt("wan_members", url=url)
        except SaltException as err:
            if not _testing():
                raise
            # A bare host in a dry run: no agent yet, so every peer would be joined.
            ret.update(result=None, changes={"joined": list(dict.fromkeys(peers))})
            ret["comment"] = f"No Consul agent answers yet ({err}); would join every WAN peer"
            return ret
        missing = _missing_peers(peers, members)
        if not missing:
            ret["comment"] = f"All {len(peers)} WAN peers are members already"
            return ret
        ret["changes"] = {"joined": missing}
        if _testing():
            ret["result"] = None
            ret["comment"] = f"Would join over the WAN: {', '.join(missing)}"
            return ret
        deadline = time.monotonic() + timeout
        while True:
            refused = _join_each(missing, joined, url)
            if not refused:
                break
            if time.monotonic() + interval > deadline:
                raise SaltException("; ".join(refused.values()))
            time.sleep(interval)
            missing = list(refused)
    except SaltException as err:
        # Report the peers joined before the failure: they did change.
        ret["changes"] = {"joined": joined} if joined else {}
        ret["result"] = False
        ret["comment"] = str(err)
        return ret
    ret["comment"] = f"Joined over the WAN: {', '.join(joined)}"
    return ret


def _join_each(peers: list[str], joined: list[str], url: str | None) -> dict[str, str]:
    """Join every peer; append the ones joined to ``joined``; return the others' errors."""
    refused = {}
    for peer in peers:
        try:
            _salt("join_wan", peer, url=url)
        except SaltException as err:
            refused[peer] = str(err)
        else:
            joined.append(peer)
    return refused


def _newest_write(paths: list[str]) -> float | None:
    """When the newest of ``paths`` was written (a symlink's own time: a new binary is a
    re-pointed link); None if none exists."""
    times = []
    for path in paths:
        try:
            times.append(os.lstat(path).st_mtime)
        except FileNotFoundError:
            continue
    return max(times, default=None)


def leader_restarts_last(
    name: str,
    changed_files: list[str],
    timeout: float = 300,
    interval: float = 2,
    url: str | None = None,
    run_skew: float = RUN_SKEW,
) -> dict[str, Any]:
    """
    Before a server restarts for a changed configuration or binary: on the raft leader, wait
    until every other server has restarted since the change (at most ``timeout`` seconds),
    so that the leader restarts last. Changes nothing; fails only when the agent of a
    running ``name`` service does not answer.

    The change is as old as the newest write of ``changed_files`` (the files whose change
    restarts the agent: its configuration, unit and binary link) or this run, whichever is
    earlier, less ``run_skew`` seconds: the highstates of a datacenter run side by side, and
    a follower may restart for the new configuration before the leader's own run writes it,
    even before it starts (salt-ssh renders every host before it runs it: on the lab, a
    follower restarted before the leader's run began, and the leader waited its whole
    ``timeout`` with the datacenter on two configurations). A restart counted that was for an
    earlier change costs one more election at most: the lock and autopilot's health gate
    every restart.

    .. code-block:: yaml

        consul-leader-restarts-last:
          consul_cluster.leader_restarts_last:
            - name: consul
            - changed_files: [/etc/consul.d/consul.json, /usr/local/bin/consul]
            - onchanges:
              - sls: consul.config.file
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    if _testing():
        ret["comment"] = (
            f"On the raft leader, would wait up to {timeout}s for the other servers to restart"
        )
        return ret
    if not __salt__["service.status"](name):
        # A first bring-up (or a stopped agent): no leader here to hold back.
        ret["comment"] = f"{name} is not running: nothing to wait for"
        return ret
    started = _run_started() - run_skew
    written = _newest_write(changed_files)
    changed_since = started if written is None else min(written, started)
    try:
        ret["comment"] = _salt(
            "wait_for_followers", changed_since, timeout=timeout, interval=interval, url=url
        )
    except SaltException as err:
        ret["result"] = False
        ret["comment"] = str(err)
    return ret


def server_left(
    name: str, data_dir: str, timeout: float = 300, interval: float = 2, url: str | None = None
) -> dict[str, Any]:
    """
    On a host that is no longer a control node: an agent that still runs as a server leaves
    the raft peers gracefully (``consul_cluster.leave``: once autopilot reports every server
    healthy) and stops, so that it restarts as a client; then its raft data
    (``data_dir``/raft) goes, so that the host never rejoins a datacenter with an old raft
    state. A host without raft data was never a server: nothing is asked of its agent.

    .. code-block:: yaml

        consul-service-running-consul-cluster-server-left:
          consul_cluster.server_left:
            - name: consul
            - data_dir: /var/lib/consul
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    raft_dir = os.path.join(data_dir, "raft")
    if not os.path.isdir(raft_dir):
        ret["comment"] = f"no raft data in {data_dir}: this agent is no former server"
        return ret
    try:
        serving = __salt__["service.status"](name) and _salt("is_server", url=url)
        if serving:
            ret["changes"]["left"] = "the raft peers"
        ret["changes"]["removed"] = raft_dir
        if _testing():
            ret["result"] = None
            ret["comment"] = (
                f"{name} was a server on this host, which is no longer a control node: would "
                + ("leave the raft peers once every server is healthy, then " if serving else "")
                + f"remove {raft_dir}"
            )
            return ret
        comment = ""
        if serving:
            comment = _salt("leave", timeout=timeout, interval=interval, url=url)
            # The agent exits after leaving; systemd's stop waits until it has.
            __salt__["service.stop"](name)
        __salt__["file.remove"](raft_dir)
    except SaltException as err:
        ret["changes"] = {}
        ret["result"] = False
        ret["comment"] = str(err)
        return ret
    ret["comment"] = "; ".join(filter(None, [comment, f"removed {raft_dir}"]))
    return ret


def leader_elected(
    name: str, timeout: float = 120, interval: float = 2, url: str | None = None
) -> dict[str, Any]:
    """
    Health gate: green only when the agent answers with a raft leader within ``timeout``.

    Changes nothing; on failure the comment carries the agent's last error.

    .. code-block:: yaml

        consul-service-leader-elected:
          consul_cluster.leader_elected:
            - timeout: 120
            - require:
              - service: consul-service-running-service-running
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    if _testing():
        # A dry run looks once and waits for nothing.
        try:
            current = _salt("leader", url=url)
        except SaltException:
            current = ""
        if current:
            ret["comment"] = f"Consul leader is {current}"
        else:
            ret["result"] = None
            ret["comment"] = f"Would wait up to {timeout}s for a Consul leader"
        return ret
    try:
        current = _salt("wait_for_leader", timeout=timeout, interval=interval, url=url)
    except SaltException as err:
        ret["result"] = False
        ret["comment"] = str(err)
        return ret
    ret["comment"] = f"Consul leader is {current}"
    return ret
