"""Mesos and Marathon authentication and their ZooKeeper logins at each security stage, written
for real by masterless salt-call into a temporary directory (install method none, every path
pointed there by pillar; Mesos and Marathon do not run here).

The stages (docs/security.md): at `open` nothing of it; from `accept` the files of secrets are
in place, the Mesos master holds the credentials and the zk:// URLs carry the ZooKeeper
logins; from `verify` agents and Marathon present their Mesos credentials; at `secure` the
master and Marathon require them. Every flag written is one of the documented flag lists
(tests/functional/data), and no secret of the site appears in what Salt prints.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.functional.harness import (
    AGENT_ADDRESS,
    MARATHON_FLAGS,
    MESOS_FLAGS,
    Minion,
    control_address,
    flag_value,
    flags_of,
    marathon_flag_names,
    read_environment_file,
    secret_values,
    site_secrets_tree,
    state_arguments,
    zk_url,
)

SIZE = 3
# One host with both roles writes the master's, the agent's and Marathon's files.
HOST = {"minion_id": "dc1-control-1", "roles": ("control", "compute")}
CONFIG_SLS = "mesos.config.master,mesos.config.agent,marathon.config"
STAGES = ("accept", "verify", "secure")
OWN_ADDRESS = control_address(1)
# The files that hold secrets, by name in `files`, and their modes: Mesos runs as root;
# Marathon reads its secret file as the service's group, systemd reads its environment.
SECRET_FILE_MODES = {
    "master-zk": 0o600,
    "credentials.json": 0o600,
    "agent-master": 0o600,
    "agent-credential.json": 0o600,
    "marathon-secret": 0o640,
    "marathon": 0o600,
}


def secured(stage: str) -> dict[str, Any]:
    """Pillar `security` of ``stage``."""
    return {"open": True} if stage == "open" else {"stage": stage}


def secrets() -> dict[str, Any]:
    return site_secrets_tree()


def zookeeper_login(client: str) -> dict[str, str]:
    return secrets()["zookeeper"]["clients"][client]


def written_flags(files: Path) -> dict[str, dict[str, str]]:
    """The flags of the master, the agent and Marathon as their files hold them."""
    return {
        "master": flags_of(read_environment_file(files / "mesos-master"), "MESOS_"),
        "agent": flags_of(read_environment_file(files / "mesos-agent"), "MESOS_"),
        "marathon": flags_of(read_environment_file(files / "marathon"), "MARATHON_"),
    }


def open_flags(files: Path) -> dict[str, dict[str, str]]:
    """The flags of an open site: the plan's and pillar's, exactly as before authentication."""
    return {
        "master": {
            "zk": zk_url(SIZE, "/mesos"),
            "quorum": "2",
            "cluster": "dc1",
            "work_dir": str(files / "master"),
            "ip": OWN_ADDRESS,
            "hostname": OWN_ADDRESS,
            "advertise_ip": OWN_ADDRESS,
            "port": "5050",
            "offer_timeout": "1mins",
        },
        "agent": {
            "master": zk_url(SIZE, "/mesos"),
            "work_dir": str(files / "agent"),
            "ip": AGENT_ADDRESS,
            "hostname": AGENT_ADDRESS,
            "port": "5051",
            "attributes": "datacenter:dc1;node:dc1-control-1;rack:r1",
            "containerizers": "docker,mesos",
            "executor_registration_timeout": "10mins",
            "resources": "ports:[31000-32000]",
        },
        "marathon": {
            "master": zk_url(SIZE, "/mesos"),
            "zk": zk_url(SIZE, "/marathon"),
            "hostname": OWN_ADDRESS,
            "http_port": "8080",
            "ha": "",
            "disable_checkpoint": "",
            "framework_name": "marathon",
        },
    }


def authentication_flags(files: Path, stage: str) -> dict[str, dict[str, str]]:
    """The flags each program has besides an open site's at ``stage``."""
    master = {
        "credentials": str(files / "credentials.json"),
        "authenticators": "crammd5",
        "http_authenticators": "basic",
    }
    agent: dict[str, str] = {}
    marathon: dict[str, str] = {}
    if stage in ("verify", "secure"):
        agent = {"credential": str(files / "agent-credential.json"), "authenticatee": "crammd5"}
        marathon = {
            "mesos_authentication": "",
            "mesos_authentication_principal": "marathon",
            "mesos_authentication_secret_file": str(files / "marathon-secret"),
        }
    if stage == "secure":
        master |= {
            "authenticate_agents": "true",
            "authenticate_frameworks": "true",
            "authenticate_http_frameworks": "true",
            "http_framework_authenticators": "basic",
            "authenticate_http_readwrite": "true",
            "authenticate_http_readonly": "true",
        }
        http = secrets()["marathon"]["http"]
        marathon |= {
            "http_credentials": f"{http['user']}:{http['password']}",
            "http_realm": "Marathon",
        }
    return {"master": master, "agent": agent, "marathon": marathon}


def host_at(control_plane, stage: str) -> Minion:
    return control_plane(SIZE, **HOST, security=secured(stage))


def assert_documented(files: Path) -> None:
    flags = written_flags(files)
    assert set(flags["master"]) <= MESOS_FLAGS["master"] | MESOS_FLAGS["common"]
    assert set(flags["agent"]) <= MESOS_FLAGS["agent"] | MESOS_FLAGS["common"]
    marathon = read_environment_file(files / "marathon")
    assert marathon_flag_names(marathon) <= MARATHON_FLAGS["flags"] | MARATHON_FLAGS["switches"]


def test_open_site_writes_no_credential_file_and_no_authentication_flag(control_plane, files):
    applied = host_at(control_plane, "open").apply(CONFIG_SLS)

    assert all(state["result"] is True for state in applied.values()), applied
    assert written_flags(files) == open_flags(files)
    assert {path.name for path in files.iterdir()} == {
        "mesos-master", "master", "mesos-agent", "agent", "marathon",
    }
    assert read_environment_file(files / "marathon")["JAVA_OPTS"] == "-Xms512m -Xmx512m"
    for flag_file in ("mesos-master", "mesos-agent", "marathon"):
        assert (files / flag_file).stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_adds_its_documented_authentication_flags(control_plane, files, stage):
    host_at(control_plane, stage).apply(CONFIG_SLS)

    assert_documented(files)
    plan_flags = open_flags(files)
    added = {
        program: {name: value for name, value in flags.items() if name not in plan_flags[program]}
        for program, flags in written_flags(files).items()
    }
    assert added == authentication_flags(files, stage)


@pytest.mark.parametrize("stage", STAGES)
def test_zookeeper_clients_give_their_logins_from_accept_off_the_command_line(
    control_plane, files, stage
):
    host_at(control_plane, stage).apply(CONFIG_SLS)
    flags = written_flags(files)
    mesos_url = zk_url(SIZE, "/mesos", zookeeper_login("mesos"))

    # Mesos reads a file:// value from the file: the login is in no flag that `ps` shows.
    assert flags["master"]["zk"] == f"file://{files / 'master-zk'}"
    assert flags["agent"]["master"] == f"file://{files / 'agent-master'}"
    assert flag_value(flags["master"]["zk"]) == flag_value(flags["agent"]["master"]) == mesos_url
    # Marathon reads MARATHON_<FLAG> from its environment file (root's only).
    assert flags["marathon"]["master"] == mesos_url
    assert flags["marathon"]["zk"] == zk_url(SIZE, "/marathon", zookeeper_login("marathon"))


def test_secure_master_requires_authentication_and_its_files_carry_the_principals(
    control_plane, files
):
    host_at(control_plane, "secure").apply(CONFIG_SLS)
    principals = secrets()["mesos"]["principals"]

    master = written_flags(files)["master"]
    assert all(
        master[flag] == "true"
        for flag in ("authenticate_agents", "authenticate_frameworks",
                     "authenticate_http_frameworks", "authenticate_http_readwrite")
    )
    credentials = json.loads(Path(master["credentials"]).read_text())
    assert credentials == {"credentials": [principals[name] for name in sorted(principals)]}
    assert {"mesos-agent", "marathon", "operator"} == {
        credential["principal"] for credential in credentials["credentials"]
    }
    agent = json.loads((files / "agent-credential.json").read_text())
    assert agent == principals["agent"]
    # Marathon takes every byte of its secret file as the secret: no newline.
    assert (files / "marathon-secret").read_text() == principals["marathon"]["secret"]


@pytest.mark.parametrize("stage", STAGES)
def test_files_holding_secrets_are_not_world_readable(control_plane, files, stage):
    host_at(control_plane, stage).apply(CONFIG_SLS)

    modes = {name: (files / name).stat().st_mode & 0o777 for name in SECRET_FILE_MODES}
    assert modes == SECRET_FILE_MODES
    # The Mesos flag files name the files of secrets and hold none.
    for flag_file in ("mesos-master", "mesos-agent"):
        text = (files / flag_file).read_text()
        assert not [value for value in secret_values(secrets()) if value in text]


@pytest.mark.parametrize("stage", ["accept", "secure"])
def test_no_secret_in_state_output_and_a_second_run_changes_nothing(control_plane, files, stage):
    """A first run in test mode then for real, then again after every file of secrets was
    changed on the host (as a new secret in pillar would change it), where a diff would show
    the secret, then a run that finds nothing to change."""
    host = host_at(control_plane, stage)
    hidden = secret_values(secrets())
    runs = [host.run("state.sls", CONFIG_SLS, "test=True")]
    assert not list(files.iterdir()), "test=True wrote files"
    runs.append(host.run("state.sls", CONFIG_SLS))
    for name in SECRET_FILE_MODES:
        (files / name).write_text("changed on the host\n")
    runs += [host.run("state.sls", CONFIG_SLS, f"test={test}") for test in (True, False)]
    runs.append(host.run("state.sls", CONFIG_SLS))

    for run in runs:
        shown = run.stdout + run.stderr
        assert run.returncode == 0, shown[-3000:]
        assert not [value for value in hidden if value in shown], "a secret in Salt's output"
    repaired = json.loads(runs[3].stdout)["local"]
    assert {state["__id__"] for state in repaired.values() if state["changes"]} >= {
        "mesos-config-master-secret-template-zk-file-managed",
        "marathon-config-file-file-managed-environment",
    }
    last = json.loads(runs[-1].stdout)["local"]
    changed = {state["__id__"]: state["changes"] for state in last.values() if state["changes"]}
    assert not changed, f"the second run changed {changed}"
    assert all(state["result"] is True for state in last.values())


def test_a_marathon_registered_without_a_principal_can_stay_unauthenticated(
    control_plane, files
):
    """Mesos refuses to change a registered framework's principal: a site whose Marathon ran
    open turns Marathon's Mesos authentication off in pillar, and the master's requirement of
    frameworks with it (docs/security.md)."""
    keep_unauthenticated = {
        "marathon": {"security": {"stages": {"verify": {"mesos_authentication": False}}}},
        "mesos": {"master": {"security": {"stages": {"secure": {
            "authenticate_frameworks": False,
        }}}}},
    }

    process = host_at(control_plane, "secure").run(
        "state.sls", CONFIG_SLS, f"pillar={json.dumps(keep_unauthenticated)}"
    )

    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    assert_documented(files)
    flags = written_flags(files)
    assert flags["marathon"]["disable_mesos_authentication"] == ""
    assert not {"mesos_authentication", "mesos_authentication_principal",
                "mesos_authentication_secret_file"} & set(flags["marathon"])
    assert flags["master"]["authenticate_frameworks"] == "false"
    assert flags["master"]["authenticate_agents"] == "true"
    assert "http_credentials" in flags["marathon"]


@pytest.mark.parametrize(
    ("stage", "marathon_check", "probe_login"),
    [
        ("verify", {"http": f"http://{OWN_ADDRESS}:8080/ping"}, None),
        # Every path of Marathon's API asks for the login at secure: Consul connects to the
        # port (an HTTP check's header would put the login in Consul's catalog), the health
        # gate reads /ping with the login of the pillar key it names.
        ("secure", {"tcp": f"{OWN_ADDRESS}:8080"}, "secrets:marathon:http"),
    ],
)
def test_consul_checks_and_health_gates_still_reach_mesos_and_marathon(
    control_plane, stage, marathon_check, probe_login
):
    rendered = host_at(control_plane, stage).show_sls(
        "mesos.consul.master", "marathon.consul.registration", "marathon.service.running"
    )

    def check(state_id: str) -> dict[str, Any]:
        (only,) = state_arguments(rendered, state_id)["context"]["config"]["definition"]["checks"]
        return only

    # /health of a Mesos master asks for no login, whatever the master requires.
    assert check("mesos-consul-master-file-managed")["http"] == f"http://{OWN_ADDRESS}:5050/health"
    marathon = check("marathon-consul-registration-file-managed")
    assert {key: marathon.get(key) for key in marathon_check} == marathon_check
    (other_kind,) = {"http", "tcp"} - set(marathon_check)
    assert other_kind not in marathon
    for state_id in ("marathon-service-running-rolling-restart-restarted",
                     "marathon-service-running-rolling-restart-healthy"):
        kwargs = state_arguments(rendered, state_id)["health_kwargs"]
        assert kwargs["url"] == f"http://{OWN_ADDRESS}:8080/ping"
        assert kwargs.get("credentials_pillar") == probe_login


@pytest.mark.parametrize(
    ("sls", "pillar_key"),
    [
        ("mesos.config.master", "secrets:mesos:principals:agent:secret"),
        ("mesos.config.agent", "secrets:mesos:principals:agent:secret"),
        ("marathon.config", "secrets:marathon:http:password"),
    ],
)
def test_a_secured_site_without_a_mesos_or_marathon_secret_is_refused_naming_it(
    control_plane, sls, pillar_key
):
    section, *path, leaf = pillar_key.split(":")
    missing: dict[str, Any] = {leaf: ""}
    for key in reversed([section, *path]):
        missing = {key: missing}

    process = host_at(control_plane, "accept").run(
        "state.show_sls", sls, f"pillar={json.dumps(missing)}"
    )

    assert process.returncode != 0
    assert f"pillar {pillar_key} is missing" in process.stdout + process.stderr
    assert "scripts/secrets init pillar" in process.stdout + process.stderr
