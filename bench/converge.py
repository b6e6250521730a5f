"""Benchmark: how long the lab takes to converge, cold and as a no-op. Prints, asserts nothing.

Cold: the lab's hosts are recreated from the image (bare hosts: nothing installed yet; the
image, the mirror's cache and the salt-ssh thin are kept, as on a site that converges new
hosts), then one ``salt-ssh '*' state.highstate``. No-op: the highstate again, several times.

For each no-op run it prints the wall time, the slowest host's states (the sum of their
``duration``: the time the states themselves take) and the ratio of the two: what salt-ssh
adds around the states (SSH round trips, rendering, module sync).

    .venv/bin/python bench/converge.py [--noop-runs 3] [--skip-cold]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker  # noqa: E402

from lab import converge, hosts  # noqa: E402
from lab.__main__ import saved_layout  # noqa: E402
from lab.image import image_tag  # noqa: E402


def timed_highstate() -> tuple[float, int, int, float]:
    """Wall seconds, changes, failures and the slowest host's summed state seconds."""
    started = time.monotonic()
    results = converge.highstate()
    elapsed = time.monotonic() - started
    changed = sum(len(result.changed) for result in results.values())
    failed = sum(len(result.failed) + bool(result.error) for result in results.values())
    slowest_states = max(result.seconds for result in results.values())
    return elapsed, changed, failed, slowest_states


def recreate_hosts(layout) -> float:
    client = docker.from_env()
    started = time.monotonic()
    for host in layout.hosts:
        client.containers.get(host.name).remove(force=True, v=True)
    tags = {release: image_tag(release) for release in layout.releases}
    for host in layout.hosts:
        hosts.ensure_host(client, layout, host, tags)
    hosts.wait_until_booted(client, [host.name for host in layout.hosts])
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--noop-runs", type=int, default=3)
    parser.add_argument("--skip-cold", action="store_true")
    args = parser.parse_args()
    layout = saved_layout()
    print(f"lab shape {layout.shape}: {len(layout.hosts)} hosts")
    cold = None
    if not args.skip_cold:
        boot = recreate_hosts(layout)
        print(f"hosts recreated and booted:  {boot:7.1f} s")
        cold, changed, failed, _ = timed_highstate()
        print(f"cold converge:               {cold:7.1f} s  ({changed} changes, {failed} failed)")
    noop, ratios = [], []
    for run in range(1, args.noop_runs + 1):
        elapsed, changed, failed, states = timed_highstate()
        noop.append(elapsed)
        ratios.append(elapsed / states)
        print(
            f"no-op converge #{run}:          {elapsed:7.1f} s  ({changed} changes, {failed} failed;"
            f" slowest host's states {states:.1f} s, wall/states {elapsed / states:.1f})"
        )
    if noop:
        print(f"no-op median:                {statistics.median(noop):7.1f} s")
        print(f"no-op wall/states median:    {statistics.median(ratios):7.1f}")
        if cold is not None:
            print(f"cold / no-op ratio:          {cold / statistics.median(noop):7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
