"""Masterless renders of the compute role's formulas, docker and registrator, as `salt-call
--local` on a compute host would do them: the computed daemon.json, the resolver drop-in, the
imported images, the health check, the registrator's venv, settings and service, their
pillar overrides and off branches, and their clean states in test mode. Nothing here changes
the machine.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.functional.harness import REPO, SHAPES, Minion, key_paths, state_arguments

COMPUTE = "dc1-compute-1"
DAEMON_JSON_ID = "docker-config-file-file-serialize"
RESOLVER_ID = "docker-resolver-bridge-file-managed"
REGISTRATOR_CONFIG_ID = "registrator-config-file-file-serialize"
REGISTRATOR_SERVICE_ID = "registrator-service-running-service-running"
IMAGE_HASH = "sha256=" + "ab" * 32
WHEEL_HASH = "sha256=" + "cd" * 32


@pytest.fixture
def compute_host(minion: Callable[..., Minion]) -> Callable[..., Minion]:
    """``compute_host(site=, grains=)``: the compute host of a one-datacenter plan."""

    def make(site: dict[str, Any] | None = None, grains: dict[str, Any] | None = None) -> Minion:
        return minion(COMPUTE, ["compute"], datacenters=SHAPES["one-dc"], site=site, grains=grains)

    return make


def render_error(host: Minion, *sls: str) -> str:
    process = host.run("state.show_sls", ",".join(sls))
    assert process.returncode != 0, "the render should have failed"
    return process.stdout + process.stderr


@pytest.fixture
def default_render(compute_host: Callable[..., Minion]) -> dict[str, Any]:
    """docker and registrator with their defaults on a Debian compute host."""
    return compute_host().show_sls("docker", "registrator")


def host_cgroup_driver() -> str:
    return "systemd" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "cgroupfs"


def test_daemon_json_points_containers_at_the_bridge_resolver(default_render):
    daemon = state_arguments(default_render, DAEMON_JSON_ID)["dataset"]

    assert daemon["bip"] == "172.17.0.1/16"
    assert daemon["dns"] == ["172.17.0.1"]
    assert daemon["dns-search"] == ["service.consul"]
    assert daemon["exec-opts"] == [f"native.cgroupdriver={host_cgroup_driver()}"]
    assert daemon["log-driver"] == "json-file"
    assert daemon["log-opts"] == {"max-size": "10m", "max-file": "3"}
    assert daemon["live-restore"] is True


def test_dnsmasq_listens_on_the_bridge_and_restarts(default_render):
    resolver = state_arguments(default_render, RESOLVER_ID)

    assert "listen-address=172.17.0.1" in resolver["contents"].splitlines()
    assert resolver["watch_in"] == [{"service": "dns-service-running-service-running"}]
    assert {"service": "docker-service-running-service-running"} in resolver["require"]


def test_engine_restarts_on_a_changed_daemon_json(default_render):
    service = state_arguments(default_render, "docker-service-running-service-running")

    assert {"sls": "docker.config.file"} in service["watch"]
    assert "reload" not in service


def test_daemon_json_follows_pillar(compute_host):
    site = {"docker": {
        "bridge": {"address": "10.200.0.1/24"},
        "cgroup_driver": "systemd",
        "dns_search": ["service.consul", "node.consul"],
        "daemon": {"log-opts": {"max-size": "50m"}, "dns": ["10.0.0.2"]},
    }}
    rendered = compute_host(site).show_sls("docker")
    daemon = state_arguments(rendered, DAEMON_JSON_ID)["dataset"]

    assert daemon["bip"] == "10.200.0.1/24"
    assert daemon["dns"] == ["10.0.0.2"], "a daemon.json key in pillar wins"
    assert daemon["dns-search"] == ["service.consul", "node.consul"]
    assert daemon["exec-opts"] == ["native.cgroupdriver=systemd"]
    assert daemon["log-opts"] == {"max-size": "50m", "max-file": "3"}
    assert "listen-address=10.200.0.1" in state_arguments(rendered, RESOLVER_ID)["contents"]


def test_a_bad_cgroup_driver_fails_the_render_naming_the_key(compute_host):
    output = render_error(compute_host({"docker": {"cgroup_driver": "cgroups"}}), "docker")

    assert "docker:cgroup_driver" in output


def test_debian_installs_docker_io_without_a_repository(default_render):
    install = state_arguments(default_render, "docker-package-install-pkg-installed")

    assert install["pkgs"] == ["docker.io"]
    assert install["install_recommends"] is False
    assert "docker-package-install-pkgrepo-managed" not in default_render


def test_redhat_installs_docker_ce_from_an_overridable_repository(compute_host):
    site = {"docker": {"repo": {"baseurl": "http://mirror.example/docker-ce/$basearch"}}}
    rendered = compute_host(site, grains={"os_family": "RedHat"}).show_sls("docker")
    repo = state_arguments(rendered, "docker-package-install-pkgrepo-managed")

    assert state_arguments(rendered, "docker-package-install-pkg-installed")["pkgs"] == [
        "docker-ce", "docker-ce-cli", "containerd.io",
    ]
    assert repo["baseurl"] == "http://mirror.example/docker-ce/$basearch"
    assert repo["gpgkey"] == "https://download.docker.com/linux/centos/gpg"


def test_images_are_hash_checked_and_imported_once_per_tarball(compute_host):
    site = {"docker": {"images": {"lab/busybox": {
        "source": "http://mirror.example/busybox.tar",
        "source_hash": IMAGE_HASH,
        "changes": ['CMD ["/bin/httpd", "-f"]'],
    }}}}
    rendered = compute_host(site).show_sls("docker.images")
    tarball = state_arguments(rendered, "docker-images-imported-file-managed-lab/busybox")
    imported = state_arguments(rendered, "docker-images-imported-cmd-run-lab/busybox")

    assert tarball["source_hash"] == IMAGE_HASH
    assert imported["name"].startswith("docker import --change 'CMD [\"/bin/httpd\", \"-f\"]'")
    assert f"io.saltplatform.image.source-hash={IMAGE_HASH}" in imported["name"]
    assert imported["name"].endswith(f"{tarball['name']} lab/busybox:latest")
    assert IMAGE_HASH in imported["unless"]


def test_docker_is_a_consul_node_check_fed_by_a_timer(default_render):
    timer = state_arguments(default_render, "docker-health-check-service-running-timer")
    gate = state_arguments(default_render, "docker-health-check-cmd-run-report")

    assert timer["name"] == "docker-consul-check.timer"
    assert "--is-passing" in gate["unless"]
    assert "--check-id docker" in gate["name"]


def test_off_branches_remove_the_health_check_and_the_resolver_drop_in(compute_host):
    site = {"docker": {"health": {"enabled": False}, "resolver": {"enabled": False}}}
    rendered = compute_host(site).show_sls("docker")

    assert "docker-health-check-service-running-timer" not in rendered
    assert state_arguments(rendered, "docker-health-clean-service-dead-timer")["name"] == (
        "docker-consul-check.timer"
    )
    assert "docker-health-clean-cmd-run-deregister" in rendered
    assert RESOLVER_ID not in rendered
    assert "docker-resolver-bridge-file-absent" in rendered


def test_registrator_settings_name_the_host_by_its_minion_id(default_render):
    config = state_arguments(default_render, REGISTRATOR_CONFIG_ID)["dataset"]

    assert config["hostname"] == COMPUTE
    assert config["consul_url"] == "http://127.0.0.1:8500"
    assert config["resync"] == 30


def test_registrator_installs_py_consul_from_the_pillar_mirror(compute_host):
    site = {"registrator": {
        "py_consul": {"base_url": "http://mirror.example/wheels", "source_hash": WHEEL_HASH},
        "config": {"hostname": "compute-a", "tags": ["docker"], "resync": 10},
    }}
    rendered = compute_host(site).show_sls("registrator")
    wheel = state_arguments(rendered, "registrator-venv-install-file-managed-wheel")
    pip = state_arguments(rendered, "registrator-venv-install-cmd-run-py-consul")
    config = state_arguments(rendered, REGISTRATOR_CONFIG_ID)["dataset"]

    assert wheel["source"] == (
        "http://mirror.example/wheels/py_consul-1.8.0-py2.py3-none-any.whl"
    )
    assert wheel["source_hash"] == WHEEL_HASH
    assert "--no-index" in pip["name"] and wheel["name"] in pip["name"]
    assert "'1.8.0'" in pip["unless"]
    assert (config["hostname"], config["tags"], config["resync"]) == ("compute-a", ["docker"], 10)


def test_registrator_restarts_on_new_code_venv_or_settings_and_needs_docker(default_render):
    service = state_arguments(default_render, REGISTRATOR_SERVICE_ID)

    assert {"sls": "registrator.agent.install"} in service["watch"]
    assert {"sls": "registrator.venv.install"} in service["watch"]
    assert {"sls": "registrator.config.file"} in service["watch"]
    assert {"service": "docker-service-running-service-running"} in service["require"]


def test_registrator_ships_its_code_without_bytecode(default_render):
    code = state_arguments(default_render, "registrator-agent-install-file-recurse")

    assert code["source"] == "salt://registrator/files/registrator"
    assert code["clean"] is True
    assert "__pycache__" in code["exclude_pat"]


@pytest.mark.parametrize("formula", ["docker", "registrator"])
def test_clean_in_test_mode_resolves_every_requisite(compute_host, formula):
    results = compute_host().salt_call("state.sls", f"{formula}.clean", "test=True")

    assert isinstance(results, dict) and results, results
    assert all(result["result"] is not False for result in results.values()), results


@pytest.mark.parametrize("formula", ["docker", "registrator"])
def test_pillar_example_documents_every_default_key(formula):
    defaults = yaml.safe_load((REPO / "salt" / formula / "defaults.yaml").read_text())
    example = yaml.safe_load((REPO / "salt" / formula / "pillar.example").read_text())

    assert key_paths(defaults) <= key_paths(example[formula])
