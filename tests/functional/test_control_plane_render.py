"""The control plane's configuration rendered by masterless salt-call from the repository's
state tree, for datacenters of 1, 3 and 5 control nodes.

The Mesos master and agent and Marathon flag files are written for real into a temporary
directory (install method none, every path pointed there by pillar) and checked against the
flag names documented for Mesos 1.11 and Marathon 1.10 (tests/functional/data) and against the
values of the quorum module: quorum = majority, zk:// URLs naming every control node. The site
is at the default security stage, secure: the zk:// URLs carry the ZooKeeper logins
(tests/functional/test_control_plane_authentication.py tests the stages).
"""

import json

import pytest

from tests.functional.harness import (
    AGENT_ADDRESS,
    MARATHON_FLAGS,
    MESOS_FLAGS,
    control_address,
    flag_value,
    flags_of,
    marathon_flag_names,
    read_environment_file,
    site_secrets_tree,
    state_arguments,
    zk_url,
)

DATACENTER = "dc1"


def login(client: str) -> dict[str, str]:
    """The ZooKeeper login of ``client`` (mesos, marathon) in the site's secrets."""
    return site_secrets_tree()["zookeeper"]["clients"][client]


@pytest.mark.parametrize(("size", "majority"), [(1, 1), (3, 2), (5, 3)])
def test_master_flags_are_documented_and_carry_the_quorum(control_plane, files, size, majority):
    control_plane(size, minion_id=f"dc1-control-{size}").apply("mesos.config.master")

    flags = flags_of(read_environment_file(files / "mesos-master"), "MESOS_")

    assert set(flags) <= MESOS_FLAGS["master"] | MESOS_FLAGS["common"]
    own_address = control_address(size)
    assert flag_value(flags["zk"]) == zk_url(size, "/mesos", login("mesos"))
    assert flags.items() >= {
        "quorum": str(majority),
        "cluster": DATACENTER,
        "work_dir": str(files / "master"),
        "ip": own_address,
        "hostname": own_address,
        "advertise_ip": own_address,
        "port": "5050",
        "offer_timeout": "1mins",
    }.items()


@pytest.mark.parametrize("size", [1, 3, 5])
def test_agent_flags_are_documented_and_name_every_master(control_plane, files, size):
    control_plane(size, minion_id="dc1-compute-1", roles=("compute",)).apply("mesos.config.agent")

    flags = flags_of(read_environment_file(files / "mesos-agent"), "MESOS_")

    assert set(flags) <= MESOS_FLAGS["agent"] | MESOS_FLAGS["common"]
    assert flag_value(flags["master"]) == zk_url(size, "/mesos", login("mesos"))
    assert flags["containerizers"] == "docker,mesos"
    assert flags["attributes"] == "datacenter:dc1;node:dc1-compute-1;rack:r1"
    assert flags["ip"] == flags["hostname"] == AGENT_ADDRESS
    assert flags["resources"] == "ports:[31000-32000]"
    assert flags["executor_registration_timeout"] == "10mins"
    assert flags["work_dir"] == str(files / "agent")


@pytest.mark.parametrize("size", [1, 3, 5])
def test_marathon_flags_are_documented_and_use_the_datacenter_ensemble(control_plane, files, size):
    control_plane(size).apply("marathon.config")

    variables = read_environment_file(files / "marathon")
    flags = flags_of(variables, "MARATHON_")

    assert marathon_flag_names(variables) <= MARATHON_FLAGS["flags"] | MARATHON_FLAGS["switches"]
    assert flags["master"] == zk_url(size, "/mesos", login("mesos"))
    assert flags["zk"] == zk_url(size, "/marathon", login("marathon"))
    assert flags["hostname"] == control_address(1)
    assert flags["http_port"] == "8080"
    # Switches: an empty MARATHON_<NAME> turns one on, MARATHON_DISABLE_<NAME> off.
    assert flags["ha"] == "" and flags["disable_checkpoint"] == ""
    assert variables["JAVA_OPTS"].split()[:2] == ["-Xms512m", "-Xmx512m"]


def test_flag_files_test_mode_then_apply_then_nothing_left_to_change(control_plane, files):
    host = control_plane(3)
    sls = "mesos.config.master,marathon.config"

    dry_run = host.apply(sls, test=True)
    assert all(state["result"] in (True, None) for state in dry_run.values()), dry_run
    assert not list(files.iterdir()), "test=True wrote files"

    applied = host.apply(sls)
    assert all(state["result"] is True for state in applied.values()), applied
    assert any(state["changes"] for state in applied.values())

    for test in (False, True):
        again = host.apply(sls, test=test)
        changed = {name: state["changes"] for name, state in again.items() if state["changes"]}
        assert not changed, f"test={test} after an apply: {changed}"
        assert all(state["result"] is True for state in again.values()), again


@pytest.mark.parametrize(("size", "position"), [(1, 1), (3, 2), (5, 4)])
def test_zookeeper_id_and_server_lines_come_from_the_quorum_module(control_plane, size, position):
    rendered = control_plane(size, minion_id=f"dc1-control-{position}").show_sls(
        "zookeeper.config"
    )

    myid = rendered["zookeeper-config-file-file-managed-myid"]["file"]
    zoo_cfg = rendered["zookeeper-config-file-file-managed-zoo.cfg"]["file"]
    context = next(argument["context"] for argument in zoo_cfg if "context" in argument)
    settings = context["config"]["settings"]

    assert {"contents": str(position)} in myid
    assert context["config"]["servers"] == [
        f"server.{member}={control_address(member)}:2888:3888" for member in range(1, size + 1)
    ]
    assert settings["dataDir"] == "/var/lib/zookeeper"
    assert settings["4lw.commands.whitelist"] == "srvr,ruok,mntr,conf"
    assert settings["autopurge.purgeInterval"] > 0


MESOS_FROM_PACKAGE = {"mesos": {"install": {"method": "package"}}}


def test_redhat_sources_are_the_apache_archive_and_aventers_el_repository(control_plane):
    host = control_plane(3, grains={"os_family": "RedHat"})

    rendered = host.show_sls("zookeeper.install", "mesos.install", pillar=MESOS_FROM_PACKAGE)
    archive = state_arguments(rendered, "zookeeper-install-archive-archive-extracted")
    repository = state_arguments(rendered, "mesos-install-package-pkgrepo-managed")

    release = "https://archive.apache.org/dist/zookeeper/zookeeper-3.8.4"
    assert archive["source"] == f"{release}/apache-zookeeper-3.8.4-bin.tar.gz"
    assert archive["source_hash"] == f"{release}/apache-zookeeper-3.8.4-bin.tar.gz.sha512"
    assert "skip_verify" not in archive
    assert repository["baseurl"] == "http://rpm.aventer.biz/CentOS/$releasever/$basearch/"
    assert not {"file", "key_url", "aptkey"} & set(repository)


def test_debian_mesos_comes_from_aventers_repository_for_the_codename(control_plane):
    host = control_plane(3, grains={"os_family": "Debian", "oscodename": "bookworm"})

    rendered = host.show_sls("mesos.install", pillar=MESOS_FROM_PACKAGE)
    repository = state_arguments(rendered, "mesos-install-package-pkgrepo-managed")

    assert repository["name"] == (
        "deb [signed-by=/etc/apt/keyrings/aventer.asc] http://rpm.aventer.biz/Debian/ "
        "bookworm main"
    )


def test_marathon_archive_without_source_fails_with_the_fix(control_plane):
    answer = control_plane(3).salt_call(
        "state.show_sls",
        "marathon.install",
        f"pillar={json.dumps({'marathon': {'install': {'method': 'archive'}}})}",
    )

    assert isinstance(answer, list)
    assert "marathon:install:archive:source and source_hash must be set" in answer[0]
