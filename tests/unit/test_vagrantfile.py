"""The Vagrantfile holds for each of its shapes: `vagrant validate` accepts it without a VM, a
box or the network; each shape's roster (the VMs) agrees with its datacenter's pillar file;
and the Salt configuration vagrant/provision gives a VM is the tree's etc/salt with the VM's
paths. No VM runs here: these machines have no hypervisor."""

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import salt.config
import yaml

REPO = Path(__file__).resolve().parents[2]
VAGRANT = REPO / "vagrant"
SHAPES = ["all-in-one", "3+1"]
SHAPE_VARIABLE = "PLATFORM_VM_SHAPE"
# Where vagrant/provision makes the site's secrets on the VM that renders.
SECRETS_DIR = "/etc/salt-platform/secrets"
# The VM's own pillar (local.sls: e.g. an offline VM's mirror), last.
LOCAL_PILLAR_DIR = "/etc/salt-platform/pillar"
# A proxy that refuses at once: whatever would still reach out fails instead of waiting.
DEAD_PROXY = "http://127.0.0.1:9"


def vagrant_binary() -> str:
    found = shutil.which("vagrant")
    if found is None:
        pytest.fail(
            "Vagrant is missing, and the Vagrantfile is checked with `vagrant validate`: "
            "scripts/bootstrap installs it (apt package vagrant)",
            pytrace=False,
        )
    return found


def vagrant_validate(home: Path, shape: str | None) -> subprocess.CompletedProcess:
    """`vagrant validate` of the repository's Vagrantfile, in ``shape`` (None: the default),
    with Vagrant's own files under ``home``."""
    env = {
        **os.environ,
        # No version check against HashiCorp, no box update check.
        "VAGRANT_CHECKPOINT_DISABLE": "1",
        "VAGRANT_BOX_UPDATE_CHECK_DISABLE": "1",
        # No box or setting of this machine's user, and no .vagrant/ in the repository.
        "VAGRANT_HOME": str(home / "vagrant.d"),
        "VAGRANT_DOTFILE_PATH": str(home / "dotfile"),
        "http_proxy": DEAD_PROXY,
        "https_proxy": DEAD_PROXY,
        "HTTP_PROXY": DEAD_PROXY,
        "HTTPS_PROXY": DEAD_PROXY,
    }
    env.pop(SHAPE_VARIABLE, None)
    if shape is not None:
        env[SHAPE_VARIABLE] = shape
    # --ignore-provider: no provider can run a VM here, and validate refuses a machine whose
    # provider cannot; it still checks everything else (networks, synced folders, provisioners
    # and their scripts' paths).
    return subprocess.run(
        [vagrant_binary(), "validate", "--ignore-provider"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def roster(shape: str) -> dict[str, Any]:
    return yaml.safe_load((VAGRANT / shape / "roster").read_text())


def pillar_files(root: Path) -> set[Path]:
    return {path.relative_to(root) for path in root.rglob("*.sls")}


def control_nodes(shape: str) -> list[dict[str, str]]:
    pillar = yaml.safe_load((VAGRANT / shape / "pillar" / "datacenters" / "dc1.sls").read_text())
    return pillar["datacenters"]["dc1"]["control_nodes"]


@pytest.mark.parametrize(
    ("shape", "variable"), [("all-in-one", None), ("3+1", "3+1")], ids=["default", "3+1"]
)
def test_vagrantfile_validates_each_shape_offline(tmp_path, shape, variable):
    validated = vagrant_validate(tmp_path, variable)

    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "Vagrantfile validated successfully" in validated.stdout
    machines = [
        line.split()[1].rstrip(":")
        for line in validated.stdout.splitlines()
        if line.startswith("==> ")
    ]
    assert machines == list(roster(shape)), "one VM per roster entry, in its order"
    assert not any((tmp_path / "vagrant.d" / "boxes").iterdir()), "validate fetched a box"


def test_unknown_shape_is_refused_naming_the_variable_and_the_shapes(tmp_path):
    validated = vagrant_validate(tmp_path, "5+2")

    assert validated.returncode != 0
    assert f"{SHAPE_VARIABLE}=5+2" in validated.stderr
    assert "all-in-one or 3+1" in validated.stderr


@pytest.mark.parametrize("shape", SHAPES)
def test_shape_roster_agrees_with_its_datacenter_file(shape):
    hosts = roster(shape)
    grains = [host["minion_opts"]["grains"] for host in hosts.values()]
    control = [
        {"id": name, "address": host["host"]}
        for name, host in hosts.items()
        if "control" in host["minion_opts"]["grains"]["roles"]
    ]

    assert all(host_grains["datacenter"] == "dc1" for host_grains in grains)
    assert all(set(host_grains["roles"]) <= {"control", "compute"} for host_grains in grains)
    assert control == control_nodes(shape), "the control VMs, in order, are its control nodes"
    assert len({host["host"] for host in hosts.values()}) == len(hosts)
    # Each pillar file is in one of the VM's pillar roots only (vagrant/pillar/top.sls).
    assert not pillar_files(VAGRANT / "pillar") & pillar_files(VAGRANT / shape / "pillar")


def test_all_in_one_is_one_vm_with_every_role():
    (grains,) = [host["minion_opts"]["grains"] for host in roster("all-in-one").values()]

    assert sorted(grains["roles"]) == ["compute", "control"]
    assert len(control_nodes("all-in-one")) == 1


def test_three_plus_one_is_the_labs_dc1_and_the_operator_reaches_every_vm():
    hosts = roster("3+1")
    roles = [host["minion_opts"]["grains"]["roles"] for host in hosts.values()]

    assert roles == [["control"], ["control"], ["control"], ["compute"]]
    for host in hosts.values():
        assert host["user"] == "root"
        assert host["priv"] == "/root/.ssh/platform-operator"
        assert {"StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null"} <= set(
            host["ssh_options"]
        )
    assert "operator_key=/root/.ssh/platform-operator" in (VAGRANT / "provision").read_text()


@pytest.mark.parametrize("shape", SHAPES)
def test_vm_salt_configuration_is_the_trees_with_the_vm_paths(tmp_path, shape):
    config_dir = tmp_path / "salt"
    written = subprocess.run(
        [VAGRANT / "provision", "salt-config", shape],
        env={**os.environ, "PLATFORM_SALT_CONFIG_DIR": str(config_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert written.returncode == 0, written.stderr

    assert (config_dir / "minion").resolve() == REPO / "etc" / "salt" / "minion"
    assert (config_dir / "master").resolve() == REPO / "etc" / "salt" / "master"
    pillar_roots = [
        str(VAGRANT / "pillar"), str(VAGRANT / shape / "pillar"), SECRETS_DIR, LOCAL_PILLAR_DIR,
    ]
    minion = salt.config.minion_config(str(config_dir / "minion"))
    master = salt.config.master_config(str(config_dir / "master"))
    for opts in (minion, master):
        assert opts["root_dir"] == "/"
        assert opts["module_dirs"] == [str(REPO)]
        assert opts["file_roots"] == {"base": [str(REPO / "salt")]}
        assert opts["pillar_roots"] == {"base": pillar_roots}
        assert opts["fileserver_followsymlinks"] is True
    # What the tree's files set besides paths still holds.
    assert minion["file_client"] == "local"
    assert master["thin_extra_mods"] == "consul"


def test_vm_salt_configuration_refuses_an_unknown_shape(tmp_path):
    written = subprocess.run(
        [VAGRANT / "provision", "salt-config", "5+2"],
        env={**os.environ, "PLATFORM_SALT_CONFIG_DIR": str(tmp_path / "salt")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert written.returncode != 0
    assert "no shape 5+2" in written.stderr
    assert not (tmp_path / "salt").exists()
