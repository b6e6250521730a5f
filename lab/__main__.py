"""The lab: ``python -m lab up|down|status|converge|master|add|remove|all-in-one``
(``scripts/lab`` wraps it).

``up`` is idempotent: it reuses the image, networks, hosts and mirror that exist, creates what
is missing and converges every host with ``salt-ssh '*' state.highstate``; with ``--master``
through a salt-master instead (``master``: the running lab in master mode). ``add DC ROLE``
adds a host to the running lab, converged as the lab is (by the master when one runs);
``remove DC ROLE`` takes the last one of a role out of it.
"""

import argparse
import json
import os
import shutil
import sys
import time

import docker

from . import allinone, artifacts, converge, debian, hosts, image, inventory, master, mirror, upgrade
from .probes import Probes
from .naming import DEFAULT_SHAPE, DEFAULT_SUBNET_PREFIX, Host, Layout, resized_shape
from .paths import CONSUL_DIR, LAB_DIR, MASTER_DIR

STATE_FILE = LAB_DIR / "state.json"
_started = time.monotonic()


def say(message: str) -> None:
    print(f"[lab {time.monotonic() - _started:6.1f}s] {message}", flush=True)


def saved_layout() -> Layout:
    """The layout of the running lab (``up`` records it), for status, converge and tests."""
    if not STATE_FILE.exists():
        raise SystemExit("no lab here: run `scripts/lab up` first")
    saved = json.loads(STATE_FILE.read_text())
    return Layout(saved["shape"], saved["subnet_prefix"])


def up(layout: Layout, upgrade_from: str | None = None, by_master: bool = False) -> int:
    """Build, start and converge the lab. With ``upgrade_from`` (a git ref), hosts converged
    by that commit's tree and then by the current one, unless the lab already was; with
    ``by_master``, converged through a salt-master (master mode)."""
    client = docker.from_env()
    commit = upgrade.resolve(upgrade_from) if upgrade_from else None
    previous = upgrade.recorded()
    # A lab upgraded from this commit before is reused, unless a host of it is gone.
    fresh = commit is not None and not (
        previous and previous["from"] == commit and _all_hosts_exist(client, layout)
    )
    LAB_DIR.mkdir(exist_ok=True)
    say(f"shape {layout.shape}: {len(layout.hosts)} hosts in {', '.join(layout.datacenters)}")
    version, _ = debian.consul_release()
    say(f"consul {version} packed as a release archive")
    artifacts.ensure_artifacts(say)
    tags = image.ensure_images(client, layout.releases, say)
    inventory.ensure_ssh_key()
    for network in layout.networks.values():
        hosts.ensure_network(client, network)
    wanted = {host.name for host in layout.hosts}
    for container in hosts.lab_containers(client):
        if container.name not in wanted:
            say(f"removing {container.name}: not in this shape")
            container.remove(force=True, v=True)
    mirror.start([network.gateway for network in layout.networks.values()])
    say(f"mirror serving on the gateways, port {mirror.MIRROR_PORT}")
    if fresh:
        say(f"upgrade from {commit[:12]}: hosts made anew, converged by that tree first")
        upgrade.RESULT_FILE.unlink(missing_ok=True)
        for container in hosts.lab_containers(client):
            container.remove(force=True, v=True)
    created = [host.name for host in layout.hosts if hosts.ensure_host(client, layout, host, tags)]
    say(f"hosts: {len(created)} created, {len(layout.hosts) - len(created)} reused")
    hosts.wait_until_booted(client, [host.name for host in layout.hosts])
    say("every host booted (systemd up, sshd listening)")
    inventory.write(layout)
    save_layout(layout)
    if by_master:
        return converge_by_master(client, layout, tags)
    if not fresh:
        return converge_lab()
    say(f"converging with the tree of {commit[:12]}: its own failures are shown, not fatal")
    earlier = upgrade.converge_earlier(commit)
    report(earlier, f"the tree of {commit[:12]}")
    compute = [host.name for host in layout.hosts if "compute" in host.roles]
    prober = compute[0] if compute else layout.hosts[0].name
    say(f"upgrading: the current tree converges what the earlier one built, one security stage "
        f"at a time ({' -> '.join(upgrade.STAGES)}); probes on {prober}")
    stages = {}
    # The first datacenter's ensemble takes the ZooKeeper writes.
    ensemble = ",".join(
        f"{host.address}:2181" for host in layout.hosts
        if host.datacenter == layout.datacenters[0] and "control" in host.roles
    )
    with Probes(prober, image=artifacts.TEST_IMAGE if compute else "",
                zookeeper=ensemble) as probes:
        for stage in upgrade.STAGES:
            inventory.set_security_stage(stage)
            say(f"converging at security stage {stage}")
            stages[stage] = converge.highstate()
            if report(stages[stage], f"the current tree at stage {stage}"):
                break
    inventory.set_security_stage(None)
    say(probes.counts.line())
    upgrade.record(commit, earlier, stages, probes.counts)
    converged = all(result.ok for results in stages.values() for result in results.values())
    return 0 if converged else 1


def save_layout(layout: Layout) -> None:
    STATE_FILE.write_text(
        json.dumps({"shape": layout.shape, "subnet_prefix": layout.subnet_prefix}) + "\n"
    )


def converge_by_master(
    client: docker.DockerClient, layout: Layout, tags: dict[str, str],
    names: list[str] | None = None,
) -> int:
    """Master mode: the master host up, salt.minion applied by salt-ssh to ``names`` (default
    every host), their minions connected, then the site brought into line by the master's
    orchestration (orch.site)."""
    say(f"master mode: the salt-master host {master.CONTAINER}, on every LAN as salt.lab")
    master.ensure(client, layout, tags, say)
    departed = master.forget_departed(layout)
    if departed:
        say(f"keys of minions that are no lab host any more deleted: {', '.join(departed)}")
    names = names or [host.name for host in layout.hosts]
    say(f"bootstrapping minions with salt-ssh (salt.minion): {', '.join(names)}")
    if report(master.bootstrap(names), "salt.minion"):
        return 1
    missing = master.wait_connected(names)
    if missing:
        say(f"minions not answering the master: {', '.join(missing)}")
        return 1
    say("every minion answers; salt-run state.orchestrate orch.site")
    steps = master.orchestrate()
    for step in steps:
        print(f"  {'ok    ' if step.result else 'FAILED'} {step.name}: "
              f"{step.comment.strip()[:600]}")
    failed = not steps or not all(step.result for step in steps)
    say("converged by the master" if not failed
        else f"orchestration FAILED (raw output: {master.ORCHESTRATE_LOG})")
    return 1 if failed else 0


def add(datacenter: str, role: str) -> int:
    """One more host of ``role`` in ``datacenter`` of the running lab, converged as the lab
    is: through the master in master mode, else by salt-ssh."""
    current = saved_layout()
    layout = Layout(resized_shape(current.shape, datacenter, role), current.subnet_prefix)
    (new,) = [host for host in layout.hosts if host not in current.hosts]
    say(f"adding {new.name} ({new.address}): shape {layout.shape}")
    client = docker.from_env()
    tags = image.ensure_images(client, layout.releases, say)
    hosts.ensure_host(client, layout, new, tags)
    hosts.wait_until_booted(client, [new.name])
    inventory.write(layout)
    save_layout(layout)
    if master.running(client):
        return converge_by_master(client, layout, tags, [new.name])
    return converge_lab()


def remove(datacenter: str, role: str) -> int:
    """The last host of ``role`` in ``datacenter`` taken out of the running lab: a highstate of
    the lab with the host in the roster without a role and out of the pillar, so that it
    leaves the site (a control node: Consul's raft peers, then the ZooKeeper ensemble once
    the members that stay run without it), then its container goes."""
    current = saved_layout()
    layout = Layout(resized_shape(current.shape, datacenter, role, -1), current.subnet_prefix)
    (leaving,) = [host for host in current.hosts if host not in layout.hosts]
    client = docker.from_env()
    if master.running(client):
        say(f"{master.CONTAINER} runs: the lab is in master mode, whose minions would converge "
            f"{leaving.name} on their own; remove hosts from a lab that salt-ssh converges "
            "(scripts/lab down, then up)")
        return 1
    say(f"removing {leaving.name} ({leaving.address}): shape {layout.shape}")
    inventory.write(layout, leaving=(leaving,))
    if converge_lab():
        say(f"{leaving.name} stays, in the roster without a role: fix the failure and run "
            f"`scripts/lab remove {datacenter} {role}` again")
        return 1
    container = client.containers.get(leaving.name)
    # Stopped first: systemd stops its services, and its Consul client leaves the pool.
    container.stop(timeout=60)
    container.remove(v=True)
    inventory.write(layout)
    save_layout(layout)
    say(f"{leaving.name} removed")
    return 0


def _all_hosts_exist(client: docker.DockerClient, layout: Layout) -> bool:
    existing = {container.name for container in hosts.lab_containers(client)}
    return {host.name for host in layout.hosts} <= existing


def converge_lab(test: bool = False) -> int:
    say("converging: salt-ssh '*' state.highstate" + (" test=True" if test else ""))
    return report(converge.highstate(test=test))


def report(results: dict[str, converge.HostResult], tree: str = "the current tree") -> int:
    """Print a converge's result per host; 1 if a host failed."""
    failed = False
    for name in sorted(results):
        result = results[name]
        line = f"  {name:<18} {result.states:3} states, {len(result.changed):3} changed"
        if result.failed:
            line += f", {len(result.failed)} FAILED"
        print(line)
        for problem in result.failed + ([result.error] if result.error else []):
            print(f"      {problem.strip()[:600]}")
        failed |= not result.ok
    say(f"converged by {tree}" if not failed
        else f"converge by {tree} FAILED (raw output: {converge.LAST_RUN})")
    return 1 if failed else 0


def down() -> int:
    mirror.stop()
    upgrade.RESULT_FILE.unlink(missing_ok=True)
    removed = hosts.remove_lab(docker.from_env())
    STATE_FILE.unlink(missing_ok=True)
    # The master's keys are of hosts that are gone.
    shutil.rmtree(MASTER_DIR, ignore_errors=True)
    say(f"removed {len(removed)} containers and networks" if removed else "nothing to remove")
    return 0


def status() -> int:
    layout = saved_layout()
    client = docker.from_env()
    print(
        f"{'HOST':<18} {'DC':<5} {'RELEASE':<9} {'ROLES':<8} {'ADDRESS':<14} {'WAN':<14} "
        f"{'STATE':<9} LEADER"
    )
    for host in layout.hosts:
        print(
            f"{host.name:<18} {host.datacenter:<5} {host.release:<9} {','.join(host.roles):<8} "
            f"{host.address:<14} {host.wan_address or '-':<14} "
            f"{_container_state(client, host):<9} {_consul_leader(client, host)}"
        )
    print(f"mirror: {'running' if mirror.running_pid() else 'stopped'}")
    return 0


def _container_state(client: docker.DockerClient, host: Host) -> str:
    try:
        return client.containers.get(host.name).status
    except docker.errors.NotFound:
        return "missing"


def _consul_leader(client: docker.DockerClient, host: Host) -> str:
    """The raft leader as the host's own Consul agent reports it (read only)."""
    try:
        container = client.containers.get(host.name)
    except docker.errors.NotFound:
        return "-"
    if container.status != "running":
        return "-"
    probe = container.exec_run(
        ["python3", "-c", "import urllib.request as u; print(u.urlopen("
         "'http://127.0.0.1:8500/v1/status/leader', timeout=3).read().decode())"]
    )
    if probe.exit_code != 0:
        return "no agent"
    return probe.output.decode().strip().strip('"') or "none"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="build, start and converge the lab")
    up_parser.add_argument(
        "--shape", default=os.environ.get("LAB_SHAPE", DEFAULT_SHAPE),
        help=f"datacenters as NAME=CONTROL+COMPUTE[@RELEASE],... (default {DEFAULT_SHAPE}, "
        "env LAB_SHAPE)",
    )
    commands.add_parser("down", help="remove the lab's hosts, networks and mirror")
    commands.add_parser("status", help="hosts, roles, addresses and Consul leaders")
    up_parser.add_argument(
        "--from", dest="upgrade_from", metavar="REF",
        help="converge new hosts with this commit's tree first, then upgrade them with the "
        f"current one; `release` is the last release point, {upgrade.RELEASE_POINT[:12]}",
    )
    up_parser.add_argument(
        "--master", action="store_true",
        help="converge through a salt-master (a lab host) and minions, not salt-ssh",
    )
    commands.add_parser(
        "master", help="the running lab in master mode: master, minions, orchestration",
    )
    add_parser = commands.add_parser("add", help="add a host to the running lab")
    add_parser.add_argument("datacenter")
    add_parser.add_argument("role", choices=("control", "compute", "edge"))
    remove_parser = commands.add_parser(
        "remove", help="take the last host of a role out of the running lab"
    )
    remove_parser.add_argument("datacenter")
    remove_parser.add_argument("role", choices=("control", "compute", "edge"))
    converge_parser = commands.add_parser("converge", help="run the highstate again")
    converge_parser.add_argument("--test", action="store_true", help="test=True")
    commands.add_parser(
        "all-in-one",
        help="the Vagrantfile's all-in-one VM as a lab host, converged with salt-call --local",
    )
    commands.add_parser("fetch-consul", help="pack Consul as a release archive; print its path")
    commands.add_parser(
        "fetch-zookeeper", help="Debian's ZooKeeper jars for the functional tests; print their path"
    )
    serve = commands.add_parser("serve-mirror", help=argparse.SUPPRESS)
    serve.add_argument("addresses")
    args = parser.parse_args(argv)
    if args.command == "up":
        prefix = os.environ.get("LAB_SUBNET_PREFIX", DEFAULT_SUBNET_PREFIX)
        if args.master and args.upgrade_from:
            parser.error("--master and --from do not go together: an upgrade runs salt-ssh")
        return up(Layout(args.shape, prefix), args.upgrade_from, args.master)
    if args.command == "master":
        layout = saved_layout()
        client = docker.from_env()
        return converge_by_master(client, layout, image.ensure_images(client, layout.releases, say))
    if args.command == "add":
        return add(args.datacenter, args.role)
    if args.command == "remove":
        return remove(args.datacenter, args.role)
    if args.command == "down":
        return down()
    if args.command == "status":
        return status()
    if args.command == "converge":
        saved_layout()
        return converge_lab(test=args.test)
    if args.command == "all-in-one":
        prefix = os.environ.get("LAB_SUBNET_PREFIX", DEFAULT_SUBNET_PREFIX)
        record = allinone.up(prefix, say)
        return 0 if all(not run["failed"] and not run["error"]
                        for run in record["runs"].values()) else 1
    if args.command == "fetch-consul":
        version, _ = debian.consul_release()
        print(CONSUL_DIR / "consul", version)
        return 0
    if args.command == "fetch-zookeeper":
        print(debian.zookeeper_jars())
        return 0
    mirror.serve(args.addresses.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main())
