"""Masterless renders of salt.minion, the bootstrap of a salt-minion that salt-ssh applies to a
bare host: both install methods, the minion's configuration, the key pair the render makes and
accepts in a master's pki_dir (made here as a salt-master leaves it at its first start), test
mode, the plans it refuses, and its clean state in test mode.

Nothing is applied for real: it would install a salt-minion service on this machine. That the
master accepts the keys written is proven with real daemons in test_master_minion.py.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import salt.crypt
import yaml

from tests.functional.harness import REPO, Minion, key_paths, state_arguments

HOST = "dc1-compute-1"
HOST_GRAINS = {"platform_address": "10.0.1.21"}
MASTER = "10.0.0.5"
WHEELHOUSE = "http://mirror.lab:8780/files/wheelhouse/index.html"
PIP_INSTALL_ID = "salt-minion-install-pip-cmd-run-pip-install"
SALT_PIP_ID = "salt-minion-install-package-cmd-run-salt-pip"
PACKAGE_ID = "salt-minion-install-package-pkg-installed"
CONFIG_ID = "salt-minion-config-file-file-serialize"
UNIT_ID = "salt-minion-service-running-file-managed-unit"
SERVICE_ID = "salt-minion-service-running-service-running"
# The mine function the quorum module reads (quorum.MINE_FUNCTION), as the formula writes it.
PLATFORM_HOST = [{"mine_function": "grains.item"}, "roles", "datacenter"]
KEY_IDS = {
    "pem": "salt-minion-pki-keys-file-managed-pem",
    "pub": "salt-minion-pki-keys-file-managed-pub",
    "master_pub": "salt-minion-pki-keys-file-managed-master-pub",
}


@pytest.fixture(scope="module")
def master_pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A salt-master's pki_dir after its first start: its key pair and the key folders."""
    directory = tmp_path_factory.mktemp("master-pki")
    for folder in ("minions", "minions_pre", "minions_rejected"):
        (directory / folder).mkdir()
    private_pem, public_pem = salt.crypt.gen_keys(2048)
    (directory / "master.pem").write_text(private_pem)
    (directory / "master.pub").write_text(public_pem)
    return directory


@pytest.fixture
def bootstrapped(minion: Callable[..., Minion], master_pki_dir: Path) -> Callable[..., Minion]:
    """``bootstrapped(minion_id=, **salt_minion)``: a compute host of dc1 whose pillar
    salt_minion names MASTER and ``master_pki_dir``, with ``salt_minion`` on top."""

    def make(minion_id: str = HOST, **salt_minion: Any) -> Minion:
        settings = {"master": MASTER, "master_pki_dir": str(master_pki_dir), **salt_minion}
        return minion(
            minion_id,
            ["compute"],
            datacenters={},
            site={"salt_minion": settings},
            grains=HOST_GRAINS,
            secrets=False,
        )

    return make


def requisites(rendered: dict[str, Any], state_id: str, kind: str) -> list[dict[str, str]]:
    return state_arguments(rendered, state_id).get(kind, [])


@pytest.mark.parametrize(
    ("install", "options"),
    [
        ({}, "--index-url https://pypi.org/simple"),
        (
            {"index_url": "", "find_links": WHEELHOUSE},
            f"--no-index --find-links {WHEELHOUSE} --trusted-host mirror.lab:8780",
        ),
    ],
    ids=["index", "mirror-wheelhouse"],
)
def test_pip_method_installs_salt_and_py_consul_in_a_venv(bootstrapped, install, options):
    rendered = bootstrapped(install=install).show_sls("salt.minion")
    venv = state_arguments(rendered, "salt-minion-install-pip-cmd-run-venv")
    pip_install = state_arguments(rendered, PIP_INSTALL_ID)

    assert venv["name"] == "python3 -m venv /opt/salt-platform/venv"
    assert venv["creates"] == "/opt/salt-platform/venv/bin/python"
    assert state_arguments(rendered, "salt-minion-install-pip-pkg-installed")["pkgs"] == [
        "python3-venv"
    ]
    assert pip_install["name"] == (
        "/opt/salt-platform/venv/bin/python -m pip install --quiet --disable-pip-version-check "
        f"{options} py-consul==1.8.0 salt==3008.4"
    )
    # Skipped once both are installed at their versions: a second run changes nothing.
    assert pip_install["unless"] == [
        f"/opt/salt-platform/venv/bin/python -m pip freeze --all | grep -qixF {pin}"
        for pin in ("py-consul==1.8.0", "salt==3008.4")
    ]
    assert PACKAGE_ID not in rendered


def test_pip_method_runs_the_venvs_minion_under_systemd(bootstrapped, tmp_path):
    host = bootstrapped()
    rendered = host.show_sls("salt.minion")

    unit = host.render_managed_file(rendered, UNIT_ID, tmp_path / "salt-minion.service")

    assert "ExecStart=/opt/salt-platform/venv/bin/salt-minion" in unit.splitlines()
    assert "Type=notify" in unit.splitlines()
    assert state_arguments(rendered, UNIT_ID)["name"] == "/etc/systemd/system/salt-minion.service"
    assert {"file": UNIT_ID} in requisites(rendered, SERVICE_ID, "watch")


def test_package_method_installs_the_salt_projects_package_after_configuration_and_keys(
    bootstrapped,
):
    rendered = bootstrapped(install={"method": "package"}).show_sls("salt.minion")
    package = state_arguments(rendered, PACKAGE_ID)
    repo = state_arguments(rendered, "salt-minion-install-package-pkgrepo-managed")

    assert package["name"] == "salt-minion"
    assert package["version"] == "3008.4"
    # The package starts the minion when it is installed: with the formula's settings and keys.
    assert {"sls": "salt.minion.config"} in package["require"]
    assert {"sls": "salt.minion.pki"} in package["require"]
    assert "https://packages.broadcom.com/artifactory/saltproject-deb stable main" in repo["name"]
    assert repo["aptkey"] is False
    assert state_arguments(rendered, SALT_PIP_ID)["name"] == (
        "/usr/bin/salt-pip install --quiet --disable-pip-version-check "
        "--index-url https://pypi.org/simple py-consul==1.8.0"
    )
    assert UNIT_ID not in rendered
    assert {"sls": "salt.minion.install"} in requisites(rendered, SERVICE_ID, "watch")


def test_a_repository_in_pillar_replaces_the_salt_projects_as_a_whole(bootstrapped):
    mirror = {"name": "deb [trusted=yes] http://mirror.example/salt stable main"}

    rendered = bootstrapped(install={"method": "package", "package": {"repo": mirror}}).show_sls(
        "salt.minion"
    )

    repo = state_arguments(rendered, "salt-minion-install-package-pkgrepo-managed")
    assert {key: repo[key] for key in repo if key not in ("order", "require_in")} == mirror


def test_the_minions_configuration_names_the_master_the_host_and_its_grains(bootstrapped):
    rendered = bootstrapped(config={"master_port": 4506, "id": "not-this-one"}).show_sls(
        "salt.minion"
    )
    config = state_arguments(rendered, CONFIG_ID)

    assert config["name"] == "/etc/salt/minion.d/platform.conf"
    assert config["dataset"] == {
        "master": MASTER,
        "id": HOST,
        "grains": {"roles": ["compute"], "datacenter": "dc1", **HOST_GRAINS},
        "mine_functions": {"platform_host": PLATFORM_HOST},
        "mine_interval": 10,
        # The formula's defaults, kept beside the pillar's settings: grains follow the host,
        # and the loader looks modules up by file name only.
        "grains_refresh_every": 5,
        "lazy_loader_strict_matching": True,
        "master_port": 4506,
    }
    assert {"sls": "salt.minion.config"} in requisites(rendered, SERVICE_ID, "watch")


def test_the_minion_publishes_its_roles_and_datacenter_to_the_mine_beside_the_sites_own(
    bootstrapped,
):
    addresses = [{"mine_function": "network.ip_addrs"}]
    config = {
        "mine_functions": {"addresses": addresses, "platform_host": ["test.ping"]},
        "mine_interval": 60,
    }

    rendered = bootstrapped(config=config).show_sls("salt.minion")

    dataset = state_arguments(rendered, CONFIG_ID)["dataset"]
    assert dataset["mine_functions"] == {"addresses": addresses, "platform_host": PLATFORM_HOST}
    assert dataset["mine_interval"] == 10


def test_the_keys_written_are_the_pair_the_master_accepted_and_its_own_key(
    bootstrapped, master_pki_dir
):
    rendered = bootstrapped().show_sls("salt.minion")
    written = {name: state_arguments(rendered, state_id) for name, state_id in KEY_IDS.items()}

    assert written["pem"]["contents"] == (master_pki_dir / "preseed" / f"{HOST}.pem").read_text()
    assert written["pub"]["contents"] == (master_pki_dir / "minions" / HOST).read_text()
    assert written["master_pub"]["contents"] == (master_pki_dir / "master.pub").read_text()
    assert written["pem"]["name"] == "/etc/salt/pki/minion/minion.pem"
    assert written["pem"]["mode"] == "0400"
    assert written["pem"]["show_changes"] is False
    assert state_arguments(rendered, "salt-minion-pki-keys-file-directory")["mode"] == "0700"
    assert {"sls": "salt.minion.pki"} in requisites(rendered, SERVICE_ID, "watch")


def test_test_mode_accepts_no_key_and_shows_none(bootstrapped, master_pki_dir):
    minion_id = "dc1-compute-9"

    results = bootstrapped(minion_id).apply("salt.minion", test=True)

    assert all(result["result"] is not False for result in results.values()), results
    assert results[KEY_IDS["pem"]]["result"] is None
    assert not (master_pki_dir / "minions" / minion_id).exists()
    assert "PRIVATE KEY" not in json.dumps(results)


@pytest.mark.parametrize(
    ("salt_minion", "named"),
    [
        ({"master": ""}, "pillar salt_minion:master is empty"),
        ({"install": {"method": "onedir"}}, "pillar salt_minion:install:method is 'onedir'"),
        (
            {"install": {"index_url": "", "find_links": ""}},
            "pillar salt_minion:install:index_url and :find_links are both empty",
        ),
        ({"master_pki_dir": "/nonexistent/pki"}, "salt_minion:master_pki_dir"),
    ],
    ids=["no-master", "unknown-method", "nowhere-to-install-from", "no-master-pki-dir"],
)
def test_a_bad_plan_fails_the_render_naming_the_key(bootstrapped, salt_minion, named):
    process = bootstrapped("dc1-compute-8", **salt_minion).run("state.show_sls", "salt.minion")

    assert process.returncode != 0
    assert named in process.stdout + process.stderr


@pytest.mark.parametrize("method", ["pip", "package"])
def test_clean_in_test_mode_resolves_every_requisite(bootstrapped, method):
    results = bootstrapped(install={"method": method}).apply("salt.minion.clean", test=True)

    assert all(result["result"] is not False for result in results.values()), results
    assert {
        "salt-minion-service-clean-service-dead",
        "salt-minion-pki-clean-file-absent",
        "salt-minion-config-clean-file-absent",
    } <= results.keys()


def test_pillar_example_documents_every_default_key():
    defaults = yaml.safe_load((REPO / "salt" / "salt" / "defaults.yaml").read_text())
    example = yaml.safe_load((REPO / "salt" / "salt" / "pillar.example").read_text())

    assert key_paths(defaults) <= key_paths(example)
