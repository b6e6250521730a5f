"""Fixtures of the functional tests: the masterless minion of one host of a plan (`minion`),
a host whose Mesos and Marathon write their files into a temporary directory (`control_plane`
and `files`), Salt's loaders over the repository's custom modules (`loaders`, or `salt_with`
for settings and a pillar of a test's own), and real single-server Consul agents on loopback,
one per datacenter, on ports picked at random, one of them with ACLs (`acl_agent`); and a real
standalone ZooKeeper member from Debian's jars (`zookeeper_member`).
"""

import copy
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import salt._logging
import salt.config
from salt.exceptions import CommandExecutionError
from saltfactories.utils.functional import Loaders
from pytestshellutils.utils.ports import get_unused_localhost_port

from tests.functional.harness import (
    CONSUL_BINARY,
    REPO,
    ZOOKEEPER_JARS,
    Minion,
    control_nodes,
    control_plane_site,
    stop_process,
    write_pillar,
    write_yaml,
)

# Seconds an agent may take to elect itself; with raft_multiplier 1 it takes about two.
LEADER_TIMEOUT = 60
# Seconds a standalone ZooKeeper may take to serve; it takes about one.
ZOOKEEPER_TIMEOUT = 60
# The management token of `acl_agent` (acl.tokens.master: the binary is Consul 1.8).
MANAGEMENT_TOKEN = "0b7c1a3e-5f0d-4c55-9a57-0d1e2a3b4c5d"


@dataclass(frozen=True)
class ConsulAgent:
    """A running agent and the ports it listens on (all on 127.0.0.1)."""

    datacenter: str
    http_port: int
    serf_wan_port: int
    server_port: int
    log_path: Path
    https_port: int = 0
    dns_port: int = 0

    @property
    def https_url(self) -> str:
        """The HTTPS API's URL; "" when the agent serves none."""
        return f"https://127.0.0.1:{self.https_port}" if self.https_port else ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def wan_address(self) -> str:
        return f"127.0.0.1:{self.serf_wan_port}"

    @property
    def server_address(self) -> str:
        return f"127.0.0.1:{self.server_port}"

    def get(self, path: str, token: str | None = None) -> Any:
        headers = {"X-Consul-Token": token} if token else {}
        request = urllib.request.Request(f"{self.url}{path}", headers=headers)
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    def datacenters(self) -> list[str]:
        return self.get("/v1/catalog/datacenters")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _require_consul_binary() -> None:
    if not CONSUL_BINARY.is_file():
        pytest.fail(
            f"the Consul binary {CONSUL_BINARY} is missing: run scripts/bootstrap "
            "(it fetches Consul with `.venv/bin/python -m lab fetch-consul`)",
            pytrace=False,
        )


def _wait_for(
    agent: ConsulAgent, process: subprocess.Popen, what: str, path: str, token: str | None = None
) -> None:
    """Wait until ``path`` answers with something (under ACL deny, /v1/status/* still do)."""
    deadline = time.monotonic() + LEADER_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"Consul agent of {agent.datacenter} exited with {process.returncode}:\n"
                f"{agent.log_tail()}",
                pytrace=False,
            )
        try:
            if agent.get(path, token):
                return
        except OSError:
            pass  # the HTTP listener is not up yet, or the answer is an error
        time.sleep(0.2)
    pytest.fail(
        f"Consul agent of {agent.datacenter} has no {what} after {LEADER_TIMEOUT}s:\n"
        f"{agent.log_tail()}",
        pytrace=False,
    )


def _running_consul_agent(
    datacenter: str, directory: Path, settings: dict[str, Any] | None = None, https: bool = False
) -> Iterator[ConsulAgent]:
    """Start a single-server agent of ``datacenter`` (with ``settings`` added to its
    configuration, and an HTTPS port with ``https``), wait for its leader (and for its
    management token, which the leader makes after its election), stop it afterwards."""
    _require_consul_binary()
    ports = {
        name: get_unused_localhost_port(use_cache=True)
        for name in ("http", "https", "dns", "serf_lan", "serf_wan", "server")
    }
    if not https:
        ports["https"] = -1
    directory.mkdir(exist_ok=True)
    config = {
        "datacenter": datacenter,
        "node_name": f"functional-{datacenter}",
        "server": True,
        "bootstrap_expect": 1,
        "data_dir": str(directory / "data"),
        "bind_addr": "127.0.0.1",
        "client_addr": "127.0.0.1",
        "ports": {**ports, "grpc": -1},
        # Elect in about a second instead of the production default's several.
        "performance": {"raft_multiplier": 1},
        "log_level": "INFO",
        **(settings or {}),
    }
    config_path = directory / "config.json"
    config_path.write_text(json.dumps(config))
    agent = ConsulAgent(
        datacenter=datacenter,
        http_port=ports["http"],
        serf_wan_port=ports["serf_wan"],
        server_port=ports["server"],
        log_path=directory / "consul.log",
        https_port=max(ports["https"], 0),
        dns_port=ports["dns"],
    )
    with agent.log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(CONSUL_BINARY), "agent", f"-config-file={config_path}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    management_token = config.get("acl", {}).get("tokens", {}).get("master")
    try:
        _wait_for(agent, process, "leader", "/v1/status/leader")
        if management_token:
            _wait_for(agent, process, "management token", "/v1/acl/token/self", management_token)
        yield agent
    finally:
        stop_process(process)


@pytest.fixture
def consul_dc1(tmp_path: Path) -> Iterator[ConsulAgent]:
    yield from _running_consul_agent("dc1", tmp_path / "consul-dc1")


@pytest.fixture
def consul_dc2(tmp_path: Path) -> Iterator[ConsulAgent]:
    yield from _running_consul_agent("dc2", tmp_path / "consul-dc2")


@pytest.fixture
def acl_agent(tmp_path: Path) -> Iterator[ConsulAgent]:
    """An agent of dc1 with ACLs, default deny, and the management token MANAGEMENT_TOKEN: it
    denies a request without a token everything but /v1/status/*."""
    acl = {"enabled": True, "default_policy": "deny", "tokens": {"master": MANAGEMENT_TOKEN}}
    settings = {"primary_datacenter": "dc1", "acl": acl}
    yield from _running_consul_agent("dc1", tmp_path / "consul-acl", settings)


@pytest.fixture(scope="session")
def minion_opts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Masterless minion options that load _modules and _states of this repository."""
    root = tmp_path_factory.mktemp("salt")
    for tree in ("srv", "pillar"):
        (root / tree).mkdir()
    config = {
        "id": "functional-minion",
        "root_dir": str(root),
        "file_client": "local",
        "file_roots": {"base": [str(root / "srv")]},
        "pillar_roots": {"base": [str(root / "pillar")]},
        # _modules, _states and _utils straight from the repository, as etc/salt/minion.
        "module_dirs": [str(REPO)],
    }
    config_path = root / "minion"
    config_path.write_text(json.dumps(config))
    return salt.config.minion_config(str(config_path))


@pytest.fixture(scope="session")
def loaders(minion_opts: dict[str, Any]) -> Iterator[Loaders]:
    yield Loaders(minion_opts)
    # Salt defers warnings to a handler it flushes at exit, to a stderr pytest has closed by
    # then ("Logging error ... I/O operation on closed file"); hand them over now instead.
    salt._logging.shutdown_temp_handler()


@contextmanager
def salt_with(
    minion_opts: dict[str, Any],
    directory: Path,
    settings: dict[str, str],
    pillar: dict[str, Any] | None = None,
) -> Iterator[Loaders]:
    """Salt's loaders with ``consul_cluster`` settings in the minion config and ``pillar`` as
    the minion's pillar, its files and cache under ``directory``."""
    opts = copy.deepcopy(minion_opts)
    opts["consul_cluster"] = settings
    opts["cachedir"] = str(directory / "cache")
    pillar_root = directory / "pillar"
    write_yaml(pillar_root / "top.sls", {"base": {"*": ["test"]}})
    write_yaml(pillar_root / "test.sls", pillar or {})
    opts["pillar_roots"] = {"base": [str(pillar_root)]}
    loaders = Loaders(opts)
    try:
        yield loaders
    finally:
        loaders.reset_state()


@pytest.fixture(autouse=True)
def reset_loaders_state(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    # Only tests that used the loaders have state to reset.
    if "loaders" in request.fixturenames:
        request.getfixturevalue("loaders").reset_state()


@pytest.fixture(scope="session")
def minion(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Minion]:
    """``minion(minion_id, roles, datacenter=, datacenters=, site=, pillar_dir=, grains=,
    secrets=)``: the masterless minion of one host of a plan. Its grains are its roles and
    datacenter, then ``grains``; its pillar is ``pillar_dir``, or one written from
    ``datacenters`` and ``site`` with the site's secrets (unless ``secrets`` is false).

    The same plan gives the same minion for the whole session, so tests asking the same render
    share it (see `Minion`)."""
    minions: dict[str, Minion] = {}

    def make(
        minion_id: str,
        roles: Sequence[str],
        datacenter: str = "dc1",
        datacenters: dict[str, Any] | None = None,
        site: dict[str, Any] | None = None,
        pillar_dir: Path | None = None,
        grains: dict[str, Any] | None = None,
        secrets: bool = True,
    ) -> Minion:
        plan = [
            minion_id,
            list(roles),
            datacenter,
            datacenters,
            site,
            str(pillar_dir),
            grains,
            secrets,
        ]
        key = json.dumps(plan, sort_keys=True)
        if key not in minions:
            directory = tmp_path_factory.mktemp(minion_id)
            if pillar_dir is None:
                pillar_dir = write_pillar(
                    directory / "pillar", datacenters or {}, site or {}, secrets
                )
            host_grains = {"roles": list(roles), "datacenter": datacenter, **(grains or {})}
            minions[key] = Minion(directory, minion_id, host_grains, pillar_dir)
        return minions[key]

    return make


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """Where the test's control plane writes its files."""
    directory = tmp_path / "files"
    directory.mkdir()
    return directory


@pytest.fixture
def control_plane(minion: Callable[..., Minion], files: Path) -> Callable[..., Minion]:
    """``control_plane(size, minion_id=, roles=, grains=, security=)``: a host of datacenter
    dc1 of ``size`` control nodes, whose Mesos and Marathon write into ``files``
    (`control_plane_site`), with pillar ``security`` if given (default: the secure stage)."""

    def make(
        size: int,
        minion_id: str = "dc1-control-1",
        roles: tuple[str, ...] = ("control",),
        grains: dict[str, Any] | None = None,
        security: dict[str, Any] | None = None,
    ) -> Minion:
        datacenters = {
            "dc1": {
                "control_nodes": control_nodes("dc1", size),
                "allow_even_control_nodes": False,
            }
        }
        site = control_plane_site(files)
        if security is not None:
            site["security"] = security
        return minion(minion_id, roles, "dc1", datacenters, site, grains=grains)

    return make


class ZooKeeperMember:
    """A standalone ZooKeeper server of Debian's jars (as the lab hosts run it) on loopback:
    its zoo.cfg and dataDir under ``directory``, started and stopped by the test."""

    def __init__(self, directory: Path, loaders: Loaders) -> None:
        self.port = get_unused_localhost_port(use_cache=True)
        self.data_dir = directory / "data"
        self.config = directory / "zoo.cfg"
        self.log_path = directory / "zookeeper.log"
        self._probe = loaders.modules.zookeeper_probe
        self._process: subprocess.Popen | None = None
        self.data_dir.mkdir(parents=True)
        self.config.write_text(
            f"tickTime=2000\ndataDir={self.data_dir}\nclientPort={self.port}\n"
            "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
            "4lw.commands.whitelist=srvr,ruok\n"
        )

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server and wait until it serves (the formula's health function)."""
        java = shutil.which("java")
        if java is None or not (ZOOKEEPER_JARS / "zookeeper.jar").is_file():
            pytest.fail(
                "a Java runtime or Debian's ZooKeeper jars are missing: run scripts/bootstrap "
                "(apt package default-jre-headless; `.venv/bin/python -m lab fetch-zookeeper`)",
                pytrace=False,
            )
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [java, "-Xmx256m", "-cp", f"{ZOOKEEPER_JARS}/*",
                 "org.apache.zookeeper.server.ZooKeeperServerMain", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + ZOOKEEPER_TIMEOUT
        while time.monotonic() < deadline and self._process.poll() is None:
            try:
                if self._probe.serving(port=self.port, timeout=1):
                    return
            except CommandExecutionError:
                pass  # not listening yet
            time.sleep(0.2)
        pytest.fail(
            f"ZooKeeper on port {self.port} does not serve:\n{self.log_path.read_text()[-3000:]}",
            pytrace=False,
        )

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None


@pytest.fixture
def zookeeper_member(tmp_path: Path, loaders: Loaders) -> Iterator[ZooKeeperMember]:
    """A stopped standalone ZooKeeper member (`ZooKeeperMember`); stopped after the test."""
    member = ZooKeeperMember(tmp_path / "zookeeper", loaders)
    yield member
    member.stop()
