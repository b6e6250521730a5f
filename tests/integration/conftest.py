"""Fixtures for tests on the running lab (``scripts/lab up`` brings it up).

Tests observe the hosts (docker exec of read-only commands, HTTP from inside a host) and
change them only the way an operator would: salt-ssh, or stopping and starting a host.
"""

import functools
import json
import time
import urllib.parse

import docker
import pytest

from lab import converge
from lab.inventory import read_secrets
from lab.__main__ import STATE_FILE, saved_layout
from lab.naming import Host, Layout


# Sends one four-letter word to the local ZooKeeper member; prints the answer, or nothing if
# it is down.
FOUR_LETTER_WORD = """
import socket, sys
try:
    with socket.create_connection(("127.0.0.1", 2181), timeout=3) as connection:
        connection.sendall(sys.argv[1].encode())
        connection.settimeout(3)
        print(b"".join(iter(lambda: connection.recv(4096), b"")).decode())
except OSError:
    pass
"""


class Lab:
    """The running lab: its hosts, commands on them, and the product's salt-ssh."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.client = docker.from_env()

    @property
    def hosts(self) -> list[Host]:
        return self.layout.hosts

    def hosts_with(self, role: str, datacenter: str | None = None) -> list[Host]:
        return [
            host for host in self.hosts
            if role in host.roles and datacenter in (None, host.datacenter)
        ]

    def run(self, host: Host | str, *command: str, timeout: int = 60,
            environment: dict[str, str] | None = None) -> tuple[int, str]:
        """Run a command on a host; return its exit code and its output (stdout+stderr)."""
        name = host if isinstance(host, str) else host.name
        container = self.client.containers.get(name)
        wrapped = ["timeout", str(timeout), *command]
        result = container.exec_run(wrapped, environment=environment)
        return result.exit_code, result.output.decode(errors="replace")

    @functools.cached_property
    def management_token(self) -> str:
        """The site's management token (pillar secrets:consul:acl:management)."""
        return read_secrets()["consul"]["acl"]["management"]["secret_id"]

    def http(self, host: Host | str, path: str, method: str = "GET", data: str | None = None,
             port: int = 8500, timeout: int = 10, token: str | None = None) -> tuple[int, str]:
        """An HTTP request from inside the host to its own loopback (the agent's API), with
        ``token`` (default: the management token; "" for none), which goes in the
        environment of the request, never on its command line."""
        token = self.management_token if token is None else token
        script = (
            "import os, sys, urllib.request as u, urllib.error as e\n"
            "req = u.Request(sys.argv[1], method=sys.argv[2],"
            " data=sys.argv[3].encode() if sys.argv[3] != '-' else None)\n"
            "if os.environ.get('LAB_TOKEN'): req.add_header('X-Consul-Token', os.environ['LAB_TOKEN'])\n"
            "try:\n"
            f"    r = u.urlopen(req, timeout={timeout}); print(r.status); print(r.read().decode())\n"
            "except e.HTTPError as err:\n"
            "    print(err.code); print(err.read().decode())\n"
        )
        url = f"http://127.0.0.1:{port}{path}"
        code, output = self.run(host, "python3", "-c", script, url, method, data or "-",
                                timeout=timeout + 5, environment={"LAB_TOKEN": token})
        if code != 0:
            return 0, output
        status, _, body = output.partition("\n")
        return int(status), body.strip()

    def consul(self, host: Host | str, path: str, **kwargs):
        """GET (or other) on the host's Consul agent; the JSON answer, or None if no answer."""
        status, body = self.http(host, f"/v1/{path.lstrip('/')}", **kwargs)
        if status != 200:
            return None
        return json.loads(body) if body else None

    def leader_of(self, host: Host | str) -> str:
        """The raft leader as the host's own Consul agent reports it; "" if none."""
        return self.consul(host, "status/leader") or ""

    def four_letter_word(self, host: Host | str, word: str) -> tuple[int, str]:
        """The host's ZooKeeper member's answer to ``word`` (empty when it is down)."""
        return self.run(host, "python3", "-c", FOUR_LETTER_WORD, word, timeout=10)

    def zookeeper_mode(self, host: Host | str) -> str:
        """leader, follower or standalone; ``""`` when the member is down or not serving."""
        code, output = self.four_letter_word(host, "srvr")
        if code != 0:
            return ""
        return next(
            (line.split(":", 1)[1].strip() for line in output.splitlines()
             if line.startswith("Mode:")),
            "",
        )

    def wait_for(self, what: str, probe, timeout: float = 120, interval: float = 2):
        """Call ``probe`` until it returns something truthy; bounded in time."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = probe()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"{what}: not within {timeout} s (last answer: {last!r})")

    def stop(self, host: Host) -> None:
        self.client.containers.get(host.name).stop(timeout=30)

    def start(self, host: Host) -> None:
        self.client.containers.get(host.name).start()

    def highstate(self, target: str = "*", test: bool = False, roster: str | None = None) -> dict:
        return converge.highstate(target=target, test=test, roster=roster)

    def grain(self, host: Host, name: str, roster=None):
        """A grain of the host as salt-ssh sees it (with the lab's roster, or ``roster``)."""
        answers, _ = converge.call(host.name, "grains.get", name, roster=roster, timeout=300)
        return answers[host.name]

    @staticmethod
    def quote(value: str) -> str:
        return urllib.parse.quote(value, safe="")


@pytest.fixture(scope="session")
def lab() -> Lab:
    if not STATE_FILE.exists():
        pytest.fail("the lab is not up: run `scripts/lab up` (scripts/test does it first)")
    return Lab(saved_layout())
