"""The lab in master mode (``lab master``): a salt-master on a lab host of its own, the shape's
hosts its minions, kept converged by the schedule in their pillar.

The master is the container ``lab-master``, on every LAN of the shape at ``.250`` (the hosts'
networks are internal: no address of this machine reaches them all), which the hosts name
``salt.lab``. It runs Salt from the mirror's wheelhouse (the operator's requirements.txt),
with the repository at its own path: the state tree, the lab's pillar and secrets (the CA's
key signs the agents' certificates in the master's external pillar) and the master's pki_dir
(``MASTER_PKI_DIR``), where salt.minion, applied by salt-ssh from this machine, makes and accepts
every minion's key. Nobody accepts a key by hand: ``auto_accept`` stays off.

Then the master converges the site by its orchestration (``orch.site``: the mine, the control
nodes of the primary datacenter, the other datacenters' control nodes, compute, edge) and the
minions keep it so: their pillar's ``schedule`` runs the highstate every interval with a splay.
"""

import json
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

import docker

from . import converge, hosts, inventory
from .artifacts import WHEELHOUSE_INDEX
from .naming import MIRROR_HOSTNAME, MIRROR_PORT, Host, Layout
from .paths import LAB_DIR, MASTER_DIR, MASTER_PKI_DIR, REPO

CONTAINER = "lab-master"
KIND = "master"
CONFIG_FILE = MASTER_DIR / "master"
ORCHESTRATE_LOG = LAB_DIR / "last-orchestrate.json"
HIGHSTATE_LOG = LAB_DIR / "last-master-highstate.json"
# Salt in the master host, from the mirror's wheelhouse.
PREFIX = "/opt/salt-master"
UNIT = "/etc/systemd/system/salt-master.service"
# Seconds the master may take to install and to start, the minions to connect and to stop.
INSTALL_TIMEOUT = 600
START_TIMEOUT = 60
CONNECT_TIMEOUT = 180
STOP_TIMEOUT = 120
# Seconds a salt command from the master may take (a first highstate of every host).
COMMAND_TIMEOUT = 1800


def config(layout: Layout) -> dict:
    """The master's configuration: the tree and pillar salt-ssh uses, its keys in
    MASTER_PKI_DIR, and its own files in the master host."""
    return {
        **inventory.salt_config(),
        "root_dir": "/",
        "pki_dir": str(MASTER_PKI_DIR),
        "cachedir": "/var/cache/salt/master",
        "sock_dir": "/run/salt/master",
        "pidfile": "/run/salt-master.pid",
        "log_file": "/var/log/salt/master",
        "log_level_logfile": "info",
        "user": "root",
        # Every address of the master host: its LAN addresses, nothing else.
        "interface": "0.0.0.0",
        "auto_accept": False,
        # The master signs each minion's Consul certificate into its pillar, with the CA key
        # in the lab's secrets (docs/security.md).
        "ext_pillar": [{"consul_pki": {}}],
        # A highstate of a control node waits for locks and for its peers: give it time.
        "timeout": 30,
        "gather_job_timeout": 30,
        "worker_threads": max(5, len(layout.hosts)),
    }


def _unit() -> str:
    return (
        "[Unit]\nDescription=The lab's salt-master\nAfter=network-online.target\n\n"
        f"[Service]\nExecStart={PREFIX}/bin/salt-master -c {MASTER_DIR}\n"
        "Restart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n"
    )


def _run(container, command: list[str], timeout: int = INSTALL_TIMEOUT) -> str:
    """A command in the master host; its output, or RuntimeError with it."""
    finished = subprocess.run(
        ["docker", "exec", container.name, *command],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )
    if finished.returncode:
        raise RuntimeError(
            f"{' '.join(command)} in {container.name} failed (exit {finished.returncode}):\n"
            f"{finished.stdout[-2000:]}{finished.stderr[-2000:]}"
        )
    return finished.stdout


def ensure(client: docker.DockerClient, layout: Layout, images: dict[str, str], say) -> None:
    """The master host on every LAN, Salt installed, its configuration written, running;
    ``images``: the host image's tag by release."""
    lans = [layout.networks[name] for name in layout.datacenters]
    release = layout.releases[0]
    node = Host(CONTAINER, "", release, (), lans[0].master_address)
    hosts.ensure_container(
        client, node, images[release], lans[0], name=CONTAINER, kind=KIND, shared=(str(REPO),)
    )
    container = client.containers.get(CONTAINER)
    api = client.api
    for lan in lans[1:]:
        if lan.name not in container.attrs["NetworkSettings"]["Networks"]:
            api.connect_container_to_network(
                container.id, lan.name, ipv4_address=lan.master_address
            )
    hosts.wait_until_booted(client, [CONTAINER])
    if subprocess.run(["docker", "exec", CONTAINER, "test", "-x", f"{PREFIX}/bin/salt-master"],
                      capture_output=True).returncode:
        say("installing Salt in the master host from the mirror's wheelhouse")
        _run(container, ["apt-get", "update", "-q"])
        _run(container, ["apt-get", "install", "-y", "-q", "--no-install-recommends",
                         "python3-venv"])
        _run(container, ["python3", "-m", "venv", PREFIX])
        _run(container, [
            f"{PREFIX}/bin/pip", "install", "-q", "--no-index", "--find-links",
            f"http://{MIRROR_HOSTNAME}:{MIRROR_PORT}/files/{WHEELHOUSE_INDEX}",
            "--trusted-host", MIRROR_HOSTNAME, "-r", str(REPO / "requirements.txt"),
        ])
    inventory.write_yaml(CONFIG_FILE, config(layout), "Generated by the lab (lab master).")
    hosts.put_private_files(container, str(Path(UNIT).parent), {Path(UNIT).name: _unit()})
    _run(container, ["chmod", "0644", UNIT])
    _run(container, ["systemctl", "daemon-reload"])
    _run(container, ["systemctl", "enable", "salt-master"])
    # A changed configuration takes a restart; an unchanged running master is left alone.
    _run(container, ["systemctl", "restart" if _config_changed() else "start", "salt-master"])
    deadline = time.monotonic() + START_TIMEOUT
    while not (MASTER_PKI_DIR / "master.pub").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the salt-master made no key within {START_TIMEOUT} s: "
                               f"docker exec {CONTAINER} journalctl -u salt-master")
        time.sleep(1)


def running(client: docker.DockerClient) -> bool:
    """Whether the lab runs in master mode (its master host runs)."""
    return any(container.status == "running" for container in hosts.lab_containers(client, KIND))


def _config_changed() -> bool:
    """Whether the configuration differs from the one the running master started with."""
    started = MASTER_DIR / "master.started"
    current = CONFIG_FILE.read_text()
    changed = not started.exists() or started.read_text() != current
    started.write_text(current)
    return changed


def salt(*args: str, timeout: int = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
    """``salt ARGS`` (or ``salt-run``/``salt-key`` as the first argument) on the master."""
    command = args[0] if args and args[0] in ("salt-run", "salt-key") else "salt"
    rest = args[1:] if command != "salt" else args
    return subprocess.run(
        ["docker", "exec", CONTAINER, f"{PREFIX}/bin/{command}", "-c", str(MASTER_DIR), *rest],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


def _answer(finished: subprocess.CompletedProcess, log: Path | None = None) -> dict:
    """A salt command's JSON answer ({} when it printed none, as when no minion answered),
    its raw output kept in ``log`` if given; RuntimeError when the JSON is broken. Lines
    before it are skipped (salt prints "No minions matched the target" there for a step of
    the orchestration that matches no host)."""
    if log is not None:
        log.write_text(finished.stdout + finished.stderr)
    start = finished.stdout.find("{")
    try:
        return json.JSONDecoder().raw_decode(finished.stdout[start:])[0] if start >= 0 else {}
    except json.JSONDecodeError:
        raise RuntimeError(
            f"{' '.join(finished.args[2:5])} gave no JSON (exit {finished.returncode}):\n"
            f"{finished.stdout[-3000:]}{finished.stderr[-3000:]}"
        ) from None


def keys() -> dict[str, list[str]]:
    """The master's keys by state: ``minions`` (accepted), ``minions_pre`` (pending), ..."""
    return _answer(salt("salt-key", "--list=all", "--out=json"))


def forget_departed(layout: Layout) -> list[str]:
    """Delete the keys of minions that are no host of the lab any more (an earlier, larger
    lab's, kept in MASTER_PKI_DIR): ``salt '*'`` waits its whole timeout for every accepted
    minion that does not answer. The names deleted."""
    names = {host.name for host in layout.hosts}
    departed = sorted({name for listed in keys().values() for name in listed} - names)
    for name in departed:
        salt("salt-key", "-y", "-d", name)
    return departed


def bootstrap(names: list[str]) -> dict[str, converge.HostResult]:
    """salt.minion on the named hosts, by salt-ssh from this machine."""
    answers, _ = converge.call(",".join(names), "state.apply", "salt.minion", "-L")
    return {name: converge.summarise(name, answer) for name, answer in answers.items()}


def wait_connected(names: list[str], timeout: int = CONNECT_TIMEOUT) -> list[str]:
    """Wait (bounded) until every named minion answers the master; those that did not."""
    deadline = time.monotonic() + timeout
    missing = list(names)
    while missing and time.monotonic() < deadline:
        finished = salt("-L", ",".join(missing), "test.ping", "--out=json", "--static",
                        "--timeout=10", timeout=60)
        answered = _answer(finished)
        missing = [name for name in missing if answered.get(name) is not True]
        if missing:
            time.sleep(2)
    return missing


class Step(NamedTuple):
    """One step of the orchestration: its state ID, result and comment (which names the
    minions that failed, and those it changed and left alone)."""

    name: str
    result: bool
    comment: str


def orchestrate() -> list[Step]:
    """``salt-run state.orchestrate orch.site``: its steps, in order. The raw output is kept
    in ORCHESTRATE_LOG (the changed minions' states are there)."""
    answer = _answer(salt("salt-run", "state.orchestrate", "orch.site", "--out=json"),
                     ORCHESTRATE_LOG)
    states = [
        state for returned in answer.get("data", {}).values()
        for state in returned.values() if isinstance(state, dict)
    ]
    return [
        Step(state.get("__id__", ""), state.get("result") is True, state.get("comment", ""))
        for state in sorted(states, key=lambda state: state.get("__run_num__", 0))
    ]


def highstate(target: str = "*", test: bool = False) -> dict[str, converge.HostResult]:
    """One highstate of the target minions from the master (queued behind a running one)."""
    finished = salt(target, "state.highstate", "queue=True", *(["test=True"] if test else []),
                    "--out=json", "--static", "--timeout=600")
    answers = _answer(finished, HIGHSTATE_LOG)
    return {name: converge.summarise(name, answer) for name, answer in answers.items()}


def remove_minions(names: list[str]) -> dict[str, converge.HostResult]:
    """The lab back to salt-ssh only: the named hosts' minions stopped (stop_minions), then
    salt.minion undone by salt-ssh (salt.minion.clean: its unit, Salt, keys, configuration).
    The master keeps their accepted keys, which salt.minion gives them again."""
    stop_minions(names)
    answers, _ = converge.call(",".join(names), "state.apply", "salt.minion.clean", "-L")
    return {name: converge.summarise(name, answer) for name, answer in answers.items()}


def stop_minions(names: list[str]) -> None:
    """salt-minion stopped and disabled on the named hosts.

    Their schedule is paused and their running jobs awaited first (bounded): a minion
    stopped in the middle of a highstate may not exit, and its processes, left over, keep the
    next one from starting. Whatever is left after the stop is killed."""
    target = ",".join(names)
    salt("-L", target, "schedule.disable", "persist=False", "--timeout=30", timeout=120)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        finished = salt("-L", target, "saltutil.running", "--out=json", "--static",
                        "--timeout=30", timeout=120)
        running = _answer(finished)
        if not any(running.values()):
            break
        time.sleep(5)
    stop = "systemctl disable --now salt-minion; systemctl kill --signal=SIGKILL salt-minion; " \
           "systemctl reset-failed salt-minion"
    stopping = [
        subprocess.Popen(["docker", "exec", name, "sh", "-c", stop],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name in names
    ]
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in stopping:
        try:
            process.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
