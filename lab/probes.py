"""Continuous probes on a lab host while the lab changes (an upgrade): does a name still resolve,
does the datacenter still take a write?

A small Python loop runs on the host itself (its python3), so that a probe costs no
``docker exec``: every 0.1 s it resolves a Consul name through the host's resolver (dnsmasq,
then the local agent), and every second it writes a key through the local agent's HTTP API.
It counts what failed and writes the counts when asked to stop. Observation only: it changes
nothing a state is responsible for.
"""

import json
import time
from dataclasses import dataclass

import docker

RESULT = "/run/lab-probes.json"
STOP = "/run/lab-probes.stop"
# Seconds to wait for the loop's counts once it is asked to stop.
STOP_TIMEOUT = 10

LOOP = r"""
import json, os, socket, sys, time, urllib.request
name, key, result, stop = sys.argv[1:5]
counts = {"dns": [0, 0], "kv": [0, 0]}
first_failure = {}
next_write = 0.0
while not os.path.exists(stop):
    now = time.monotonic()
    try:
        socket.getaddrinfo(name, None)
        counts["dns"][0] += 1
    except OSError as err:
        counts["dns"][1] += 1
        first_failure.setdefault("dns", str(err))
    if now >= next_write:
        next_write = now + 1.0
        request = urllib.request.Request(
            "http://127.0.0.1:8500/v1/kv/" + key, data=str(time.time()).encode(), method="PUT")
        try:
            urllib.request.urlopen(request, timeout=2).read()
            counts["kv"][0] += 1
        except Exception as err:
            counts["kv"][1] += 1
            first_failure.setdefault("kv", str(err))
    time.sleep(0.1)
with open(result + ".tmp", "w") as out:
    json.dump({"counts": counts, "first_failure": first_failure}, out)
os.replace(result + ".tmp", result)
"""


@dataclass
class ProbeCounts:
    """Probes that answered and that failed, by kind, and the first failure of each kind."""

    host: str
    dns_ok: int
    dns_failed: int
    kv_ok: int
    kv_failed: int
    first_failure: dict[str, str]

    def line(self) -> str:
        return (
            f"probes on {self.host}: DNS {self.dns_failed} failed of "
            f"{self.dns_ok + self.dns_failed}, KV writes {self.kv_failed} failed of "
            f"{self.kv_ok + self.kv_failed}"
        )


class Probes:
    """``with Probes(host):`` probes run on ``host`` for the duration of the block."""

    def __init__(self, host: str, name: str = "consul.service.consul") -> None:
        self.container = docker.from_env().containers.get(host)
        self.host = host
        self.name = name
        self.counts: ProbeCounts | None = None

    def __enter__(self) -> "Probes":
        self.container.exec_run(["rm", "-f", RESULT, STOP])
        self.container.exec_run(
            ["python3", "-c", LOOP, self.name, f"lab/probes/{self.host}", RESULT, STOP],
            detach=True,
        )
        return self

    def __exit__(self, *exc) -> None:
        self.container.exec_run(["touch", STOP])
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            found = self.container.exec_run(["cat", RESULT])
            if found.exit_code == 0:
                answer = json.loads(found.output)
                counts = answer["counts"]
                self.counts = ProbeCounts(
                    self.host, *counts["dns"], *counts["kv"], answer["first_failure"]
                )
                return
            time.sleep(0.5)
        raise RuntimeError(f"the probes on {self.host} gave no counts within {STOP_TIMEOUT} s")
