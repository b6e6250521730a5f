"""The all-in-one host: the Vagrantfile's default VM, made in the lab (``lab all-in-one``).

One host with both roles in a one-node dc1 (vagrant/all-in-one: its roster names it and its
grains), on a network of its own beside the shape's hosts, converged the way that VM
converges itself: this tree copied to /vagrant (the VM's rsync), ``vagrant/provision
masterless all-in-one HOST`` (the Vagrantfile's shell provisioner), then the command
Vagrant's salt provisioner runs, ``salt-call state.highstate --retcode-passthrough --local``,
with JSON output for the lab to read; twice, the second to show it changes nothing.

What differs is the lab's being offline: pip takes the toolchain from the mirror's wheelhouse
(PIP_NO_INDEX, PIP_FIND_LINKS, PIP_TRUSTED_HOST), and the VM's own pillar
(/etc/salt-platform/pillar/local.sls, last in vagrant/pillar/top.sls) points the Debian
archives, Consul, the registrator's wheel and the test image at the mirror and gives the host
its lab address. What each run did is kept in RESULT_FILE.
"""

import io
import json
import os
import subprocess
import tarfile
from dataclasses import asdict

import docker
import yaml

from . import artifacts, converge, hosts, image, inventory, mirror
from .naming import MIRROR_HOSTNAME, MIRROR_PORT, NETWORK_PREFIX, Host, Network
from .paths import LAB_DIR, REPO

SHAPE = "all-in-one"
ROSTER = REPO / "vagrant" / SHAPE / "roster"
# The container's name; the host's own name (hostname, minion id) is the roster's.
CONTAINER = "allinone-1"
# The LAN of the N-th datacenter of a shape is PREFIX.N.0/24 (at most 14): this one is apart.
NETWORK_INDEX = 15
TREE = "/vagrant"
LOCAL_PILLAR_DIR = "/etc/salt-platform/pillar"
STATE_DIR = LAB_DIR / "all-in-one"
RESULT_FILE = STATE_DIR / "result.json"
PROVISION_LOG = STATE_DIR / "provision.log"
# Seconds the shell provisioner (apt, pip) and a highstate may take.
PROVISION_TIMEOUT = 1200
HIGHSTATE_TIMEOUT = 1800
HIGHSTATE = (
    "salt-call", "state.highstate", "--retcode-passthrough", "--local", "--log-level=warning",
    "--out=json",
)


def host(subnet_prefix: str) -> tuple[Host, Network]:
    """The roster's one host, with its address on the lab's all-in-one network."""
    ((name, entry),) = yaml.safe_load(ROSTER.read_text()).items()
    grains = entry["minion_opts"]["grains"]
    network = Network(f"{NETWORK_PREFIX}-{SHAPE}", f"{subnet_prefix}.{NETWORK_INDEX}.0/24")
    address = f"{subnet_prefix}.{NETWORK_INDEX}.11"
    return (
        Host(name, grains["datacenter"], "bookworm", tuple(grains["roles"]), address),
        network,
    )


def local_pillar(node: Host) -> dict:
    """The VM's own pillar in the lab: the lab's site (mirror) and the host's address."""
    return {
        **inventory.site(),
        "datacenters": {
            node.datacenter: {"control_nodes": [{"id": node.name, "address": node.address}]},
        },
    }


def tree_files() -> list[str]:
    """The repository's files as a checkout has them: tracked and new, not ignored (no
    .venv, .lab or secrets), relative to its root."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    return [path for path in listed if path and os.path.lexists(REPO / path)]


def copy_tree(container) -> None:
    """The repository's files into /vagrant, as the VM's rsync puts them there."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for path in tree_files():
            tar.add(REPO / path, arcname=f"{TREE.lstrip('/')}/{path}", recursive=False)
    container.put_archive("/", archive.getvalue())


def run(container, command, timeout: int, environment: dict | None = None) -> tuple[int, str, str]:
    """A command on the host, bounded: its exit code, stdout and stderr."""
    result = container.exec_run(
        ["timeout", str(timeout), *command], environment=environment, demux=True
    )
    stdout, stderr = result.output
    return result.exit_code, (stdout or b"").decode(), (stderr or b"").decode()


def highstate(container, name: str) -> converge.HostResult:
    """Vagrant's salt provisioner's highstate on the host, summed up as the lab's are."""
    code, stdout, stderr = run(container, HIGHSTATE, HIGHSTATE_TIMEOUT)
    try:
        returned = json.loads(stdout)["local"]
    except (json.JSONDecodeError, KeyError, TypeError):
        result = converge.HostResult(name)
        result.error = f"salt-call exit {code}, no JSON: {stdout[-2000:]}{stderr[-2000:]}"
        return result
    return converge.summarise(name, returned)


def up(subnet_prefix: str, say) -> dict:
    """Make the all-in-one host afresh, provision and converge it twice; the record."""
    client = docker.from_env()
    node, network = host(subnet_prefix)
    tags = image.ensure_images(client, [node.release], say)
    inventory.ensure_ssh_key()
    artifacts.ensure_artifacts(say)
    # A new VM each time, as `vagrant up` makes one: the first highstate is a first bring-up.
    hosts.fresh_hosts(client, hosts.ALL_IN_ONE, network, {CONTAINER: node}, tags[node.release])
    mirror.add_address(network.gateway)
    say(f"{CONTAINER} ({node.name}, {node.address}) created")
    container = client.containers.get(CONTAINER)
    copy_tree(container)
    mirror_url = f"http://{MIRROR_HOSTNAME}:{MIRROR_PORT}"
    say(f"vagrant/provision masterless {SHAPE} {node.name} (pip from the mirror's wheelhouse)")
    code, stdout, stderr = run(
        container, [f"{TREE}/vagrant/provision", "masterless", SHAPE, node.name],
        PROVISION_TIMEOUT,
        environment={
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": f"{mirror_url}/files/{artifacts.WHEELHOUSE_INDEX}",
            # The mirror speaks plain HTTP on the lab's own network.
            "PIP_TRUSTED_HOST": MIRROR_HOSTNAME,
        },
    )
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    PROVISION_LOG.write_text(stdout + stderr)
    if code != 0:
        raise RuntimeError(f"vagrant/provision failed (exit {code}): {stderr[-2000:]}")
    run(container, ["install", "-d", "-m", "0700", LOCAL_PILLAR_DIR], 30)
    hosts.put_private_files(
        container, LOCAL_PILLAR_DIR,
        {"local.sls": "# Written by the lab: its mirror and this host's address.\n"
                      + yaml.safe_dump(local_pillar(node), sort_keys=False)},
    )
    runs = {}
    for attempt in ("first", "second"):
        say(f"{attempt} highstate: {' '.join(HIGHSTATE[:5])}")
        runs[attempt] = highstate(container, node.name)
        result = runs[attempt]
        say(f"  {result.states} states, {len(result.changed)} changed, "
            f"{len(result.failed)} failed{', ' + result.error[:300] if result.error else ''}")
    record = {
        "host": asdict(node),
        "container": CONTAINER,
        "runs": {attempt: asdict(result) for attempt, result in runs.items()},
    }
    RESULT_FILE.write_text(json.dumps(record, indent=1) + "\n")
    return record
