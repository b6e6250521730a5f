"""
ZooKeeper four-letter words (``ruok``, ``srvr``, ``mntr``, ``conf``) over a plain TCP socket.

The health gate of the zookeeper formula and the rolling restarts ask a member through these
functions whether it serves; a change of the ensemble asks which servers each member runs
with (``conf``). Every call is bounded: connecting and reading together take at
most ``timeout`` seconds. A member that cannot be reached, or that refuses a word because it is
not in ``4lw.commands.whitelist``, raises CommandExecutionError; a member that answers but is
not serving (no quorum yet) is reported as such, not raised.
"""

import logging
import socket
import time
from typing import Any

from salt.exceptions import CommandExecutionError, SaltInvocationError

log = logging.getLogger(__name__)

__virtualname__ = "zookeeper_probe"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 2181
DEFAULT_TIMEOUT = 5.0
# Answers are a few hundred bytes; a peer that streams more is not a ZooKeeper.
MAX_ANSWER_BYTES = 1 << 20
# What a member without a quorum answers to srvr and mntr.
NOT_SERVING = "This ZooKeeper instance is not currently serving requests"
NOT_WHITELISTED = "is not executed because it is not in the whitelist"
WORDS = ("ruok", "srvr", "mntr", "conf")


def __virtual__():
    return __virtualname__


def _ask(word: str, host: str, port: int, timeout: float) -> str:
    """Send one four-letter word and read the answer until the server closes the socket."""
    if word not in WORDS:
        raise SaltInvocationError(f"unknown four-letter word {word!r}: use one of {WORDS}")
    if timeout <= 0:
        raise SaltInvocationError(f"timeout must be positive, not {timeout}")
    deadline = time.monotonic() + timeout
    answer = bytearray()
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as connection:
            connection.sendall(word.encode("ascii"))
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no complete answer within {timeout}s")
                connection.settimeout(remaining)
                chunk = connection.recv(65536)
                if not chunk:
                    break
                answer += chunk
                if len(answer) > MAX_ANSWER_BYTES:
                    raise CommandExecutionError(
                        f"ZooKeeper at {host}:{port}: answer to {word} exceeds "
                        f"{MAX_ANSWER_BYTES} bytes; is this port a ZooKeeper client port?"
                    )
    except OSError as err:
        raise CommandExecutionError(f"ZooKeeper at {host}:{port}: {word} failed: {err}") from err
    text = answer.decode("utf-8", errors="replace").strip()
    if NOT_WHITELISTED in text:
        raise CommandExecutionError(
            f"ZooKeeper at {host}:{port} refuses {word}: add it to 4lw.commands.whitelist in "
            "zoo.cfg (pillar zookeeper:config:4lw.commands.whitelist)"
        )
    return text


def _number(value: str) -> Any:
    """An int or float when ``value`` is one, else the text (zxids stay hexadecimal text)."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def _snake(name: str) -> str:
    return "_".join(name.strip().lower().split())


def _parse_srvr(text: str) -> dict[str, Any]:
    """
    The ``srvr`` answer as a dict with snake_case keys.

    ``Latency min/avg/max: 0/0.5/3`` becomes ``latency_min``, ``latency_avg``,
    ``latency_max``; ``serving`` is False (and ``mode`` absent) when the member has no quorum.
    """
    if NOT_SERVING in text:
        return {"serving": False, "message": NOT_SERVING}
    parsed: dict[str, Any] = {}
    for line in text.splitlines():
        name, separator, value = line.partition(":")
        if not separator:
            continue
        words = name.split()
        if words and "/" in words[-1]:
            # "Latency min/avg/max: 0/0.5/3": one key per part.
            prefix = _snake(" ".join(words[:-1]))
            for part, number in zip(words[-1].split("/"), value.strip().split("/"), strict=False):
                parsed[f"{prefix}_{part.lower()}"] = _number(number)
        else:
            parsed[_snake(name)] = _number(value.strip())
    if "mode" not in parsed:
        raise CommandExecutionError(f"srvr answer without a Mode line: {text[:200]!r}")
    parsed["serving"] = True
    return parsed


def _parse_mntr(text: str) -> dict[str, Any]:
    """The ``mntr`` answer (``key<TAB>value`` lines) as a dict; ``serving`` as in srvr."""
    if NOT_SERVING in text:
        return {"serving": False, "message": NOT_SERVING}
    parsed: dict[str, Any] = {}
    for line in text.splitlines():
        key, separator, value = line.partition("\t")
        if separator:
            parsed[key.strip()] = _number(value.strip())
    if "zk_server_state" not in parsed:
        raise CommandExecutionError(f"mntr answer without zk_server_state: {text[:200]!r}")
    parsed["serving"] = True
    return parsed


def ruok(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, timeout: float = DEFAULT_TIMEOUT
) -> bool:
    """
    Whether the member answers ``imok`` (it runs; it may still lack a quorum).

    CLI Example:

    .. code-block:: bash

        salt-call zookeeper_probe.ruok
        salt-call zookeeper_probe.ruok host=10.0.1.12
    """
    return _ask("ruok", host, port, timeout) == "imok"


def srvr(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, timeout: float = DEFAULT_TIMEOUT
) -> dict[str, Any]:
    """
    Server details; ``mode`` is leader, follower, standalone (or observer, read-only).

    CLI Example:

    .. code-block:: bash

        salt-call zookeeper_probe.srvr
    """
    return _parse_srvr(_ask("srvr", host, port, timeout))


def mntr(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, timeout: float = DEFAULT_TIMEOUT
) -> dict[str, Any]:
    """
    Monitoring variables (``zk_server_state``, ``zk_followers``, ``zk_znode_count``, ...).

    CLI Example:

    .. code-block:: bash

        salt-call zookeeper_probe.mntr
    """
    return _parse_mntr(_ask("mntr", host, port, timeout))


def serving(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, timeout: float = DEFAULT_TIMEOUT
) -> str:
    """
    The member's mode when it answers ``imok`` and serves clients, else ``""``.

    The health function of the zookeeper formula's gate and rolling restarts: truthy only
    when the member is part of a serving ensemble (or runs standalone).

    CLI Example:

    .. code-block:: bash

        salt-call zookeeper_probe.serving
    """
    if not ruok(host, port, timeout):
        return ""
    return srvr(host, port, timeout).get("mode", "")


def _parse_membership(text: str) -> dict[str, str]:
    """The ``server.N`` lines of a ``conf`` answer by id, as zoo.cfg writes them
    (``10.0.1.11:2888:3888``): the role (``:participant``) and a client address dropped."""
    servers = {}
    for line in text.splitlines():
        key, separator, value = line.partition("=")
        name, dot, server_id = key.strip().partition(".")
        if separator and dot and name == "server" and server_id.isdigit():
            address = value.split(";", 1)[0].strip()
            for role in (":participant", ":observer"):
                address = address.removesuffix(role)
            servers[str(int(server_id))] = address
    if not servers:
        raise CommandExecutionError(f"conf answer without server lines: {text[:200]!r}")
    return servers


def membership(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, timeout: float = DEFAULT_TIMEOUT
) -> dict[str, str]:
    """
    The ensemble the member runs with, by server id: ``{"1": "10.0.1.11:2888:3888", ...}``
    (what its zoo.cfg said when it started).

    CLI Example:

    .. code-block:: bash

        salt-call zookeeper_probe.membership host=10.0.1.12
    """
    return _parse_membership(_ask("conf", host, port, timeout))


def ensemble_ready(
    members: list[str],
    servers: dict[str, str] | None = None,
    port: int = DEFAULT_PORT,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """
    Whether this member may restart with a new configuration now: every other member of the
    ensemble it is to run with (``members``: their addresses) serves, so the quorum holds
    while it is down, and the leader is one of them or this member, so it can follow the
    leader when it is back (a member never follows a leader its own list lacks, such as a
    member on its way out). With ``servers``, the new ensemble (``{"1": "10.0.1.11:2888:3888",
    ...}``, as ``membership`` gives it), the leader restarts last: only once every other
    member runs with that ensemble. Otherwise the members left with the old list would
    elect a leader among themselves that a quorum of the new list does not follow, and the
    ones with the new list could not join it. Returns a short account when it may, else
    ``""``; raises CommandExecutionError when a member cannot be asked.

    CLI Example:

    .. code-block:: bash

        salt-call zookeeper_probe.ensemble_ready '["10.0.1.12", "10.0.1.13"]'
    """
    modes = {member: serving(member, port, timeout) for member in members}
    waiting = sorted(member for member, mode in modes.items() if not mode)
    if waiting:
        log.debug("ZooKeeper members not serving: %s", ", ".join(waiting))
        return ""
    # This member's own mode counts for the leader only: one that does not serve restarts.
    try:
        modes["this member"] = serving(DEFAULT_HOST, port, timeout)
    except CommandExecutionError:
        modes["this member"] = ""
    leaders = [member for member, mode in modes.items() if mode in ("leader", "standalone")]
    if not leaders:
        log.debug("The ZooKeeper leader is none of %s", ", ".join(sorted(modes)))
        return ""
    if servers is not None and modes["this member"] == "leader":
        wanted = {str(server_id): entry for server_id, entry in servers.items()}
        behind = sorted(
            member for member in members if membership(member, port, timeout) != wanted
        )
        if behind:
            log.debug("The leader waits for %s to run with the new ensemble", ", ".join(behind))
            return ""
        return f"{len(members)} other members serve with the new ensemble; this one leads"
    return f"{len(members)} other members serve, leader {leaders[0]}"


def released(
    members: list[str], server_id: int | str, port: int = DEFAULT_PORT,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """
    Whether no member of ``members`` (their addresses) runs with ``server_id`` in its
    ensemble any more: a short account when none does, else ``""``; a member that cannot be
    asked counts as one that still does.

    CLI Example:

    .. code-block:: bash

        salt-call zookeeper_probe.released '["10.0.1.11", "10.0.1.12"]' 4
    """
    listing = []
    for member in members:
        try:
            if str(int(server_id)) in membership(member, port, timeout):
                listing.append(member)
        except CommandExecutionError as err:
            log.debug("Counting %s as still running with server.%s: %s", member, server_id, err)
            listing.append(member)
    if listing:
        log.debug("server.%s is still in the ensemble of %s", server_id, ", ".join(listing))
        return ""
    return f"none of {', '.join(members)} runs with server.{server_id}"
