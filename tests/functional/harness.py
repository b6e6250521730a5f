"""The functional tests' masterless minion and the plans they hand it.

`Minion` is `salt-call --local` for one host: its id and grains, the repository's state tree
and custom modules, and a pillar tree laid out like pillar/ (`write_pillar`). conftest.py hands
it out through the `minion` fixture; the test modules import the plan builders and readers
from here, never from one another.
"""

import copy
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
# Consul 1.8.7, the lab's release, fetched by scripts/bootstrap.
CONSUL_BINARY = REPO / ".cache" / "consul" / "consul"
# Debian's ZooKeeper jars (bookworm's 3.8, as on the lab hosts), fetched by scripts/bootstrap.
ZOOKEEPER_JARS = REPO / ".cache" / "zookeeper" / "java"
SALT_CALL = Path(sys.executable).with_name("salt-call")
# Seconds one salt-call may take; a render takes about one.
SALT_CALL_TIMEOUT = 120
ENV_LINE = re.compile(r'^(?P<name>[A-Z0-9_]+)="(?P<value>(?:[^"\\]|\\.)*)"$')


def haproxy_binary() -> str:
    """HAProxy's binary (Debian's package, as the edge role installs it, in /usr/sbin); fails
    the test with the fix when it is missing."""
    found = shutil.which("haproxy", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if found is None:
        pytest.fail(
            "HAProxy's `haproxy` is missing, and the edge role's tests run it: "
            "scripts/bootstrap installs it (apt package haproxy)",
            pytrace=False,
        )
    return found


# Seconds a process the tests started may take to stop before it is killed.
STOP_TIMEOUT = 10


def stop_process(process: subprocess.Popen) -> None:
    """Stop a process a test started, by its pid: SIGTERM, then SIGKILL if it does not end."""
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


def write_yaml(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))


def control_address(position: int, lan: str = "10.0.1") -> str:
    """The address of the control node at ``position`` (from 1) on the /24 network ``lan``."""
    return f"{lan}.{10 + position}"


def control_nodes(
    datacenter: str, count: int, lan: str = "10.0.1", wan: str | None = None
) -> list[dict[str, str]]:
    """``count`` control nodes of ``datacenter`` on the /24 network ``lan``; with ``wan``, each
    also has an address on that /24 network, unique across datacenters."""
    nodes = []
    for position in range(1, count + 1):
        node = {"id": f"{datacenter}-control-{position}", "address": control_address(position, lan)}
        if wan is not None:
            node["wan_address"] = f"{wan}.{10 * int(datacenter[-1]) + position}"
        nodes.append(node)
    return nodes


SHAPES: dict[str, dict[str, Any]] = {
    "one-dc": {"dc1": {"control_nodes": control_nodes("dc1", 3, "10.0.1", "10.0.0")}},
    "five-node-dc": {"dc1": {"control_nodes": control_nodes("dc1", 5, "10.0.1", "10.0.0")}},
    "one-node-dc": {"dc1": {"control_nodes": control_nodes("dc1", 1, "10.0.1", "10.0.0")}},
}


def write_datacenter(directory: Path, name: str, settings: dict[str, Any]) -> None:
    """The pillar file of one datacenter, ``datacenters/<name>.sls``."""
    write_yaml(directory / "datacenters" / f"{name}.sls", {"datacenters": {name: settings}})


@functools.cache
def site_secrets() -> str:
    """The text of a site's secrets.sls, made once per test session by the project's own
    command (platform_secrets, as `scripts/secrets init` runs it); its CA key stays in a
    private directory of its own."""
    from platform_secrets.make import init

    directory = Path(tempfile.mkdtemp(prefix="platform-secrets-"))
    return init(directory).pillar_file.read_text()


# The leaves of pillar `secrets` that are secret (the others are names, paths and the CA's
# certificate): what must never appear in a state's output.
SECRET_LEAVES = ("gossip_key", "secret_id", "password", "secret")


def site_secrets_tree() -> dict[str, Any]:
    """Pillar ``secrets`` of `site_secrets`."""
    return yaml.safe_load(site_secrets())["secrets"]


def secret_values(tree: dict[str, Any]) -> set[str]:
    """The values of every SECRET_LEAVES key in the tree ``tree``."""
    values = set()
    for key, value in tree.items():
        if isinstance(value, dict):
            values |= secret_values(value)
        elif key in SECRET_LEAVES:
            values.add(value)
    return values


def write_pillar(
    directory: Path, datacenters: dict[str, Any], site: dict[str, Any], secrets: bool = True
) -> Path:
    """A pillar tree laid out like the repository's: top, site, the site's secrets (unless
    ``secrets`` is false) and one file per datacenter."""
    files = ["site"] + (["secrets"] if secrets else [])
    files += [f"datacenters.{name}" for name in datacenters]
    write_yaml(directory / "top.sls", {"base": {"*": files}})
    if secrets:
        (directory / "secrets.sls").write_text(site_secrets())
        (directory / "secrets.sls").chmod(0o600)
    # As in the shipped pillar/site.sls: Marathon has no default download, a site chooses.
    write_yaml(directory / "site.sls", {"marathon": {"install": {"method": "none"}}, **site})
    for name, settings in datacenters.items():
        write_datacenter(directory, name, settings)
    return directory


# The Mesos agent's address in `control_plane_site` (mesos:agent:ip).
AGENT_ADDRESS = "10.0.1.101"


def control_plane_site(files: Path) -> dict[str, Any]:
    """Mesos and Marathon installed by method none, with every path they write (flag files,
    work directories, files of secrets) under ``files``."""
    return {
        "mesos": {
            "install": {"method": "none"},
            "master": {
                "environment_file": str(files / "mesos-master"),
                "work_dir": str(files / "master"),
                # A documented flag given in pillar reaches the file; the plan's quorum wins.
                "flags": {"offer_timeout": "1mins", "quorum": 99},
                "security": {
                    "zk_file": str(files / "master-zk"),
                    "credentials_file": str(files / "credentials.json"),
                },
            },
            "agent": {
                "ip": AGENT_ADDRESS,
                "environment_file": str(files / "mesos-agent"),
                "work_dir": str(files / "agent"),
                "attributes": {"rack": "r1"},
                "security": {
                    "master_file": str(files / "agent-master"),
                    "credential_file": str(files / "agent-credential.json"),
                },
            },
        },
        "marathon": {
            "install": {"method": "none"},
            "environment_file": str(files / "marathon"),
            "flags": {"checkpoint": False, "ha": True, "framework_name": "marathon"},
            "security": {
                "secret_file": str(files / "marathon-secret"),
                "logback_file": str(files / "logback.xml"),
            },
        },
    }


def zk_url(size: int, path: str, login: dict[str, str] | None = None) -> str:
    """The zk:// URL of ``path`` on a datacenter of ``size`` control nodes (`control_address`),
    with the ZooKeeper ``login`` ({user, password}) if given."""
    servers = ",".join(f"{control_address(position)}:2181" for position in range(1, size + 1))
    credentials = f"{login['user']}:{login['password']}@" if login else ""
    return f"zk://{credentials}{servers}{path}"


def flag_value(value: str) -> str:
    """A Mesos flag's value as Mesos reads it: a ``file://`` value is the file's content."""
    if value.startswith("file://"):
        return Path(value.removeprefix("file://")).read_text().strip()
    return value


def state_arguments(rendered: dict[str, Any], state_id: str) -> dict[str, Any]:
    """The arguments of the rendered state ``state_id`` as one dict."""
    declaration = rendered[state_id]
    module = next(key for key in declaration if not key.startswith("__"))
    arguments: dict[str, Any] = {}
    for item in declaration[module]:
        if isinstance(item, dict):
            arguments.update(item)
    return arguments


def consul_agent_config(rendered: dict[str, Any]) -> dict[str, Any]:
    """The agent's settings as Consul reads them from the config directory: consul.json, and
    join.json (whom it joins)."""
    return {
        **state_arguments(rendered, "consul-config-file-file-serialize")["dataset"],
        **state_arguments(rendered, "consul-config-join-file-serialize")["dataset"],
    }


def key_paths(settings: dict[str, Any], prefix: str = "") -> set[str]:
    """Colon-separated paths of every key, as pillar.get names them."""
    paths = set()
    for key, value in settings.items():
        path = f"{prefix}{key}"
        paths.add(path)
        if isinstance(value, dict) and value:
            paths |= key_paths(value, f"{path}:")
    return paths


def documented_flags(name: str) -> dict[str, set[str]]:
    """Sections of a flag list in tests/functional/data: ``{section: {flag names}}``."""
    sections: dict[str, set[str]] = {}
    current = None
    for line in (DATA / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], set())
        else:
            current.add(line)
    return sections


MESOS_FLAGS = documented_flags("mesos-1.11-flags.txt")
MARATHON_FLAGS = documented_flags("marathon-1.10-flags.txt")


def read_environment_file(path: Path) -> dict[str, str]:
    """``NAME="value"`` lines of a systemd environment file, unescaped; comments skipped."""
    variables = {}
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        match = ENV_LINE.match(line)
        assert match, f'{path}: not a NAME="value" line: {line!r}'
        variables[match["name"]] = re.sub(r"\\(.)", r"\1", match["value"])
    return variables


def flags_of(variables: dict[str, str], prefix: str) -> dict[str, str]:
    """``{flag name: value}`` of the variables named ``<prefix><FLAG>``."""
    return {
        name[len(prefix) :].lower(): value
        for name, value in variables.items()
        if name.startswith(prefix)
    }


def marathon_flag_names(variables: dict[str, str]) -> set[str]:
    """Flag names of the MARATHON_ variables; DISABLE_<switch> counts as the switch."""
    names = set()
    for name in flags_of(variables, "MARATHON_"):
        switch = name.removeprefix("disable_")
        names.add(switch if switch in MARATHON_FLAGS["switches"] else name)
    return names


def _local_return(process: subprocess.CompletedProcess) -> Any:
    """What ``salt-call --out json`` returned (its ``local``), or None without JSON output."""
    try:
        return json.loads(process.stdout)["local"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return None


class Minion:
    """`salt-call --local` for one host: its id and grains, the repository's state tree and
    custom modules, and the given pillar tree.

    A minion renders each highstate or SLS once: the plan, the state tree and the pillar do not
    change during a session, so tests asking the same render share one salt-call. `apply`,
    `salt_call` and `run` call salt-call every time."""

    def __init__(
        self, directory: Path, minion_id: str, grains: dict[str, Any], pillar_dir: Path
    ) -> None:
        self.config_dir = directory / "config"
        self._renders: dict[tuple[str, ...], dict[str, Any]] = {}
        write_yaml(
            self.config_dir / "minion",
            {
                "id": minion_id,
                "grains": grains,
                "file_client": "local",
                "root_dir": str(directory / "root"),
                "file_roots": {"base": [str(REPO / "salt")]},
                "pillar_roots": {"base": [str(pillar_dir)]},
                "fileserver_followsymlinks": True,
                # _modules, _states and _utils straight from the repository, as etc/salt/minion.
                "module_dirs": [str(REPO)],
                # As on the hosts (etc/salt/master's ssh_minion_opts, a minion's config).
                "lazy_loader_strict_matching": True,
            },
        )

    def run(self, *arguments: str) -> subprocess.CompletedProcess:
        """salt-call with ``arguments``: its exit code and output, for tests of what fails."""
        return subprocess.run(
            [str(SALT_CALL), "--local", "-c", str(self.config_dir), "--out", "json", *arguments],
            capture_output=True,
            text=True,
            timeout=SALT_CALL_TIMEOUT,
            check=False,
            cwd=REPO,
        )

    def salt_call(self, *arguments: str) -> Any:
        """What salt-call returned, whatever its exit code; fails the test if it returned
        nothing readable."""
        process = self.run(*arguments)
        returned = _local_return(process)
        if returned is None:
            pytest.fail(
                f"salt-call {' '.join(arguments)} exited {process.returncode}:\n"
                f"{process.stdout[-3000:]}{process.stderr[-3000:]}",
                pytrace=False,
            )
        return returned

    def render_managed_file(self, rendered: dict[str, Any], state_id: str, target: Path) -> str:
        """What the file.managed state ``state_id`` of ``rendered`` would write: its template
        rendered by this minion's Salt, with the state's context and the minion's pillar, into
        ``target``."""
        arguments = state_arguments(rendered, state_id)
        process = self.run(
            "cp.get_template",
            arguments["source"],
            str(target),
            "config=" + json.dumps(arguments["context"]["config"]),
        )
        assert process.returncode == 0, process.stdout + process.stderr
        return target.read_text()

    def apply(self, sls: str, test: bool = False) -> dict[str, dict[str, Any]]:
        """The results of ``state.sls sls``, by state id."""
        states = self.salt_call("state.sls", sls, f"test={test}")
        assert isinstance(states, dict), states
        return {state["__id__"]: state for state in states.values()}

    def highstate(self) -> dict[str, Any]:
        """The rendered highstate; fails the test with Salt's errors if it does not render."""
        return self._render("state.show_highstate")

    def show_sls(self, *sls: str, pillar: dict[str, Any] | None = None) -> dict[str, Any]:
        """The rendered states of ``sls`` (with ``pillar`` on top of the minion's pillar);
        fails the test with Salt's errors if they do not render."""
        arguments = ("state.show_sls", ",".join(sls))
        if pillar is not None:
            arguments += (f"pillar={json.dumps(pillar)}",)
        return self._render(*arguments)

    def _render(self, *arguments: str) -> dict[str, Any]:
        if arguments not in self._renders:
            process = self.run(*arguments)
            rendered = _local_return(process)
            if process.returncode != 0 or not isinstance(rendered, dict) or not rendered:
                pytest.fail(
                    f"salt-call {' '.join(arguments)} did not render:\n"
                    f"{process.stdout}\n{process.stderr}",
                    pytrace=False,
                )
            self._renders[arguments] = rendered
        # A test may change what it reads; the next one gets the render as Salt returned it.
        return copy.deepcopy(self._renders[arguments])
