"""
ZooKeeper four-letter words (``ruok``, ``srvr``, ``mntr``) over a plain TCP socket.

The health gate of the zookeeper formula and the rolling restarts ask a member through these
functions whether it serves. Every call is bounded: connecting and reading together take at
most ``timeout`` seconds. A member that cannot be reached, or that refuses a word because it is
not in ``4lw.commands.whitelist``, raises CommandExecutionError; a member that answers but is
not serving (no quorum yet) is reported as such, not raised.
"""

import socket
import time
from typing import Any

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "zookeeper_probe"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 2181
DEFAULT_TIMEOUT = 5.0
# Answers are a few hundred bytes; a peer that streams more is not a ZooKeeper.
MAX_ANSWER_BYTES = 1 << 20
# What a member without a quorum answers to srvr and mntr.
NOT_SERVING = "This ZooKeeper instance is not currently serving requests"
NOT_WHITELISTED = "is not executed because it is not in the whitelist"
WORDS = ("ruok", "srvr", "mntr")


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
