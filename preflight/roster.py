"""Checks of a salt-ssh roster: pure functions over its entries, and a bounded TCP probe."""

import os
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# Seconds a host's SSH port may take to accept a connection.
CONNECT_TIMEOUT = 5


def port_answers(host: str, port: int, timeout: float = CONNECT_TIMEOUT) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def entry_problems(
    name: str,
    entry: Any,
    roster: Path,
    answers: Callable[[str, int], bool] = port_answers,
) -> list[str]:
    """What keeps salt-ssh from logging in to the roster entry ``name``: one line each."""
    where = f"{roster}: {name}"
    if not isinstance(entry, Mapping) or not entry.get("host"):
        return [f"{where}: no host: give the address salt-ssh logs in to (host: 10.0.1.11)"]
    problems = []
    priv = entry.get("priv")
    if not priv and not entry.get("passwd"):
        problems.append(
            f"{where}: no priv: give the private key salt-ssh logs in with (priv: "
            "~/.ssh/id_ed25519), whose public key is in root's authorized_keys on the host"
        )
    elif priv and priv != "agent-forwarding":
        key = Path(os.path.expanduser(str(priv)))
        if not key.is_file() or not os.access(key, os.R_OK):
            problems.append(f"{where}: priv {priv} is not a readable file: fix the path")
    port = int(entry.get("port") or 22)
    if not problems and not answers(str(entry["host"]), port):
        problems.append(
            f"{where}: host {entry['host']} port {port} does not answer within "
            f"{CONNECT_TIMEOUT} s: check host (and port) in the roster, and that the host is up"
        )
    return problems


def problems(
    entries: Mapping[str, Any], roster: Path, answers: Callable[[str, int], bool] = port_answers
) -> list[str]:
    """Every problem of every entry, in the roster's order."""
    return [
        problem for name, entry in entries.items()
        for problem in entry_problems(name, entry, roster, answers)
    ]
