"""Benchmark: how long dc1 is without a Consul leader when its leader's host stops. Prints,
asserts nothing.

Stops the host of dc1's raft leader (``docker stop``: its processes end as on a shutdown),
asks another server for the leader every 0.1 s until a new one answers, then starts the
host again and waits until it is a raft peer again. Several rounds; each stops whichever
server leads then.

    .venv/bin/python bench/failover.py [--rounds 3]
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker  # noqa: E402

from lab.__main__ import saved_layout  # noqa: E402

POLL = 0.1
# Seconds a round may take at most, for a new leader and for the old host to come back.
TIMEOUT = 120
LEADER = "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8500/v1/status/leader'" \
    ", timeout=1).read().decode())"
PEERS = "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8500/v1/status/peers'" \
    ", timeout=1).read().decode())"


def ask(container, script: str):
    result = container.exec_run(["python3", "-c", script])
    if result.exit_code != 0:
        return None
    return json.loads(result.output.decode())


def one_round(client: docker.DockerClient, servers: list) -> tuple[float, float]:
    """Seconds without a leader, and seconds until the stopped host is a peer again."""
    containers = {host.address: client.containers.get(host.name) for host in servers}
    leader = ask(next(iter(containers.values())), LEADER)
    victim_address = leader.split(":")[0]
    victim = containers[victim_address]
    witness = next(c for address, c in containers.items() if address != victim_address)
    stopped = time.monotonic()
    victim.stop(timeout=30)
    deadline = stopped + TIMEOUT
    while time.monotonic() < deadline:
        current = ask(witness, LEADER)
        if current and current != leader:
            break
        time.sleep(POLL)
    else:
        raise SystemExit(f"no new leader within {TIMEOUT} s")
    without_leader = time.monotonic() - stopped
    victim.start()
    started = time.monotonic()
    expected = sorted(f"{host.address}:8300" for host in servers)
    while time.monotonic() < started + TIMEOUT:
        if sorted(ask(victim, PEERS) or []) == expected and ask(victim, LEADER):
            return without_leader, time.monotonic() - started
        time.sleep(1)
    raise SystemExit(f"{victim.name} not a raft peer again within {TIMEOUT} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    layout = saved_layout()
    servers = [host for host in layout.hosts if host.datacenter == "dc1" and "control" in host.roles]
    if len(servers) < 3:
        raise SystemExit("the lab's dc1 needs 3 control nodes or more")
    client = docker.from_env()
    gaps = []
    for number in range(1, args.rounds + 1):
        without_leader, back = one_round(client, servers)
        gaps.append(without_leader)
        print(f"round {number}: no leader for {without_leader:5.1f} s; the stopped host was a "
              f"raft peer again {back:5.1f} s after it started")
    print(f"no leader: min {min(gaps):.1f} s, median {statistics.median(gaps):.1f} s, "
          f"max {max(gaps):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
