"""The control plane's configuration rendered by masterless salt-call from the repository's
state tree, for datacenters of 1, 3 and 5 control nodes.

The Mesos master and agent and Marathon flag files are written for real into a temporary
directory (install method none, every path pointed there by pillar) and checked against the
flag names documented for Mesos 1.11 and Marathon 1.10 (tests/functional/data) and against the
values of the quorum module: quorum = majority, zk:// URLs naming every control node.
"""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
SALT_CALL = Path(sys.executable).parent / "salt-call"
SALT_CALL_TIMEOUT = 120
DATACENTER = "dc1"
AGENT_ADDRESS = "10.0.1.101"
ENV_LINE = re.compile(r'^(?P<name>[A-Z0-9_]+)="(?P<value>(?:[^"\\]|\\.)*)"$')


def control_address(position: int) -> str:
    return f"10.0.1.{10 + position}"


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


class Render:
    """A masterless minion of one datacenter plan, writing its files under ``root``."""

    def __init__(self, root: Path, size: int, minion_id: str, roles: list[str]) -> None:
        self.root = root
        self.size = size
        self.files = root / "files"
        config_dir = root / "conf"
        pillar_dir = root / "pillar"
        for directory in (config_dir, pillar_dir, self.files):
            directory.mkdir(parents=True)
        self.config_dir = config_dir
        self.minion_config = {
            "id": minion_id,
            "root_dir": str(root / "salt"),
            "file_client": "local",
            "file_roots": {"base": [str(REPO / "salt")]},
            "pillar_roots": {"base": [str(pillar_dir)]},
            "fileserver_followsymlinks": True,
            # _modules, _states and _utils straight from the repository, as etc/salt/minion.
            "module_dirs": [str(REPO)],
            "grains": {"roles": roles, "datacenter": DATACENTER},
        }
        self.write_minion_config()
        (pillar_dir / "top.sls").write_text(yaml.safe_dump({"base": {"*": ["plan"]}}))
        (pillar_dir / "plan.sls").write_text(yaml.safe_dump(self.pillar()))

    def write_minion_config(self) -> None:
        (self.config_dir / "minion").write_text(yaml.safe_dump(self.minion_config))

    def pillar(self) -> dict[str, Any]:
        control_nodes = [
            {"id": f"{DATACENTER}-control-{position}", "address": control_address(position)}
            for position in range(1, self.size + 1)
        ]
        return {
            "datacenters": {
                DATACENTER: {
                    "control_nodes": control_nodes,
                    "allow_even_control_nodes": False,
                }
            },
            "mesos": {
                "install": {"method": "none"},
                "master": {
                    "environment_file": str(self.files / "mesos-master"),
                    "work_dir": str(self.files / "master"),
                    # A documented flag given in pillar reaches the file.
                    "flags": {"offer_timeout": "1mins", "quorum": 99},
                },
                "agent": {
                    "ip": AGENT_ADDRESS,
                    "environment_file": str(self.files / "mesos-agent"),
                    "work_dir": str(self.files / "agent"),
                    "attributes": {"rack": "r1"},
                },
            },
            "marathon": {
                "install": {"method": "none"},
                "environment_file": str(self.files / "marathon"),
                "flags": {"checkpoint": False, "ha": True, "framework_name": "marathon"},
            },
        }

    def salt_call(self, *args: str) -> Any:
        finished = subprocess.run(
            [str(SALT_CALL), "--local", "-c", str(self.config_dir), "--out=json", *args],
            capture_output=True,
            text=True,
            timeout=SALT_CALL_TIMEOUT,
            cwd=REPO,
        )
        try:
            return json.loads(finished.stdout)["local"]
        except (json.JSONDecodeError, KeyError):
            pytest.fail(
                f"salt-call {' '.join(args)} exited {finished.returncode}:\n"
                f"{finished.stdout[-3000:]}{finished.stderr[-3000:]}",
                pytrace=False,
            )

    def apply(self, sls: str, test: bool = False) -> dict[str, dict]:
        states = self.salt_call("state.sls", sls, f"test={test}")
        assert isinstance(states, dict), states
        return {state["__id__"]: state for state in states.values()}

    def show(self, sls: str, pillar: dict | None = None) -> dict[str, Any]:
        rendered = self.salt_call("state.show_sls", sls, f"pillar={json.dumps(pillar or {})}")
        assert isinstance(rendered, dict), rendered
        return rendered

    def environment(self, name: str) -> dict[str, str]:
        return read_environment_file(self.files / name)


@pytest.fixture
def render(tmp_path: Path):
    def make(size: int, minion_id: str = "dc1-control-1", roles: tuple = ("control",)):
        return Render(tmp_path / f"render-{size}-{minion_id}", size, minion_id, list(roles))

    return make


def expected_zk_url(size: int, path: str) -> str:
    servers = ",".join(f"{control_address(position)}:2181" for position in range(1, size + 1))
    return f"zk://{servers}{path}"


@pytest.mark.parametrize(("size", "majority"), [(1, 1), (3, 2), (5, 3)])
def test_master_flags_are_documented_and_carry_the_quorum(render, size, majority):
    minion = render(size, minion_id=f"dc1-control-{size}")
    minion.apply("mesos.config.master")

    flags = flags_of(minion.environment("mesos-master"), "MESOS_")

    assert set(flags) <= MESOS_FLAGS["master"] | MESOS_FLAGS["common"]
    own_address = control_address(size)
    assert flags == {
        "zk": expected_zk_url(size, "/mesos"),
        "quorum": str(majority),
        "cluster": DATACENTER,
        "work_dir": str(minion.files / "master"),
        "ip": own_address,
        "hostname": own_address,
        "advertise_ip": own_address,
        "port": "5050",
        "offer_timeout": "1mins",
    }


@pytest.mark.parametrize("size", [1, 3, 5])
def test_agent_flags_are_documented_and_name_every_master(render, size):
    minion = render(size, minion_id="dc1-compute-1", roles=("compute",))
    minion.apply("mesos.config.agent")

    flags = flags_of(minion.environment("mesos-agent"), "MESOS_")

    assert set(flags) <= MESOS_FLAGS["agent"] | MESOS_FLAGS["common"]
    assert flags["master"] == expected_zk_url(size, "/mesos")
    assert flags["containerizers"] == "docker,mesos"
    assert flags["attributes"] == "datacenter:dc1;node:dc1-compute-1;rack:r1"
    assert flags["ip"] == flags["hostname"] == AGENT_ADDRESS
    assert flags["resources"] == "ports:[31000-32000]"
    assert flags["executor_registration_timeout"] == "10mins"
    assert flags["work_dir"] == str(minion.files / "agent")


def marathon_flag_names(variables: dict[str, str]) -> set[str]:
    """Flag names of the MARATHON_ variables; DISABLE_<switch> counts as the switch."""
    names = set()
    for name in flags_of(variables, "MARATHON_"):
        switch = name.removeprefix("disable_")
        names.add(switch if switch in MARATHON_FLAGS["switches"] else name)
    return names


@pytest.mark.parametrize("size", [1, 3, 5])
def test_marathon_flags_are_documented_and_use_the_datacenter_ensemble(render, size):
    minion = render(size)
    minion.apply("marathon.config")

    variables = minion.environment("marathon")
    flags = flags_of(variables, "MARATHON_")

    assert marathon_flag_names(variables) <= MARATHON_FLAGS["flags"] | MARATHON_FLAGS["switches"]
    assert flags["master"] == expected_zk_url(size, "/mesos")
    assert flags["zk"] == expected_zk_url(size, "/marathon")
    assert flags["hostname"] == control_address(1)
    assert flags["http_port"] == "8080"
    # Switches: an empty MARATHON_<NAME> turns one on, MARATHON_DISABLE_<NAME> off.
    assert flags["ha"] == "" and flags["disable_checkpoint"] == ""
    assert variables["JAVA_OPTS"] == "-Xms512m -Xmx512m"


def test_flag_files_test_mode_then_apply_then_nothing_left_to_change(render):
    minion = render(3)
    sls = "mesos.config.master,marathon.config"

    dry_run = minion.apply(sls, test=True)
    assert all(state["result"] in (True, None) for state in dry_run.values()), dry_run
    assert not list(minion.files.iterdir()), "test=True wrote files"

    applied = minion.apply(sls)
    assert all(state["result"] is True for state in applied.values()), applied
    assert any(state["changes"] for state in applied.values())

    for test in (False, True):
        again = minion.apply(sls, test=test)
        changed = {name: state["changes"] for name, state in again.items() if state["changes"]}
        assert not changed, f"test={test} after an apply: {changed}"
        assert all(state["result"] is True for state in again.values()), again


@pytest.mark.parametrize(("size", "position"), [(1, 1), (3, 2), (5, 4)])
def test_zookeeper_id_and_server_lines_come_from_the_quorum_module(render, size, position):
    rendered = render(size, minion_id=f"dc1-control-{position}").show("zookeeper.config")

    myid = rendered["zookeeper-config-file-file-managed-myid"]["file"]
    zoo_cfg = rendered["zookeeper-config-file-file-managed-zoo.cfg"]["file"]
    context = next(argument["context"] for argument in zoo_cfg if "context" in argument)
    settings = context["config"]["settings"]

    assert {"contents": str(position)} in myid
    assert context["config"]["servers"] == [
        f"server.{member}={control_address(member)}:2888:3888" for member in range(1, size + 1)
    ]
    assert settings["dataDir"] == "/var/lib/zookeeper"
    assert settings["4lw.commands.whitelist"] == "srvr,ruok,mntr"
    assert settings["autopurge.purgeInterval"] > 0


def state_arguments(rendered: dict[str, Any], state_id: str) -> dict[str, Any]:
    """The arguments of one rendered state as a dict."""
    module = next(key for key in rendered[state_id] if not key.startswith("__"))
    return {
        key: value
        for argument in rendered[state_id][module]
        if isinstance(argument, dict)
        for key, value in argument.items()
    }


MESOS_FROM_PACKAGE = {"mesos": {"install": {"method": "package"}}}


def test_redhat_sources_are_the_apache_archive_and_aventers_el_repository(render):
    minion = render(3)
    minion.minion_config["grains"]["os_family"] = "RedHat"
    minion.write_minion_config()

    rendered = minion.show("zookeeper.install,mesos.install", pillar=MESOS_FROM_PACKAGE)
    archive = state_arguments(rendered, "zookeeper-install-archive-archive-extracted")
    repository = state_arguments(rendered, "mesos-install-package-pkgrepo-managed")

    release = "https://archive.apache.org/dist/zookeeper/zookeeper-3.8.4"
    assert archive["source"] == f"{release}/apache-zookeeper-3.8.4-bin.tar.gz"
    assert archive["source_hash"] == f"{release}/apache-zookeeper-3.8.4-bin.tar.gz.sha512"
    assert "skip_verify" not in archive
    assert repository["baseurl"] == "http://rpm.aventer.biz/CentOS/$releasever/$basearch/"
    assert not {"file", "key_url", "aptkey"} & set(repository)


def test_debian_mesos_comes_from_aventers_repository_for_the_codename(render):
    minion = render(3)
    minion.minion_config["grains"].update({"os_family": "Debian", "oscodename": "bookworm"})
    minion.write_minion_config()

    rendered = minion.show("mesos.install", pillar=MESOS_FROM_PACKAGE)
    repository = state_arguments(rendered, "mesos-install-package-pkgrepo-managed")

    assert repository["name"] == (
        "deb [signed-by=/etc/apt/keyrings/aventer.asc] http://rpm.aventer.biz/Debian/ "
        "bookworm main"
    )


def test_marathon_archive_without_source_fails_with_the_fix(render):
    minion = render(3)
    answer = minion.salt_call(
        "state.show_sls",
        "marathon.install",
        f"pillar={json.dumps({'marathon': {'install': {'method': 'archive'}}})}",
    )

    assert isinstance(answer, list)
    assert "marathon:install:archive:source and source_hash must be set" in answer[0]
