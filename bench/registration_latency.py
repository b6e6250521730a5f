"""How long a container takes to appear in and disappear from Consul DNS (prints, asserts
nothing).

On the running lab (``scripts/lab up``), for each of ``--count`` containers started one after
the other on a compute host with ``docker run -d -p 80 -e SERVICE_NAME=<unique name>``:

- up: from ``docker run`` returning on the compute host to the first A answer for
  ``<name>.service.consul`` from the resolver (dnsmasq -> Consul) of another host of the
  datacenter;
- down: from ``docker stop`` being issued to the first answer without an address (the stop
  itself, about 0.3 s with ``--init``, is part of it and printed apart).

The observer polls its resolver every 10 ms from a loop on the host itself, started before
the container, and both hosts read the same kernel clock (they are containers on this
machine), so the times compare directly. Usage:
``.venv/bin/python bench/registration_latency.py [--count 50] [--compute H] [--observer H]``.
"""

import argparse
import math
import statistics
import sys
import threading
import uuid
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lab.__main__ import saved_layout  # noqa: E402
from lab.artifacts import TEST_IMAGE  # noqa: E402

BENCH_LABEL = "io.saltplatform.bench=registration-latency"
# Seconds the observer waits for a change before it gives up on one container.
POLL_DEADLINE = 60

# Polls the host's resolver for NAME's A record until it is present (appear) or absent
# (vanish); prints "ready" once polling, then the time of the change.
POLLER = r"""
import random, socket, struct, sys, time
name, wanted, deadline = sys.argv[1], sys.argv[2] == "appear", time.time() + float(sys.argv[3])
question = b"".join(bytes([len(part)]) + part.encode() for part in name.split(".")) + b"\0"
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(2)
print("ready", flush=True)
while time.time() < deadline:
    query_id = random.randrange(65536)
    sock.sendto(struct.pack("!6H", query_id, 0x0100, 1, 0, 0, 0) + question
                + struct.pack("!2H", 1, 1), ("127.0.0.1", 53))
    try:
        answer = sock.recv(4096)
    except socket.timeout:
        continue
    answered_at = time.time()
    reply_id, flags, _, answers = struct.unpack("!4H", answer[:8])
    if reply_id == query_id and ((flags & 0xF) == 0 and answers > 0) == wanted:
        print(f"{answered_at:.6f}", flush=True)
        sys.exit(0)
    time.sleep(0.01)
sys.exit(1)
"""


class Poller(threading.Thread):
    """The observer's poll loop, run on its host; ``changed_at`` once it saw the change."""

    def __init__(self, host, name: str, mode: str) -> None:
        super().__init__(daemon=True)
        self.ready = threading.Event()
        self.changed_at: float | None = None
        self.output = ""
        self._stream = host.exec_run(
            ["python3", "-c", POLLER, name, mode, str(POLL_DEADLINE)], stream=True
        ).output

    def run(self) -> None:
        for chunk in self._stream:
            self.output += chunk.decode()
            if "ready" in self.output:
                self.ready.set()
        lines = self.output.split()
        if len(lines) == 2:
            self.changed_at = float(lines[1])
        self.ready.set()

    def wait(self) -> float:
        self.join(POLL_DEADLINE + 10)
        if self.changed_at is None:
            raise RuntimeError(f"the observer saw no change: {self.output!r}")
        return self.changed_at


def on(host, script: str) -> list[float]:
    """Run a shell script on a host; the times (``date +%s.%N``) it printed."""
    result = host.exec_run(["sh", "-c", script])
    if result.exit_code != 0:
        raise RuntimeError(f"{script!r} failed: {result.output.decode()}")
    return [float(line) for line in result.output.decode().split()]


def observe(observer, name: str, mode: str, action) -> tuple[float, list[float]]:
    """Start the observer's poll, then the action; (time of the change, the action's times)."""
    poller = Poller(observer, f"{name}.service.consul", mode)
    poller.start()
    poller.ready.wait(POLL_DEADLINE)
    times = action()
    return poller.wait(), times


def one_container(compute, observer, name: str) -> tuple[float, float, float]:
    """(up latency, down latency, stop duration) of one container, in seconds."""
    appeared, (run_returned,) = observe(observer, name, "appear", lambda: on(compute, (
        f"docker run -d --init --name {name} --label {BENCH_LABEL} -p 80 "
        f"-e SERVICE_NAME={name} {TEST_IMAGE} >/dev/null && date +%s.%N"
    )))
    vanished, (stop_issued, stop_returned) = observe(observer, name, "vanish", lambda: on(
        compute, f"date +%s.%N; docker stop {name} >/dev/null && date +%s.%N"
    ))
    return appeared - run_returned, vanished - stop_issued, stop_returned - stop_issued


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def report(label: str, values: list[float]) -> None:
    print(f"  {label:<34} median {statistics.median(values) * 1000:7.0f} ms   "
          f"p99 {percentile(values, 0.99) * 1000:7.0f} ms   max {max(values) * 1000:7.0f} ms")


def main(argv: list[str] | None = None) -> int:
    layout = saved_layout()
    datacenter = layout.datacenters[0]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--compute", default=next(
        host.name for host in layout.hosts
        if "compute" in host.roles and host.datacenter == datacenter))
    parser.add_argument("--observer", default=next(
        host.name for host in layout.hosts
        if "control" in host.roles and host.datacenter == datacenter))
    args = parser.parse_args(argv)
    client = docker.from_env()
    compute, observer = client.containers.get(args.compute), client.containers.get(args.observer)
    run_id = uuid.uuid4().hex[:6]
    up, down, stops = [], [], []
    print(f"{args.count} containers on {args.compute}, DNS observed from {args.observer}")
    try:
        for number in range(args.count):
            name = f"bench-{run_id}-{number}"
            try:
                appeared, vanished, stopped = one_container(compute, observer, name)
            finally:
                compute.exec_run(["docker", "rm", "-f", name])
            up.append(appeared)
            down.append(vanished)
            stops.append(stopped)
            print(f"  {name}: up {appeared * 1000:5.0f} ms, down {vanished * 1000:5.0f} ms",
                  flush=True)
    finally:
        leftovers = compute.exec_run(["docker", "ps", "-aq", "--filter", f"label={BENCH_LABEL}"])
        if leftovers.output.split():
            compute.exec_run(["docker", "rm", "-f", *leftovers.output.decode().split()])
    print(f"over {len(up)} containers:")
    report("docker run returned -> in DNS", up)
    report("docker stop issued -> out of DNS", down)
    report("(docker stop itself)", stops)
    return 0


if __name__ == "__main__":
    sys.exit(main())
