"""Continuous probes on a lab host while the lab changes (an upgrade): does a name still resolve,
does the datacenter still take a write?

A small Python loop runs on the host itself (its python3), so that a probe costs no
``docker exec``: every 0.1 s it resolves a Consul name through the host's resolver (dnsmasq,
then the local agent), and every second it writes a key through the local agent's HTTP API.
A lookup that fails is asked again once after 0.2 s, as an application's resolver would: it
fails only if that fails too, and the ones answered the second time are counted apart. A
write that fails (the local agent restarting for a new binary, a datacenter electing a leader)
is tried again every 0.5 s, as an application's client would: it fails only when not done
within KV_WRITE_TIMEOUT seconds, and the ones done when tried again are counted apart.
On a compute host a thread of it also starts a container of the lab's image every few
seconds, with a service name of its own, and counts a registration as made when that name
resolves within REGISTRATION_TIMEOUT seconds (the registrator, Consul and DNS at work), then
removes the container.
It counts what failed and writes the counts when asked to stop. Observation only: it changes
nothing a state is responsible for.

With ``zookeeper`` (an ensemble's connection string), a thread of the lab itself also writes
a znode every second through a kazoo session, as an application with the site's client login
(``secrets:zookeeper:clients``) would: its client moves to another member when one restarts,
and a write counts as failed only when it is not done within ZOOKEEPER_WRITE_TIMEOUT seconds.

A write presents the site's management token (a root-only file in /run, put there without a
command line and removed afterwards); while a site goes secure stage by stage, Consul refuses
a token it does not know yet even under ACLs that allow, so a write refused with the token is
tried once without: it fails when the site accepts it with neither.
"""

import json
import logging
import threading
import time
from dataclasses import dataclass

import docker
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

from .hosts import put_private_files
from .inventory import read_secrets

RESULT = "/run/lab-probes.json"
# Not in /run: a tmpfs, which docker's archive API does not write into.
TOKEN = "/root/.lab-probes.token"
STOP = "/run/lab-probes.stop"

# Seconds between two probe containers, and that one may take to resolve by its name.
REGISTRATION_INTERVAL = 5
REGISTRATION_TIMEOUT = 60
# Seconds a KV write may take, tried again every 0.5 s meanwhile.
KV_WRITE_TIMEOUT = 5
# Seconds to wait for the loop's counts once it is asked to stop: a registration under way
# finishes first.
STOP_TIMEOUT = 10 + REGISTRATION_TIMEOUT
# The znode the ZooKeeper probe writes; seconds a write may take, retries included; seconds a
# session may take to reach a member.
ZOOKEEPER_PATH = "/lab-probes"
ZOOKEEPER_WRITE_TIMEOUT = 10
ZOOKEEPER_SESSION_TIMEOUT = 15

LOOP = r"""
import json, os, socket, subprocess, sys, threading, time, urllib.error, urllib.request
name, key, result, stop, token_file, image = sys.argv[1:7]
interval, deadline, write_timeout = float(sys.argv[7]), float(sys.argv[8]), float(sys.argv[9])
token = open(token_file).read().strip() if os.path.exists(token_file) else ""


def write(with_token):
    request = urllib.request.Request(
        "http://127.0.0.1:8500/v1/kv/" + key, data=str(time.time()).encode(), method="PUT")
    if with_token:
        request.add_header("X-Consul-Token", token)
    urllib.request.urlopen(request, timeout=2).read()


counts = {"dns": [0, 0], "kv": [0, 0], "registration": [0, 0], "dns_retried": 0,
          "kv_retried": 0}
first_failure = {}


def failed(kind, why):
    counts[kind][1] += 1
    first_failure.setdefault(kind, why)


def register(number):
    service = "lab-probe-%d" % number
    started = subprocess.run(
        ["docker", "run", "-d", "--rm", "--name", service, "-e", "SERVICE_NAME=" + service,
         "-p", "80", image], capture_output=True, text=True)
    if started.returncode != 0:
        return failed("registration", "docker run: " + started.stderr.strip())
    try:
        until = time.monotonic() + deadline
        while time.monotonic() < until:
            try:
                socket.getaddrinfo(service + ".service.consul", None)
                counts["registration"][0] += 1
                return
            except OSError:
                time.sleep(0.5)
        failed("registration", "%s did not resolve within %ss" % (service, deadline))
    finally:
        subprocess.run(["docker", "rm", "-f", service], capture_output=True)


def registrations():
    number = 0
    while image and not os.path.exists(stop):
        number += 1
        began = time.monotonic()
        register(number)
        time.sleep(max(0.0, interval - (time.monotonic() - began)))


def write_once():
    try:
        write(bool(token))
    except urllib.error.HTTPError as refused:
        if not token or refused.code != 403:
            raise
        write(False)


def writes():
    # A write every second, tried again every 0.5 s until done or write_timeout seconds have
    # passed, as an application's client would: one done only when tried again counts apart.
    while not os.path.exists(stop):
        began = time.monotonic()
        tries = 0
        while True:
            tries += 1
            try:
                write_once()
            except Exception as err:
                if time.monotonic() + 0.5 >= began + write_timeout:
                    failed("kv", str(err))
                    break
                first_failure.setdefault("kv_retried", str(err))
                time.sleep(0.5)
                continue
            counts["kv"][0] += 1
            counts["kv_retried"] += tries > 1
            break
        time.sleep(max(0.0, 1.0 - (time.monotonic() - began)))


threads = [threading.Thread(target=registrations), threading.Thread(target=writes)]
for thread in threads:
    thread.start()
while not os.path.exists(stop):
    try:
        try:
            socket.getaddrinfo(name, None)
        except OSError as err:
            # Asked again once, as an application would: one answer lost counts apart.
            first_failure.setdefault("dns_retried", str(err))
            time.sleep(0.2)
            socket.getaddrinfo(name, None)
            counts["dns_retried"] += 1
        counts["dns"][0] += 1
    except OSError as err:
        failed("dns", str(err))
    time.sleep(0.1)
for thread in threads:
    thread.join()
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
    dns_retried: int
    kv_ok: int
    kv_failed: int
    registration_ok: int
    registration_failed: int
    first_failure: dict[str, str]
    kv_retried: int = 0
    zookeeper_ok: int = 0
    zookeeper_failed: int = 0

    def line(self) -> str:
        return (
            f"probes on {self.host}: DNS {self.dns_failed} failed of "
            f"{self.dns_ok + self.dns_failed} ({self.dns_retried} answered when asked again), "
            f"KV writes {self.kv_failed} failed of "
            f"{self.kv_ok + self.kv_failed} ({self.kv_retried} done when tried again), "
            f"registrations {self.registration_failed} failed "
            f"of {self.registration_ok + self.registration_failed}, ZooKeeper writes "
            f"{self.zookeeper_failed} failed of {self.zookeeper_ok + self.zookeeper_failed}"
        )


class ZooKeeperWrites:
    """A thread that writes ZOOKEEPER_PATH every second through one kazoo session with the
    ensemble ``hosts`` and the client login ``auth``, counting writes done and failed."""

    def __init__(self, hosts: str, auth: str) -> None:
        self.client = KazooClient(
            hosts=hosts, auth_data=[("digest", auth)], timeout=ZOOKEEPER_SESSION_TIMEOUT,
            connection_retry={"max_tries": -1, "delay": 0.5, "max_delay": 2},
        )
        self.ok = self.failed = 0
        self.first_failure = ""
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        # kazoo logs every lost connection as an error: a member restarting is expected here.
        logging.getLogger("kazoo.client").setLevel(logging.CRITICAL)
        self.client.start(timeout=ZOOKEEPER_SESSION_TIMEOUT)
        self.client.ensure_path(ZOOKEEPER_PATH)
        self.thread.start()

    def _write(self) -> None:
        """One write, tried again until done or ZOOKEEPER_WRITE_TIMEOUT has passed."""
        deadline = time.monotonic() + ZOOKEEPER_WRITE_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            try:
                self.client.set_async(ZOOKEEPER_PATH, str(time.time()).encode()).get(
                    timeout=max(remaining, 0.1)
                )
                self.ok += 1
                return
            except (KazooException, KazooTimeoutError) as err:
                if time.monotonic() + 0.5 >= deadline:
                    self.failed += 1
                    self.first_failure = self.first_failure or f"{type(err).__name__}: {err}"
                    return
                time.sleep(0.5)

    def _run(self) -> None:
        while not self.stop.is_set():
            began = time.monotonic()
            self._write()
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - began)))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=ZOOKEEPER_WRITE_TIMEOUT + 5)
        self.client.stop()
        self.client.close()


class Probes:
    """``with Probes(host):`` probes run on ``host`` for the duration of the block."""

    def __init__(
        self, host: str, name: str = "consul.service.consul", image: str = "",
        zookeeper: str = "",
    ) -> None:
        """``image``: the image of the registration probe's containers; none: no such probe
        (a host without Docker). ``zookeeper``: the ensemble the ZooKeeper probe writes to
        (``10.231.1.11:2181,...``); none: no such probe."""
        self.container = docker.from_env().containers.get(host)
        self.host = host
        self.name = name
        self.image = image
        self.counts: ProbeCounts | None = None
        self.zookeeper: ZooKeeperWrites | None = None
        if zookeeper:
            login = read_secrets()["zookeeper"]["clients"]["marathon"]
            self.zookeeper = ZooKeeperWrites(zookeeper, f"{login['user']}:{login['password']}")

    def __enter__(self) -> "Probes":
        if self.zookeeper:
            self.zookeeper.start()
        self.container.exec_run(["rm", "-f", RESULT, STOP, TOKEN])
        self._put_token()
        self.container.exec_run(
            ["python3", "-c", LOOP, self.name, f"lab/probes/{self.host}", RESULT, STOP, TOKEN,
             self.image, str(REGISTRATION_INTERVAL), str(REGISTRATION_TIMEOUT),
             str(KV_WRITE_TIMEOUT)],
            detach=True,
        )
        return self

    def _put_token(self) -> None:
        """The management token into TOKEN, root's only, without a command line."""
        directory, name = TOKEN.rsplit("/", 1)
        token = read_secrets()["consul"]["acl"]["management"]["secret_id"]
        put_private_files(self.container, directory, {name: token})

    def __exit__(self, *exc) -> None:
        self.container.exec_run(["touch", STOP])
        try:
            self._collect()
        finally:
            self.container.exec_run(["rm", "-f", TOKEN])
            if self.zookeeper:
                self.zookeeper.close()
        if self.zookeeper:
            self.counts.zookeeper_ok = self.zookeeper.ok
            self.counts.zookeeper_failed = self.zookeeper.failed
            if self.zookeeper.first_failure:
                self.counts.first_failure["zookeeper"] = self.zookeeper.first_failure

    def _collect(self) -> None:
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            found = self.container.exec_run(["cat", RESULT])
            if found.exit_code == 0:
                answer = json.loads(found.output)
                counts = answer["counts"]
                self.counts = ProbeCounts(
                    self.host, *counts["dns"], counts["dns_retried"], *counts["kv"],
                    *counts["registration"],
                    answer["first_failure"],
                    kv_retried=counts["kv_retried"],
                )
                return
            time.sleep(0.5)
        raise RuntimeError(f"the probes on {self.host} gave no counts within {STOP_TIMEOUT} s")
