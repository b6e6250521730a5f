"""The Vagrant VMs' plans render (Vagrantfile, vagrant/), masterless, as `salt-call --local`
renders them on a VM: each VM's id and grains from its shape's roster, the VMs' pillar
(vagrant/pillar and the shape's datacenter file) and the site's secrets, made by
scripts/secrets init into a temporary directory as vagrant/provision makes them on the VM.

The all-in-one VM is one host with both roles in a one-node dc1: its whole highstate renders
and compiles (every requisite found, no cycle), with a Consul server expecting one server, a
standalone ZooKeeper, Docker and the registrator. No VM runs here (tests/unit/
test_vagrantfile.py checks the Vagrantfile with `vagrant validate`); the lab's all-in-one shape
is what will prove such a host running.
"""

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.functional.harness import REPO, Minion, consul_agent_config, state_arguments

VAGRANT = REPO / "vagrant"
ZOO_CFG_ID = "zookeeper-config-file-file-managed-zoo.cfg"
MYID_ID = "zookeeper-config-file-file-managed-myid"
# The programs of each role, by the state that keeps each running.
CONTROL_SERVICE_IDS = {
    "zookeeper-service-running-service-running",
    "mesos-service-master-service-running",
    "marathon-service-running-service-running",
}
COMPUTE_SERVICE_IDS = {
    "docker-service-running-service-running",
    "registrator-service-running-service-running",
    "mesos-service-agent-service-running",
}
# ZooKeeper's default peer and election ports.
ZOOKEEPER_PEER_PORTS = "2888:3888"


def roster(shape: str) -> dict[str, Any]:
    return yaml.safe_load((VAGRANT / shape / "roster").read_text())


@pytest.fixture(scope="module")
def vm(
    tmp_path_factory: pytest.TempPathFactory, minion: Callable[..., Minion]
) -> Callable[[str, str], Minion]:
    """``vm(shape, name)``: the masterless minion of the VM ``name`` of ``shape``. Its pillar is
    the VM's three pillar roots in one directory (no file is in two of them), with the site's
    secrets made by the project's command."""
    pillars: dict[str, Path] = {}

    def make(shape: str, name: str) -> Minion:
        if shape not in pillars:
            pillar = tmp_path_factory.mktemp("vagrant") / "pillar"
            shutil.copytree(VAGRANT / "pillar", pillar)
            shutil.copytree(VAGRANT / shape / "pillar", pillar, dirs_exist_ok=True)
            made = subprocess.run(
                [REPO / "scripts" / "secrets", "init", pillar],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert made.returncode == 0, made.stderr
            pillars[shape] = pillar
        grains = roster(shape)[name]["minion_opts"]["grains"]
        return minion(name, grains["roles"], grains["datacenter"], pillar_dir=pillars[shape])

    return make


@pytest.fixture(scope="module")
def all_in_one(vm: Callable[[str, str], Minion]) -> tuple[Minion, str]:
    """The all-in-one VM's minion and its address."""
    ((name, host),) = roster("all-in-one").items()
    return vm("all-in-one", name), host["host"]


def test_all_in_one_vm_runs_every_program_on_one_node(all_in_one):
    host, address = all_in_one
    highstate = host.highstate()
    consul = consul_agent_config(highstate)
    zoo_cfg = state_arguments(highstate, ZOO_CFG_ID)["context"]["config"]

    assert consul["server"] is True
    assert consul["bootstrap_expect"] == 1
    assert consul["advertise_addr"] == address
    assert consul["retry_join"] == [address]
    # One member: ZooKeeper serves standalone.
    assert zoo_cfg["servers"] == [f"server.1={address}:{ZOOKEEPER_PEER_PORTS}"]
    assert state_arguments(highstate, MYID_ID)["contents"] == "1"
    assert CONTROL_SERVICE_IDS | COMPUTE_SERVICE_IDS <= highstate.keys()


def test_all_in_one_vm_highstate_compiles_every_requisite(all_in_one):
    """state.show_lowstate orders the compiled highstate as a run would, without running it:
    a requisite naming no state, or a cycle, is an error string in place of the chunks."""
    host, _ = all_in_one
    chunks = host.salt_call("state.show_lowstate")

    errors = [chunk for chunk in chunks if not isinstance(chunk, dict)]
    assert not errors, "\n".join(errors)
    assert CONTROL_SERVICE_IDS | COMPUTE_SERVICE_IDS <= {chunk["__id__"] for chunk in chunks}


def test_all_in_one_vm_without_its_secrets_is_refused_naming_the_command(tmp_path, minion):
    """Why vagrant/provision makes the secrets before the highstate: the VMs' pillar is
    secure by default too."""
    pillar = tmp_path / "pillar"
    shutil.copytree(VAGRANT / "pillar", pillar)
    shutil.copytree(VAGRANT / "all-in-one" / "pillar", pillar, dirs_exist_ok=True)
    ((name, host),) = roster("all-in-one").items()
    grains = host["minion_opts"]["grains"]

    process = minion(name, grains["roles"], grains["datacenter"], pillar_dir=pillar).run(
        "state.show_highstate"
    )

    assert process.returncode != 0
    assert "pillar secrets:consul:gossip_key is missing" in process.stderr
    assert "scripts/secrets init" in process.stderr


@pytest.mark.parametrize("name", list(roster("3+1")))
def test_three_plus_one_vm_renders_its_role(vm, name):
    hosts = roster("3+1")
    control_addresses = [
        host["host"]
        for host in hosts.values()
        if "control" in host["minion_opts"]["grains"]["roles"]
    ]
    is_control = "control" in hosts[name]["minion_opts"]["grains"]["roles"]
    highstate = vm("3+1", name).highstate()
    consul = consul_agent_config(highstate)

    assert consul["retry_join"] == control_addresses
    assert consul["server"] is is_control
    assert consul.get("bootstrap_expect") == (3 if is_control else None)
    assert (CONTROL_SERVICE_IDS <= highstate.keys()) is is_control
    assert (COMPUTE_SERVICE_IDS <= highstate.keys()) is not is_control
