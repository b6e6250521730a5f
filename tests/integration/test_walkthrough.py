"""The README's real-host path as a newcomer walks it: the shell blocks of "salt-ssh with a
roster: a new datacenter, step by step" (each marked ``<!-- walkthrough -->``), run as they
are by bash, one after another in one copy of this repository, against three bare lab hosts
without internet. Only the first block, the site's values, is the lab's own: the hosts'
addresses, the lab's SSH key and its mirror.

The copy is this checkout's files (no .venv, no secrets, no .lab): the repository's own
Saltfile, etc/salt and scripts. pip takes the toolchain from the lab's wheelhouse (the same
wheels PyPI serves: PIP_NO_INDEX, PIP_FIND_LINKS), so the run needs no network but the lab's.
The hosts and their network are removed afterwards; every command is bounded in time.
"""

import os
import re
import shutil
import subprocess
import time

import docker
import pytest

from lab import allinone, artifacts, hosts, image, inventory, mirror
from lab.debian import consul_release
from lab.naming import (
    DEFAULT_SUBNET_PREFIX, MIRROR_HOSTNAME, MIRROR_PORT, NETWORK_PREFIX, Host, Network,
)
from lab.paths import REPO

README = REPO / "README.md"
BLOCK = re.compile(r"<!-- walkthrough(?:: (?P<kind>\w+))? -->\n```sh\n(?P<body>.*?)```", re.S)
DATACENTER = "wt1"
KIND = "walkthrough"
# The LAN of the N-th datacenter of a shape is PREFIX.N.0/24 (at most 14); the all-in-one
# host has 15.
NETWORK_INDEX = 16
BLOCK_TIMEOUT = 1500
# A highstate's summary per host, in salt's text output (state_output: changes).
SUMMARY = re.compile(
    r"Summary for (?P<host>\S+)\n-+\nSucceeded: (?P<succeeded>\d+)(?: \(changed=(?P<changed>\d+)\))?"
    r"\nFailed:\s+(?P<failed>\d+)"
)
# Checks that fail where Mesos and Marathon are not installed (the walkthrough's site has no
# package of either): their names in scripts/status' "failing checks" lines.
ABSENT_PROGRAMS_CHECKS = {"Marathon HTTP port", "Mesos master /health", "Mesos agent /health"}


def blocks() -> list[tuple[str, str]]:
    """The walkthrough's blocks in the README's order: (kind, shell text); kind is "" for a
    step, "values" for the site's values, "status" for the look at the end."""
    found = [(match["kind"] or "", match["body"]) for match in BLOCK.finditer(README.read_text())]
    assert [kind for kind, _ in found][:1] == ["values"], "the walkthrough starts with values"
    return found


def values(addresses: list[str]) -> str:
    """The first block, for the lab: its hosts, key and mirror."""
    consul_version, _ = consul_release()
    lines = [f"DC={DATACENTER}"]
    lines += [f"CONTROL_{number}={address}" for number, address in enumerate(addresses, 1)]
    lines += [
        f"SSH_KEY={inventory.SSH_KEY}",
        f"MIRROR=http://{MIRROR_HOSTNAME}:{MIRROR_PORT}",
        f"CONSUL_VERSION={consul_version}",
    ]
    return "\n".join(lines) + "\n"


def run_block(checkout, site_values: str, body: str) -> tuple[int, str, float]:
    """One block in the checkout, after the site's values: exit code, output, seconds."""
    environment = {
        **os.environ,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(artifacts.WHEELHOUSE_DIR),
    }
    started = time.monotonic()
    finished = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", site_values + body],
        cwd=checkout, env=environment, capture_output=True, text=True, timeout=BLOCK_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    return finished.returncode, finished.stdout + finished.stderr, time.monotonic() - started


def say(message: str) -> None:
    print(f"[walkthrough] {message}", flush=True)


@pytest.fixture(scope="module")
def walked(lab, tmp_path_factory):
    """Three bare hosts, a copy of the repository, and every block run in order: the hosts'
    addresses, and the results in order, (kind, exit code, output, seconds)."""
    client = docker.from_env()
    prefix = os.environ.get("LAB_SUBNET_PREFIX", DEFAULT_SUBNET_PREFIX)
    network = Network(f"{NETWORK_PREFIX}-{KIND}", f"{prefix}.{NETWORK_INDEX}.0/24")
    nodes = [
        Host(f"{DATACENTER}-control-{number}", DATACENTER, "bookworm", ("control",),
             f"{prefix}.{NETWORK_INDEX}.{10 + number}")
        for number in (1, 2, 3)
    ]
    names = [f"{KIND}-{number}" for number in (1, 2, 3)]
    tags = image.ensure_images(client, ["bookworm"], say)
    artifacts.ensure_artifacts(say)
    checkout = tmp_path_factory.mktemp("checkout")
    try:
        hosts.fresh_hosts(client, KIND, network, dict(zip(names, nodes, strict=True)),
                          tags["bookworm"])
        mirror.add_address(network.gateway)
        for path in allinone.tree_files():
            target = checkout / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if (REPO / path).is_symlink():
                target.symlink_to(os.readlink(REPO / path))
            else:
                shutil.copy2(REPO / path, target)
        site_values = values([node.address for node in nodes])
        results = []
        for kind, body in blocks()[1:]:
            code, output, seconds = run_block(checkout, site_values, body)
            say(f"block {len(results) + 1} ({kind or 'step'}): exit {code}, {seconds:.0f} s")
            results.append((kind, code, output, seconds))
            if code != 0 and kind != "status":
                break
        yield [node.address for node in nodes], results
    finally:
        for name in names:
            for container in client.containers.list(all=True, filters={"name": f"^{name}$"}):
                container.remove(force=True, v=True)
        for leftover in client.networks.list(names=[network.name]):
            leftover.remove()


def steps(walked) -> list[tuple[str, int, str, float]]:
    return [result for result in walked[1] if result[0] != "status"]


def test_every_step_of_the_walkthrough_runs_as_written(walked):
    for number, (_, code, output, _) in enumerate(steps(walked), 1):
        assert code == 0, f"step {number} exited {code}:\n{output[-4000:]}"
    assert len(steps(walked)) == len([kind for kind, _ in blocks()[1:] if kind != "status"])


def highstate_summaries(step) -> list[dict]:
    """Every host's summary of a step that ran one highstate over the three hosts."""
    _, code, output, seconds = step
    assert code == 0, output[-4000:]
    summaries = [match.groupdict() for match in SUMMARY.finditer(output)]
    assert {summary["host"] for summary in summaries} == {
        f"{DATACENTER}-control-{number}" for number in (1, 2, 3)
    } and len(summaries) == 3, output[-4000:]
    print(f"highstate: {seconds:.0f} s, {summaries}")
    return summaries


def test_the_first_highstate_converges_every_host_and_the_second_changes_nothing(walked):
    first, second = (highstate_summaries(step) for step in steps(walked)[-2:])
    assert all(summary["failed"] == "0" and summary["changed"] for summary in first), first
    assert all(summary["failed"] == "0" and summary["changed"] is None for summary in second), \
        second


def test_status_shows_a_leader_three_raft_peers_and_the_zookeeper_ensemble(walked):
    (status,) = [result for result in walked[1] if result[0] == "status"]
    _, code, output, _ = status
    assert f"{DATACENTER}:" in output, output
    assert re.search(r"consul leader\s+\S+:8300", output), output
    assert re.search(r"raft peers\s+3:", output), output
    assert re.search(r"zookeeper\s+2 follower, 1 leader", output), output
    failing = set()
    for line in output.splitlines():
        if line.strip().startswith("failing checks"):
            failing |= {name.strip() for name in line.split(":", 1)[1].split(",")}
    # Degraded only by the programs that cannot be installed here.
    assert failing <= ABSENT_PROGRAMS_CHECKS, failing
    assert code == (1 if failing else 0), output


def test_consul_names_resolve_on_every_host_of_the_new_datacenter(lab, walked):
    addresses, _ = walked
    for number in (1, 2, 3):
        code, output = lab.run(f"{KIND}-{number}", "getent", "hosts", "consul.service.consul")
        assert code == 0, output
        assert output.split()[0] in addresses, output
