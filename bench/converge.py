"""Benchmark: how long the lab takes to converge, cold and as a no-op. Prints, asserts nothing.

Cold: the lab's hosts are recreated from the image (bare hosts: nothing installed yet; the
image, the mirror's cache and the salt-ssh thin are kept, as on a site that converges new
hosts), then one ``salt-ssh '*' state.highstate``. No-op: the highstate again, several times.

For each no-op run it prints the wall time, the slowest host's states (the sum of their
``duration``: the time the states themselves take) and the ratio of the two: what salt-ssh
adds around the states (SSH round trips, rendering, module sync). Through salt-ssh it also
measures salt-ssh's own floor on the same hosts, a run of one state that does nothing
(``state.single test.nop``: the thin, the grains, a state run, no formula rendered), and
prints what the tree's highstate adds over it.

``--through master`` (or ``both``) runs the no-op highstates from the lab's salt-master
instead (``scripts/lab master`` first), with the minions' schedule paused meanwhile, so that
the cost per host of the two ways shows side by side.

    .venv/bin/python bench/converge.py [--noop-runs 3] [--skip-cold] [--through both]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker  # noqa: E402

from lab import converge, hosts, master  # noqa: E402
from lab.__main__ import saved_layout  # noqa: E402
from lab.image import image_tag  # noqa: E402


def timed_highstate(through: str = "salt-ssh") -> tuple[float, int, int, float]:
    """Wall seconds, changes, failures and the slowest host's summed state seconds."""
    started = time.monotonic()
    results = master.highstate() if through == "master" else converge.highstate()
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


def salt_ssh_floor(runs: int) -> float:
    """Median wall seconds of salt-ssh running one state that does nothing on every host."""
    walls = []
    for _ in range(runs):
        started = time.monotonic()
        answers, _ = converge.call("*", "state.single", "test.nop", "name=salt-ssh-floor")
        walls.append(time.monotonic() - started)
        failed = [name for name, answer in answers.items() if not isinstance(answer, dict)]
        if failed:
            raise RuntimeError(f"state.single test.nop failed on {', '.join(failed)}")
    return statistics.median(walls)


def noop_runs(through: str, runs: int, host_count: int, cold: float | None) -> None:
    noop, ratios = [], []
    for run in range(1, runs + 1):
        elapsed, changed, failed, states = timed_highstate(through)
        noop.append(elapsed)
        ratios.append(elapsed / states)
        print(
            f"{through} no-op #{run}:  {elapsed:7.1f} s  ({changed} changes, {failed} failed;"
            f" slowest host's states {states:.1f} s, wall/states {elapsed / states:.1f})"
        )
    if noop:
        median = statistics.median(noop)
        print(f"{through} no-op median:  {median:7.1f} s  ({median / host_count:.2f} s per host)")
        print(f"{through} wall/states median: {statistics.median(ratios):5.1f}")
        if through == "salt-ssh":
            floor = salt_ssh_floor(runs)
            print(f"salt-ssh floor median:       {floor:7.1f} s  (one state that does nothing "
                  f"per host); the highstate adds {median - floor:.1f} s")
        if cold is not None and through == "salt-ssh":
            print(f"cold / no-op ratio:          {cold / median:7.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--noop-runs", type=int, default=3)
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--through", choices=("salt-ssh", "master", "both"), default="salt-ssh",
                        help="how the no-op runs converge (master: the lab's salt-master)")
    args = parser.parse_args()
    layout = saved_layout()
    print(f"lab shape {layout.shape}: {len(layout.hosts)} hosts")
    cold = None
    if not args.skip_cold:
        boot = recreate_hosts(layout)
        print(f"hosts recreated and booted:  {boot:7.1f} s")
        cold, changed, failed, _ = timed_highstate()
        print(f"cold converge:               {cold:7.1f} s  ({changed} changes, {failed} failed)")
    for through in ("salt-ssh", "master") if args.through == "both" else (args.through,):
        if through == "master":
            master.salt("*", "schedule.disable", "persist=False", "--timeout=30")
        try:
            noop_runs(through, args.noop_runs, len(layout.hosts), cold)
        finally:
            if through == "master":
                master.salt("*", "schedule.enable", "persist=False", "--timeout=30")
    return 0


if __name__ == "__main__":
    sys.exit(main())
