"""Fixtures for tests on the running lab (``scripts/lab up`` brings it up).

Tests observe the hosts (docker exec of read-only commands, HTTP from inside a host) and
change them only the way an operator would: salt-ssh, or stopping and starting a host.
"""

import functools
import json
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import docker
import pytest

from lab import converge
from lab.artifacts import TEST_IMAGE
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


# A DNS client for SRV questions: prints {"rcode", "srv": [{"port", "target", "address"}]},
# the address taken from the A records of the additional section.
SRV_PROBE = r"""
import json, random, socket, struct, sys
name, server = sys.argv[1], sys.argv[2]

def read_name(message, offset):
    labels = []
    while True:
        length = message[offset]
        if length >= 0xC0:
            pointer = struct.unpack("!H", message[offset:offset + 2])[0] & 0x3FFF
            labels.append(read_name(message, pointer)[0])
            return ".".join(label for label in labels if label), offset + 2
        offset += 1
        if length == 0:
            return ".".join(labels), offset
        labels.append(message[offset:offset + length].decode())
        offset += length

question = b"".join(bytes([len(part)]) + part.encode() for part in name.split(".")) + b"\0"
query = struct.pack("!6H", random.randrange(65536), 0x0100, 1, 0, 0, 0) + question
query += struct.pack("!2H", 33, 1)
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    sock.settimeout(5)
    sock.sendto(query, (server, 53))
    message = sock.recv(65535)
_, flags, questions, answers, authorities, additionals = struct.unpack("!6H", message[:12])
offset = 12
for _ in range(questions):
    offset = read_name(message, offset)[1] + 4
services, addresses = [], {}
for _ in range(answers + authorities + additionals):
    owner, offset = read_name(message, offset)
    kind, _, _, length = struct.unpack("!2HIH", message[offset:offset + 10])
    offset += 10
    if kind == 33:
        port = struct.unpack("!3H", message[offset:offset + 6])[2]
        services.append((port, read_name(message, offset + 6)[0]))
    elif kind == 1:
        addresses[owner.lower()] = socket.inet_ntoa(message[offset:offset + 4])
    offset += length
print(json.dumps({"rcode": flags & 0xF, "srv": [
    {"port": port, "target": target, "address": addresses.get(target.lower())}
    for port, target in services
]}))
"""


class Lab:
    """The running lab: its hosts, commands on them, and the product's salt-ssh."""

    # The label of the containers tests run on the hosts (and only those).
    TEST_LABEL = "io.saltplatform.test=service-discovery"

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

    def srv(self, host: Host | str, name: str) -> list[tuple[str, int]]:
        """The (address, port) pairs of the SRV answer for ``name`` from the host's resolver."""
        code, output = self.run(host, "python3", "-c", SRV_PROBE, name, "127.0.0.1", timeout=10)
        assert code == 0, f"DNS probe on {host}: {output}"
        return sorted((record["address"], record["port"]) for record in json.loads(output)["srv"])

    @staticmethod
    def suffix() -> str:
        """A short random name part: each test's containers and services are its own."""
        return uuid.uuid4().hex[:6]

    @contextmanager
    def container(self, host: Host | str, name: str, *options: str,
                  command: tuple[str, ...] = ()) -> Iterator[str]:
        """A container of the test image on a host (``docker run -d`` with ``options``),
        removed afterwards; yields its id."""
        code, output = self.run(
            host, "docker", "run", "-d", "--init", "--name", name, "--label", self.TEST_LABEL,
            *options, TEST_IMAGE, *command,
        )
        try:
            assert code == 0, f"docker run {name} on {host}: {output}"
            yield output.strip().splitlines()[-1]
        finally:
            self.run(host, "docker", "rm", "-f", name)

    def remove_test_containers(self, host: Host | str) -> None:
        """Leftovers of an interrupted test run (and only those), which would hold ports."""
        _, leftovers = self.run(host, "docker", "ps", "-aq", "--filter",
                                f"label={self.TEST_LABEL}")
        if leftovers.split():
            self.run(host, "docker", "rm", "-f", *leftovers.split())

    @staticmethod
    def quote(value: str) -> str:
        return urllib.parse.quote(value, safe="")


@pytest.fixture(scope="session")
def lab() -> Lab:
    if not STATE_FILE.exists():
        pytest.fail("the lab is not up: run `scripts/lab up` (scripts/test does it first)")
    return Lab(saved_layout())
