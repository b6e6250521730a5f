"""Masterless renders of the whole state tree, as `salt-call --local` on a host would do them.

Every role (control, compute, both) in every datacenter shape (one datacenter of 3+1, two of
3+1 and 1+1 as shipped in pillar/ and inventory/2-datacenter, a 5-node and a 1-node
datacenter) is rendered with `state.show_highstate`; the tests read the computed Consul
configuration and the state ids from it. Bad plans must fail the render and change nothing.

Nothing here changes the machine: renders, test=True runs, and real runs only of the states
whose paths a test points into tmp_path (dnsmasq's configuration, the Consul archive).
"""

import copy
import hashlib
import http.server
import ipaddress
import json
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# Consul 1.8.7, the lab's release, fetched by scripts/bootstrap.
CONSUL_BINARY = REPO / ".cache" / "consul" / "consul"
SALT_CALL = Path(sys.executable).with_name("salt-call")
# Seconds one salt-call may take; a render takes about one.
SALT_CALL_TIMEOUT = 120
CONSUL_CONFIG_ID = "consul-config-file-file-serialize"
WAN_JOINED_ID = "consul-wan-joined-consul-cluster-wan-joined"
# State ids every host gets, whatever its role.
COMMON_STATE_IDS = {
    "dns-config-file-file-copy-upstream",
    "dns-config-file-file-managed",
    "dns-package-install-pkg-installed",
    "dns-service-running-service-running",
    "dns-resolver-file-file-managed",
    "consul-install-group-present",
    "consul-install-user-present",
    "consul-install-archive-archive-extracted",
    "consul-install-archive-file-symlink",
    "consul-config-file-file-directory-config-dir",
    "consul-config-file-file-directory-data-dir",
    CONSUL_CONFIG_ID,
    "consul-config-file-file-absent-encrypt",
    "consul-service-running-file-managed-unit",
    "consul-service-running-module-run-daemon-reload",
    "consul-service-running-service-running",
    "consul-service-running-consul-cluster-leader-elected",
}
# A syntactically valid gossip key that appears nowhere else: it must not leak into a render.
GOSSIP_KEY = "dGVzdC1vbmx5LWdvc3NpcC1rZXktMTIzNDU2Nzg5MA=="


def control_nodes(datacenter: str, count: int, lan: str, wan: str) -> list[dict[str, str]]:
    """``count`` control nodes of ``datacenter`` on the /24 networks ``lan`` and ``wan``."""
    return [
        {
            "id": f"{datacenter}-control-{number}",
            "address": f"{lan}.{10 + number}",
            "wan_address": f"{wan}.{10 * int(datacenter[-1]) + number}",
        }
        for number in range(1, count + 1)
    ]


SHAPES: dict[str, dict[str, Any]] = {
    "one-dc": {"dc1": {"control_nodes": control_nodes("dc1", 3, "10.0.1", "10.0.0")}},
    "five-node-dc": {"dc1": {"control_nodes": control_nodes("dc1", 5, "10.0.1", "10.0.0")}},
    "one-node-dc": {"dc1": {"control_nodes": control_nodes("dc1", 1, "10.0.1", "10.0.0")}},
}


def write_yaml(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))


def write_pillar(directory: Path, datacenters: dict[str, Any], site: dict[str, Any]) -> Path:
    """A pillar tree laid out like the repository's: top, site and one file per datacenter."""
    files = ["site"] + [f"datacenters.{name}" for name in datacenters]
    write_yaml(directory / "top.sls", {"base": {"*": files}})
    # As in the shipped pillar/site.sls: Marathon has no default download, a site chooses.
    write_yaml(directory / "site.sls", {"marathon": {"install": {"method": "none"}}, **site})
    for name, settings in datacenters.items():
        write_yaml(directory / "datacenters" / f"{name}.sls", {"datacenters": {name: settings}})
    return directory


class SaltCall:
    """`salt-call --local` for one host: its id and grains, the repository's state tree and
    custom modules, and the given pillar tree."""

    def __init__(self, directory: Path, minion_id: str, grains: dict, pillar_dir: Path):
        self.config_dir = directory / "config"
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
            },
        )

    def run(self, *arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(SALT_CALL), "--local", "-c", str(self.config_dir), "--out", "json", *arguments],
            capture_output=True,
            text=True,
            timeout=SALT_CALL_TIMEOUT,
            check=False,
        )

    def highstate(self) -> dict[str, Any]:
        """The rendered highstate; fails the test with Salt's errors if it does not render."""
        process = self.run("state.show_highstate")
        output = json.loads(process.stdout or "{}").get("local")
        if process.returncode != 0 or not isinstance(output, dict) or not output:
            pytest.fail(f"the highstate did not render:\n{process.stdout}\n{process.stderr}")
        return output


def state_arguments(highstate: dict[str, Any], state_id: str) -> dict[str, Any]:
    """The arguments of state ``state_id`` as one dict."""
    declaration = highstate[state_id]
    module = next(key for key in declaration if not key.startswith("__"))
    arguments: dict[str, Any] = {}
    for item in declaration[module]:
        if isinstance(item, dict):
            arguments.update(item)
    return arguments


def consul_config(highstate: dict[str, Any]) -> dict[str, Any]:
    return state_arguments(highstate, CONSUL_CONFIG_ID)["dataset"]


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., dict[str, Any]]:
    """Render the highstate of one host of a plan; tests asking the same render share it."""
    rendered: dict[str, dict[str, Any]] = {}

    def _render(
        minion_id: str,
        roles: list[str],
        datacenter: str,
        datacenters: dict[str, Any] | None = None,
        site: dict[str, Any] | None = None,
        pillar_dir: Path | None = None,
        grains: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        request = [minion_id, roles, datacenter, datacenters, site, str(pillar_dir), grains]
        key = json.dumps(request, sort_keys=True)
        if key not in rendered:
            directory = tmp_path_factory.mktemp("render")
            if pillar_dir is None:
                pillar_dir = write_pillar(directory / "pillar", datacenters or {}, site or {})
            host_grains = {"roles": roles, "datacenter": datacenter, **(grains or {})}
            salt_call = SaltCall(directory / minion_id, minion_id, host_grains, pillar_dir)
            rendered[key] = salt_call.highstate()
        return copy.deepcopy(rendered[key])

    return _render


def roster_hosts(shape: str) -> list[tuple[str, dict[str, Any]]]:
    roster = yaml.safe_load((REPO / "inventory" / shape / "roster").read_text())
    return sorted(roster.items())


def pillar_datacenters() -> dict[str, Any]:
    """The shipped datacenter files, merged as the pillar top merges them."""
    datacenters: dict[str, Any] = {}
    for path in sorted((REPO / "pillar" / "datacenters").glob("*.sls")):
        datacenters.update(yaml.safe_load(path.read_text())["datacenters"])
    return datacenters


@pytest.mark.parametrize(
    ("minion_id", "host"),
    roster_hosts("2-datacenter"),
    ids=[minion_id for minion_id, _ in roster_hosts("2-datacenter")],
)
def test_shipped_two_datacenter_plan_renders_every_host(render, minion_id, host):
    """The shipped pillar with the grains of inventory/2-datacenter/roster."""
    grains = host["minion_opts"]["grains"]
    datacenters = pillar_datacenters()
    members = datacenters[grains["datacenter"]]["control_nodes"]
    member = next((node for node in members if node["id"] == minion_id), None)
    others = [name for name in datacenters if name != grains["datacenter"]]

    highstate = render(minion_id, grains["roles"], grains["datacenter"], pillar_dir=REPO / "pillar")
    config = consul_config(highstate)

    assert COMMON_STATE_IDS <= highstate.keys()
    assert config["datacenter"] == grains["datacenter"]
    assert config["node_name"] == minion_id
    assert config["retry_join"] == [node["address"] for node in members]
    assert config["server"] is (member is not None)
    if member is None:
        assert "bootstrap_expect" not in config
        assert WAN_JOINED_ID not in highstate
        # Route towards the servers: a compute node's docker0 must not confuse Consul.
        assert not ipaddress.ip_address(config["advertise_addr"]).is_loopback
    else:
        assert config["bootstrap_expect"] == len(members)
        assert config["advertise_addr"] == member["address"]
        assert config["advertise_addr_wan"] == member["wan_address"]
        assert config["leave_on_terminate"] is False
        assert state_arguments(highstate, WAN_JOINED_ID)["peers"] == [
            node["wan_address"] for name in others for node in datacenters[name]["control_nodes"]
        ]


@pytest.mark.parametrize(
    ("shape", "minion_id", "roles", "bootstrap_expect"),
    [
        ("one-dc", "dc1-control-2", ["control"], 3),
        ("one-dc", "dc1-compute-1", ["compute"], None),
        ("five-node-dc", "dc1-control-5", ["control"], 5),
        ("one-node-dc", "dc1-control-1", ["control", "compute"], 1),
    ],
    ids=["3+1-control", "3+1-compute", "5-control", "1-control+compute"],
)
def test_consul_server_settings_follow_the_plan(render, shape, minion_id, roles, bootstrap_expect):
    datacenters = SHAPES[shape]
    addresses = [node["address"] for node in datacenters["dc1"]["control_nodes"]]
    highstate = render(
        minion_id,
        roles,
        "dc1",
        datacenters,
        grains={"consul": {"advertise_addr": "10.0.1.21"}},
    )
    config = consul_config(highstate)

    assert COMMON_STATE_IDS <= highstate.keys()
    assert config["retry_join"] == addresses
    assert config.get("bootstrap_expect") == bootstrap_expect
    assert config["server"] is (bootstrap_expect is not None)
    if bootstrap_expect is None:
        assert config["advertise_addr"] == "10.0.1.21", "the host's advertise_addr grain wins"
        assert WAN_JOINED_ID not in highstate
    else:
        assert config["advertise_addr"] in addresses
        # One datacenter: the state runs and has nothing to join.
        assert state_arguments(highstate, WAN_JOINED_ID)["peers"] == []


def test_gossip_key_goes_only_into_encrypt_json(tmp_path, render):
    """Not in consul.json, not in the rendered highstate: encrypt.json's template reads it
    from pillar on the host."""
    site = {"consul": {"encrypt": GOSSIP_KEY}}
    highstate = render("dc1-control-1", ["control"], "dc1", SHAPES["one-dc"], site)
    encrypt = state_arguments(highstate, "consul-config-file-file-managed-encrypt")
    pillar_dir = write_pillar(tmp_path / "pillar", SHAPES["one-dc"], site)
    salt_call = SaltCall(
        tmp_path, "dc1-control-1", {"roles": ["control"], "datacenter": "dc1"}, pillar_dir
    )
    rendered = tmp_path / "encrypt.json"

    process = salt_call.run(
        "cp.get_template",
        encrypt["source"],
        str(rendered),
        "config=" + json.dumps(encrypt["context"]["config"]),
    )

    assert encrypt["name"] == "/etc/consul.d/encrypt.json"
    assert encrypt["show_changes"] is False
    assert encrypt["mode"] == "0640"
    assert "encrypt" not in consul_config(highstate)
    assert "consul-config-file-file-absent-encrypt" not in highstate
    assert GOSSIP_KEY not in json.dumps(highstate)
    assert process.returncode == 0, process.stdout + process.stderr
    assert json.loads(rendered.read_text()) == {"encrypt": GOSSIP_KEY}


def test_consul_1_8_on_a_mirror_gets_its_keys_and_urls(render):
    """The lab: Consul 1.8.7 from a mirror that serves HashiCorp's layout and SHA256SUMS."""
    site = {
        "consul": {
            "version": "1.8.7",
            "install": {"archive": {"base_url": "http://mirror.lab:8780/consul/"}},
        }
    }
    highstate = render("dc1-control-1", ["control"], "dc1", SHAPES["one-dc"], site)
    archive = state_arguments(highstate, "consul-install-archive-archive-extracted")
    config = consul_config(highstate)

    base = "http://mirror.lab:8780/consul/1.8.7"
    assert archive["source"] == f"{base}/consul_1.8.7_linux_amd64.zip"
    assert archive["source_hash"] == f"{base}/consul_1.8.7_SHA256SUMS"
    assert "skip_verify" not in archive
    assert archive["name"] == "/opt/consul/1.8.7"
    assert config["ui"] is True
    assert "ui_config" not in config, "Consul 1.8 rejects ui_config"


@pytest.mark.parametrize(
    ("minion_id", "roles"), [("dc1-control-1", ["control"]), ("dc1-compute-1", ["compute"])]
)
def test_consul_1_8_accepts_the_rendered_configuration(tmp_path, render, minion_id, roles):
    """The lab's Consul validates what the formula writes for a server and for a client."""
    if not CONSUL_BINARY.is_file():
        pytest.fail(f"{CONSUL_BINARY} is missing: run scripts/bootstrap", pytrace=False)
    site = {"consul": {"version": "1.8.7"}}
    grains = {"consul": {"advertise_addr": "10.0.1.21"}}
    highstate = render(minion_id, roles, "dc1", SHAPES["one-dc"], site, grains=grains)
    config_file = tmp_path / "consul.json"
    config_file.write_text(json.dumps(consul_config(highstate)))

    process = subprocess.run(
        [CONSUL_BINARY, "validate", config_file], capture_output=True, text=True, check=False
    )

    assert process.returncode == 0, process.stdout + process.stderr


def test_current_consul_by_default_from_hashicorp_releases(render):
    highstate = render("dc1-control-1", ["control"], "dc1", SHAPES["one-dc"])
    archive = state_arguments(highstate, "consul-install-archive-archive-extracted")
    config = consul_config(highstate)

    assert archive["source"].startswith("https://releases.hashicorp.com/consul/1.2")
    assert archive["source_hash"].endswith("_SHA256SUMS")
    assert config["ui_config"] == {"enabled": True}
    assert "ui" not in config
    assert state_arguments(highstate, CONSUL_CONFIG_ID)["check_cmd"] == (
        "/usr/local/bin/consul validate -quiet"
    )


@pytest.mark.parametrize(
    ("method", "present", "absent", "binary"),
    [
        (
            "package",
            "consul-install-package-pkg-installed",
            "consul-install-archive-archive-extracted",
            "/usr/bin/consul",
        ),
        (
            "none",
            "consul-install-user-present",
            "consul-install-package-pkg-installed",
            "/usr/local/bin/consul",
        ),
    ],
    ids=["package", "none"],
)
def test_install_method_chooses_the_install_states(render, method, present, absent, binary):
    site = {"consul": {"install": {"method": method}}}
    highstate = render("dc1-control-1", ["control"], "dc1", SHAPES["one-dc"], site)
    unit = state_arguments(highstate, "consul-service-running-file-managed-unit")

    assert present in highstate
    assert absent not in highstate
    assert "consul-install-archive-archive-extracted" not in highstate
    assert unit["context"]["config"]["binary"] == binary


def test_configuration_change_reloads_consul_and_restarts_no_server(render):
    highstate = render("dc1-control-1", ["control"], "dc1", SHAPES["one-dc"])
    service = state_arguments(highstate, "consul-service-running-service-running")
    gate = state_arguments(highstate, "consul-service-running-consul-cluster-leader-elected")

    assert service["reload"] is True
    assert service["enable"] is True
    assert {"sls": "consul.config.file"} in service["watch"]
    assert gate["timeout"] == 180
    assert state_arguments(highstate, WAN_JOINED_ID)["require"] == [
        {"consul_cluster": "consul-service-running-consul-cluster-leader-elected"}
    ]


BAD_PLANS = {
    "even-count": (
        {"dc1": {"control_nodes": control_nodes("dc1", 2, "10.0.1", "10.0.0")}},
        {},
        "datacenters:dc1:control_nodes",
    ),
    "duplicate-address": (
        {
            "dc1": {
                "control_nodes": [
                    {"id": "dc1-control-1", "address": "10.0.1.11"},
                    {"id": "dc1-control-2", "address": "10.0.1.11"},
                    {"id": "dc1-control-3", "address": "10.0.1.13"},
                ]
            }
        },
        {},
        "datacenters:dc1:control_nodes:1:address",
    ),
    "unknown-role": (SHAPES["one-dc"], {"roles": ["control", "storage"]}, "roles"),
    "missing-datacenter-file": (SHAPES["one-dc"], {"datacenter": "dc3"}, "datacenters:dc3"),
}


@pytest.mark.parametrize("plan", BAD_PLANS.values(), ids=BAD_PLANS.keys())
def test_bad_plan_fails_the_render_naming_the_key(tmp_path, plan):
    datacenters, grains, key = plan
    pillar_dir = write_pillar(tmp_path / "pillar", datacenters, {})
    host_grains = {"roles": ["control"], "datacenter": "dc1", **grains}
    process = SaltCall(tmp_path, "dc1-control-1", host_grains, pillar_dir).run(
        "state.show_highstate"
    )

    assert process.returncode != 0
    assert "Unable to render top file" in process.stderr
    assert key in process.stderr


def test_bad_plan_highstate_in_test_mode_changes_nothing(tmp_path):
    datacenters, grains, key = BAD_PLANS["even-count"]
    pillar_dir = write_pillar(tmp_path / "pillar", datacenters, {})
    salt_call = SaltCall(
        tmp_path, "dc1-control-1", {"roles": ["control"], "datacenter": "dc1"}, pillar_dir
    )
    process = salt_call.run("state.highstate", "test=True")
    results = json.loads(process.stdout)["local"]

    assert process.returncode != 0
    assert key in process.stderr
    assert all(not result["changes"] for result in results.values())
    assert not any(state_id.startswith(("dns-", "consul-")) for state_id in results)


def test_rosters_match_the_shipped_datacenter_files():
    datacenters = pillar_datacenters()
    for shape, expected in (("1-datacenter", {"dc1"}), ("2-datacenter", {"dc1", "dc2"})):
        hosts = dict(roster_hosts(shape))
        seen = {host["minion_opts"]["grains"]["datacenter"] for host in hosts.values()}
        assert seen == expected, shape
        for minion_id, host in hosts.items():
            grains = host["minion_opts"]["grains"]
            assert host["user"] == "root"
            assert {"StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null"} <= set(
                host["ssh_options"]
            )
            assert set(grains["roles"]) <= {"control", "compute"}
            listed = {
                node["id"]: node for node in datacenters[grains["datacenter"]]["control_nodes"]
            }
            assert ("control" in grains["roles"]) is (minion_id in listed), minion_id
            if minion_id in listed:
                assert host["host"] == listed[minion_id]["address"], minion_id


def test_dns_config_keeps_the_original_upstream_once(tmp_path):
    """dns.config.file for real, on files in tmp_path: the first run keeps the host's
    resolv.conf as the upstream, a later one never overwrites it with the local resolver."""
    resolv_conf = tmp_path / "resolv.conf"
    upstream = tmp_path / "resolv.conf.upstream"
    dnsmasq_conf = tmp_path / "dnsmasq.d" / "10-consul.conf"
    resolv_conf.write_text("nameserver 127.0.0.11\noptions ndots:0\n")
    site = {
        "dns": {
            "config_file": str(dnsmasq_conf),
            "resolv_conf": {"path": str(resolv_conf), "upstream": str(upstream)},
        }
    }
    pillar_dir = write_pillar(tmp_path / "pillar", SHAPES["one-dc"], site)
    salt_call = SaltCall(
        tmp_path, "dc1-compute-1", {"roles": ["compute"], "datacenter": "dc1"}, pillar_dir
    )

    first = salt_call.run("state.apply", "dns.config.file")
    assert first.returncode == 0, first.stdout + first.stderr
    assert upstream.read_text() == "nameserver 127.0.0.11\noptions ndots:0\n"
    assert dnsmasq_conf.read_text().splitlines()[-4:] == [
        "listen-address=127.0.0.1",
        "bind-dynamic",
        "server=/consul/127.0.0.1#8600",
        f"resolv-file={upstream}",
    ]

    resolv_conf.write_text("nameserver 127.0.0.1\noptions ndots:0\n")
    second = salt_call.run("state.apply", "dns.config.file")
    assert second.returncode == 0, second.stdout + second.stderr
    assert upstream.read_text() == "nameserver 127.0.0.11\noptions ndots:0\n"
    assert all(not result["changes"] for result in json.loads(second.stdout)["local"].values())

    upstream.unlink()
    third = salt_call.run("state.apply", "dns.config.file")
    assert third.returncode != 0, "no upstream known: the state must say so, not guess"
    assert "dns:upstream_nameservers" in third.stdout
    assert not upstream.exists()


@pytest.fixture
def consul_mirror(tmp_path: Path) -> Iterator[str]:
    """A release mirror on loopback, laid out like releases.hashicorp.com: a Consul 1.8.7 zip
    (a stand-in binary) and its SHA256SUMS in HashiCorp's format. Yields the base URL."""
    release = tmp_path / "mirror" / "consul" / "1.8.7"
    release.mkdir(parents=True)
    archive = release / "consul_1.8.7_linux_amd64.zip"
    binary = zipfile.ZipInfo("consul")
    binary.external_attr = 0o100755 << 16  # an executable, as in HashiCorp's zips
    with zipfile.ZipFile(archive, "w") as content:
        content.writestr(binary, "#!/bin/sh\necho Consul v1.8.7\n")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    (release / "consul_1.8.7_SHA256SUMS").write_text(f"{digest}  {archive.name}\n")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "mirror"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/consul"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_highstate_in_test_mode_compiles_every_requisite_and_changes_nothing(
    tmp_path, consul_mirror, consul_dc1
):
    """A good plan under test=True: every state resolves its requisites, none fails, and
    nothing is written. The archive is fetched and checked against the mirror's SHA256SUMS;
    the Consul states ask a real agent on loopback."""
    upstream = tmp_path / "resolv.conf.upstream"
    site = {
        "consul": {"version": "1.8.7", "install": {"archive": {"base_url": consul_mirror}}},
        "consul_cluster": {"url": consul_dc1.url},
        "dns": {"resolv_conf": {"upstream": str(upstream)}},
    }
    pillar_dir = write_pillar(tmp_path / "pillar", pillar_datacenters(), site)
    salt_call = SaltCall(
        tmp_path, "dc1-control-1", {"roles": ["control"], "datacenter": "dc1"}, pillar_dir
    )

    process = salt_call.run("state.highstate", "test=True")
    results = json.loads(process.stdout)["local"]
    failed = {
        result["__id__"]: result["comment"]
        for result in results.values()
        if result["result"] is False
    }

    assert not failed, f"{failed}\n{process.stderr}"
    assert {result["__id__"] for result in results.values()} >= COMMON_STATE_IDS | {WAN_JOINED_ID}
    wan_joined = next(r for r in results.values() if r["__id__"] == WAN_JOINED_ID)
    assert wan_joined["changes"] == {"joined": ["10.0.0.21"]}
    assert not upstream.exists()


def test_archive_install_checks_the_mirror_hash_and_is_idempotent(tmp_path, consul_mirror):
    """consul.install.archive for real, into tmp_path: downloaded from the mirror, checked
    against its SHA256SUMS, unpacked into a versioned directory, linked; a second run changes
    nothing."""
    releases = tmp_path / "opt-consul"
    link = tmp_path / "bin" / "consul"
    link.parent.mkdir()
    site = {
        "consul": {
            "version": "1.8.7",
            "install": {
                "archive": {"base_url": consul_mirror, "directory": str(releases), "bin": str(link)}
            },
        }
    }
    pillar_dir = write_pillar(tmp_path / "pillar", SHAPES["one-dc"], site)
    salt_call = SaltCall(
        tmp_path, "dc1-control-1", {"roles": ["control"], "datacenter": "dc1"}, pillar_dir
    )

    first = salt_call.run("state.apply", "consul.install.archive")
    assert first.returncode == 0, first.stdout + first.stderr
    assert link.resolve() == releases / "1.8.7" / "consul"
    assert subprocess.run([link], capture_output=True, text=True).stdout == "Consul v1.8.7\n"

    second = salt_call.run("state.apply", "consul.install.archive")
    assert second.returncode == 0, second.stdout + second.stderr
    assert all(not result["changes"] for result in json.loads(second.stdout)["local"].values())


def test_archive_with_a_wrong_hash_is_refused(tmp_path, consul_mirror):
    releases = tmp_path / "opt-consul"
    site = {
        "consul": {
            "version": "1.8.7",
            "install": {
                "archive": {
                    "base_url": consul_mirror,
                    "directory": str(releases),
                    "bin": str(tmp_path / "consul"),
                    "source_hash": "sha256=" + "0" * 64,
                }
            },
        }
    }
    pillar_dir = write_pillar(tmp_path / "pillar", SHAPES["one-dc"], site)
    salt_call = SaltCall(
        tmp_path, "dc1-control-1", {"roles": ["control"], "datacenter": "dc1"}, pillar_dir
    )

    process = salt_call.run("state.apply", "consul.install.archive")

    assert process.returncode != 0
    assert not (releases / "1.8.7" / "consul").exists()


def test_dns_upstream_nameservers_from_pillar_replace_the_copied_ones(tmp_path):
    resolv_conf = tmp_path / "resolv.conf"
    resolv_conf.write_text("nameserver 127.0.0.1\n")
    dnsmasq_conf = tmp_path / "10-consul.conf"
    site = {
        "dns": {
            "config_file": str(dnsmasq_conf),
            "upstream_nameservers": ["10.0.0.2", "10.0.0.3"],
            "resolv_conf": {"path": str(resolv_conf), "upstream": str(tmp_path / "upstream")},
        }
    }
    pillar_dir = write_pillar(tmp_path / "pillar", SHAPES["one-dc"], site)
    salt_call = SaltCall(
        tmp_path, "dc1-compute-1", {"roles": ["compute"], "datacenter": "dc1"}, pillar_dir
    )

    process = salt_call.run("state.apply", "dns.config.file")

    assert process.returncode == 0, process.stdout + process.stderr
    assert dnsmasq_conf.read_text().splitlines()[-6:] == [
        "listen-address=127.0.0.1",
        "bind-dynamic",
        "server=/consul/127.0.0.1#8600",
        "no-resolv",
        "server=10.0.0.2",
        "server=10.0.0.3",
    ]


def test_resolv_conf_points_at_dnsmasq_and_keeps_search_and_options(tmp_path, render):
    """The host's search domains and options (the `dns` grain, here given) stay."""
    host_resolver = {"search": ["lab.example"], "domain": "", "options": ["ndots:0"]}
    highstate = render(
        "dc1-compute-1", ["compute"], "dc1", SHAPES["one-dc"], grains={"dns": host_resolver}
    )
    resolver = state_arguments(highstate, "dns-resolver-file-file-managed")
    salt_call = SaltCall(tmp_path, "dc1-compute-1", {}, tmp_path / "pillar")
    rendered = tmp_path / "resolv.conf"

    process = salt_call.run(
        "cp.get_template",
        resolver["source"],
        str(rendered),
        "config=" + json.dumps(resolver["context"]["config"]),
    )

    assert process.returncode == 0, process.stdout + process.stderr
    assert [line for line in rendered.read_text().splitlines() if not line.startswith("#")] == [
        "nameserver 127.0.0.1",
        "search lab.example",
        "options ndots:0",
    ]
    assert {"service": "dns-service-running-service-running"} in resolver["require"]


@pytest.mark.parametrize("formula", ["consul", "dns"])
def test_clean_in_test_mode_resolves_every_requisite(tmp_path, formula):
    pillar_dir = write_pillar(tmp_path / "pillar", SHAPES["one-dc"], {})
    salt_call = SaltCall(
        tmp_path, "dc1-control-1", {"roles": ["control"], "datacenter": "dc1"}, pillar_dir
    )

    process = salt_call.run("state.sls", f"{formula}.clean", "test=True")
    results = json.loads(process.stdout)["local"]

    assert isinstance(results, dict), results
    assert results, "the clean state is empty"
    assert all(result["result"] is not False for result in results.values()), results


def key_paths(settings: dict[str, Any], prefix: str = "") -> set[str]:
    """Colon-separated paths of every key, as pillar.get names them."""
    paths = set()
    for key, value in settings.items():
        path = f"{prefix}{key}"
        paths.add(path)
        if isinstance(value, dict) and value:
            paths |= key_paths(value, f"{path}:")
    return paths


@pytest.mark.parametrize("formula", ["consul", "dns"])
def test_pillar_example_documents_every_default_key(formula):
    defaults = yaml.safe_load((REPO / "salt" / formula / "defaults.yaml").read_text())
    example = yaml.safe_load((REPO / "salt" / formula / "pillar.example").read_text())

    assert key_paths(defaults) <= key_paths(example[formula])
