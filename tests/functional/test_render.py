"""Masterless renders of the whole state tree, as `salt-call --local` on a host would do them.

Every role (control, compute, both) in every datacenter shape (one datacenter of 3+1, two of
3+1 and 1+1 as shipped in pillar/ and inventory/2-datacenter, a 5-node and a 1-node
datacenter) is rendered with `state.show_highstate`; the tests read the computed Consul
configuration and the state ids from it. Bad plans must fail the render and change nothing.

Nothing here changes the machine: renders, test=True runs, and real runs only of the states
whose paths a test points into tmp_path (dnsmasq's configuration, the Consul archive).
"""

import hashlib
import http.server
import ipaddress
import json
import shutil
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.functional.harness import (
    site_secrets,
    CONSUL_BINARY,
    REPO,
    SHAPES,
    consul_agent_config,
    control_nodes,
    key_paths,
    state_arguments,
)

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
    "consul-config-join-file-serialize",
    "consul-config-file-file-managed-encrypt",
    "consul-service-running-file-managed-unit",
    "consul-service-running-module-run-daemon-reload",
    "consul-service-running-service-running",
    "consul-service-running-consul-cluster-leader-elected",
}
# A valid gossip key (32 bytes in base64, as Consul takes) that appears nowhere else: it must
# not leak into a render.
GOSSIP_KEY = "dGVzdC1vbmx5LWdvc3NpcC1rZXktMTIzNDU2Nzg5MCE="


def roster_hosts(shape: str) -> list[tuple[str, dict[str, Any]]]:
    roster = yaml.safe_load((REPO / "inventory" / shape / "roster").read_text())
    return sorted(roster.items())


def pillar_datacenters() -> dict[str, Any]:
    """The shipped datacenter files, merged as the pillar top merges them."""
    datacenters: dict[str, Any] = {}
    for path in sorted((REPO / "pillar" / "datacenters").glob("*.sls")):
        datacenters.update(yaml.safe_load(path.read_text())["datacenters"])
    return datacenters


@pytest.fixture(scope="module")
def shipped_pillar(tmp_path_factory) -> Path:
    """A copy of pillar/ with the site's secrets made as README says: scripts/secrets init."""
    pillar = tmp_path_factory.mktemp("shipped") / "pillar"
    shutil.copytree(REPO / "pillar", pillar, ignore=shutil.ignore_patterns("secrets*", "*.key"))
    made = subprocess.run(
        [REPO / "scripts" / "secrets", "init", pillar], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    return pillar


def test_shipped_pillar_without_its_secrets_is_refused_naming_the_command(tmp_path, minion):
    pillar = tmp_path / "pillar"
    shutil.copytree(REPO / "pillar", pillar, ignore=shutil.ignore_patterns("secrets*", "*.key"))

    process = minion("dc1-control-1", ["control"], pillar_dir=pillar).run("state.show_highstate")

    assert process.returncode != 0
    assert "Unable to render top file" in process.stderr
    assert "pillar secrets:consul:gossip_key is missing" in process.stderr
    assert "scripts/secrets init pillar" in process.stderr


@pytest.mark.parametrize(
    ("minion_id", "host"),
    roster_hosts("2-datacenter"),
    ids=[minion_id for minion_id, _ in roster_hosts("2-datacenter")],
)
def test_shipped_two_datacenter_plan_renders_every_host(minion, shipped_pillar, minion_id, host):
    """The shipped pillar, with the secrets the README's command makes, and the grains of
    inventory/2-datacenter/roster."""
    grains = host["minion_opts"]["grains"]
    datacenters = pillar_datacenters()
    members = datacenters[grains["datacenter"]]["control_nodes"]
    member = next((node for node in members if node["id"] == minion_id), None)
    others = [name for name in datacenters if name != grains["datacenter"]]

    highstate = minion(
        minion_id, grains["roles"], grains["datacenter"], pillar_dir=shipped_pillar
    ).highstate()
    config = consul_agent_config(highstate)

    assert COMMON_STATE_IDS <= highstate.keys()
    assert config["datacenter"] == grains["datacenter"]
    assert config["node_name"] == minion_id
    assert config["retry_join"] == [node["address"] for node in members]
    assert config["server"] is (member is not None)
    if member is None:
        assert "bootstrap_expect" not in config and "retry_join_wan" not in config
        assert WAN_JOINED_ID not in highstate
        # Route towards the servers: a compute node's docker0 must not confuse Consul.
        assert not ipaddress.ip_address(config["advertise_addr"]).is_loopback
    else:
        assert config["bootstrap_expect"] == len(members)
        assert config["advertise_addr"] == member["address"]
        assert config["advertise_addr_wan"] == member["wan_address"]
        assert config["leave_on_terminate"] is False
        wan_peers = [
            node["wan_address"] for name in others for node in datacenters[name]["control_nodes"]
        ]
        assert state_arguments(highstate, WAN_JOINED_ID)["peers"] == wan_peers
        # A server that starts finds the other datacenters' servers by itself.
        assert config["retry_join_wan"] == wan_peers


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
def test_consul_server_settings_follow_the_plan(minion, shape, minion_id, roles, bootstrap_expect):
    datacenters = SHAPES[shape]
    addresses = [node["address"] for node in datacenters["dc1"]["control_nodes"]]
    highstate = minion(
        minion_id,
        roles,
        datacenters=datacenters,
        grains={"platform_address": "10.0.1.21"},
    ).highstate()
    config = consul_agent_config(highstate)

    assert COMMON_STATE_IDS <= highstate.keys()
    assert config["retry_join"] == addresses
    assert config.get("bootstrap_expect") == bootstrap_expect
    assert config["server"] is (bootstrap_expect is not None)
    if bootstrap_expect is None:
        assert config["advertise_addr"] == "10.0.1.21", "the host's platform_address grain wins"
        assert WAN_JOINED_ID not in highstate
    else:
        assert config["advertise_addr"] in addresses
        # One datacenter: the state runs and has nothing to join.
        assert state_arguments(highstate, WAN_JOINED_ID)["peers"] == []


def secrets_gossip_key() -> str:
    return yaml.safe_load(site_secrets())["secrets"]["consul"]["gossip_key"]


@pytest.mark.parametrize(
    ("site", "with_secrets", "pillar_key"),
    [
        ({}, True, "secrets:consul:gossip_key"),
        # An open site as earlier trees built it: its gossip key where they read it.
        ({"consul": {"encrypt": GOSSIP_KEY}, "security": {"open": True}}, False, "consul:encrypt"),
    ],
    ids=["from the site's secrets", "from the older consul:encrypt on an open site"],
)
def test_gossip_key_goes_only_into_encrypt_json(tmp_path, minion, site, with_secrets, pillar_key):
    """Not in consul.json, not in the rendered highstate: encrypt.json's template reads it
    from pillar on the host."""
    key = secrets_gossip_key() if with_secrets else GOSSIP_KEY
    control = minion(
        "dc1-control-1", ["control"], datacenters=SHAPES["one-dc"], site=site,
        secrets=with_secrets,
    )
    highstate = control.highstate()
    encrypt = state_arguments(highstate, "consul-config-file-file-managed-encrypt")
    rendered = tmp_path / "encrypt.json"

    process = control.run(
        "cp.get_template",
        encrypt["source"],
        str(rendered),
        "config=" + json.dumps(encrypt["context"]["config"]),
    )

    assert encrypt["name"] == "/etc/consul.d/encrypt.json"
    assert encrypt["show_changes"] is False
    assert encrypt["mode"] == "0640"
    assert encrypt["context"]["config"]["pillar_key"] == pillar_key
    assert "encrypt" not in consul_agent_config(highstate)
    assert "consul-config-file-file-absent-encrypt" not in highstate
    assert key not in json.dumps(highstate)
    assert process.returncode == 0, process.stdout + process.stderr
    assert json.loads(rendered.read_text()) == {"encrypt": key}


def test_plaintext_site_on_purpose_says_so_and_writes_no_gossip_key(minion):
    site = {"security": {"open": True}}
    highstate = minion(
        "dc1-compute-1", ["compute"], datacenters=SHAPES["one-dc"], site=site, secrets=False
    ).highstate()

    assert "consul-config-file-file-absent-encrypt" in highstate
    assert "consul-config-file-file-managed-encrypt" not in highstate
    notice = state_arguments(highstate, "consul-config-file-test-show-notification-open")
    assert "security:open is true" in notice["text"]
    assert "not encrypted" in notice["text"]


def test_consul_1_8_on_a_mirror_gets_its_keys_and_urls(minion):
    """The lab: Consul 1.8.7 from a mirror that serves HashiCorp's layout and SHA256SUMS."""
    site = {
        "consul": {
            "version": "1.8.7",
            "install": {"archive": {"base_url": "http://mirror.lab:8780/consul/"}},
        }
    }
    highstate = minion(
        "dc1-control-1", ["control"], datacenters=SHAPES["one-dc"], site=site
    ).highstate()
    archive = state_arguments(highstate, "consul-install-archive-archive-extracted")
    config = consul_agent_config(highstate)

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
def test_consul_1_8_accepts_the_rendered_configuration(tmp_path, minion, minion_id, roles):
    """The lab's Consul validates what the formula writes for a server and for a client."""
    if not CONSUL_BINARY.is_file():
        pytest.fail(f"{CONSUL_BINARY} is missing: run scripts/bootstrap", pytrace=False)
    site = {"consul": {"version": "1.8.7"}}
    grains = {"platform_address": "10.0.1.21"}
    highstate = minion(
        minion_id, roles, datacenters=SHAPES["one-dc"], site=site, grains=grains
    ).highstate()
    config_file = tmp_path / "consul.json"
    config_file.write_text(json.dumps(consul_agent_config(highstate)))

    process = subprocess.run(
        [CONSUL_BINARY, "validate", config_file], capture_output=True, text=True, check=False
    )

    assert process.returncode == 0, process.stdout + process.stderr


TLS_FILES = {
    "ca_file": "/etc/consul.d/tls/ca.pem",
    "cert_file": "/etc/consul.d/tls/agent.pem",
    "key_file": "/etc/consul.d/tls/agent-key.pem",
}


def tls_settings(config: dict[str, Any], version: str) -> dict[str, Any]:
    """The TLS settings of ``config`` in one layout, whichever the version writes."""
    if version.startswith("1.8"):
        assert "tls" not in config, "Consul 1.8 has no tls stanza"
        return {key: config.get(key) for key in (
            *TLS_FILES, "verify_outgoing", "verify_server_hostname", "verify_incoming_rpc")}
    assert "verify_outgoing" not in config and "ca_file" not in config
    tls = config["tls"]
    return {
        **{key: tls["defaults"][key] for key in TLS_FILES},
        "verify_outgoing": tls["defaults"]["verify_outgoing"],
        "verify_server_hostname": tls["internal_rpc"]["verify_server_hostname"],
        "verify_incoming_rpc": tls["internal_rpc"]["verify_incoming"],
    }


@pytest.mark.parametrize("version", ["1.8.7", "1.20.6"])
@pytest.mark.parametrize(
    ("stage", "verify_outgoing", "verify_incoming", "default_policy", "tokens"),
    [
        ("accept", False, False, "allow", False),
        ("verify", True, False, "allow", True),
        ("secure", True, True, "deny", True),
    ],
)
@pytest.mark.parametrize(
    ("minion_id", "roles", "management"),
    [("dc1-control-1", ["control"], True), ("dc1-compute-1", ["compute"], False)],
)
def test_each_security_stage_writes_the_tls_and_acl_keys_of_the_consul_version(
    minion, version, stage, verify_outgoing, verify_incoming, default_policy, tokens,
    minion_id, roles, management,
):
    site = {"consul": {"version": version}, "security": {"stage": stage}}
    highstate = minion(minion_id, roles, datacenters=SHAPES["one-dc"], site=site).highstate()
    config = consul_agent_config(highstate)
    tokens_context = state_arguments(highstate, "consul-config-file-file-managed-acl-tokens")[
        "context"]["config"]
    token_names = tokens_context["tokens"]
    management_name = "master" if version.startswith("1.8") else "initial_management"

    assert tls_settings(config, version) == {
        **TLS_FILES,
        "verify_outgoing": verify_outgoing,
        "verify_server_hostname": verify_outgoing,
        "verify_incoming_rpc": verify_incoming,
    }
    assert config["ports"]["https"] == 8501
    assert config["addresses"]["https"].startswith("127.0.0.1 ")
    assert config["client_addr"] == "127.0.0.1"
    assert config["primary_datacenter"] == "dc1"
    if management or tokens:
        assert config["acl"]["enabled"] is True
        assert config["acl"]["default_policy"] == default_policy
    else:
        # A client takes ACLs with its token (verify), after the servers (accept).
        assert "acl" not in config
    assert set(token_names) == ({management_name} if management else set())
    # The agent presents its own token from verify on, derived on the host.
    assert tokens_context["agent_node"] == (minion_id if tokens else "")
    # The tokens file names pillar keys; their values reach the host only in the file.
    assert all(value.startswith("secrets:consul:acl:") for value in token_names.values())


def test_an_open_site_writes_no_tls_and_no_acl(minion):
    site = {"security": {"open": True}}
    highstate = minion(
        "dc1-control-1", ["control"], datacenters=SHAPES["one-dc"], site=site
    ).highstate()
    config = consul_agent_config(highstate)

    assert not {"tls", "ca_file", "acl", "primary_datacenter"} & set(config)
    assert "consul-config-file-file-absent-tls" in highstate
    assert "consul-config-file-file-absent-acl-tokens" in highstate
    assert not [state_id for state_id in highstate if state_id.startswith("consul-acl-")]


def test_current_consul_by_default_from_hashicorp_releases(minion):
    highstate = minion("dc1-control-1", ["control"], datacenters=SHAPES["one-dc"]).highstate()
    archive = state_arguments(highstate, "consul-install-archive-archive-extracted")
    config = consul_agent_config(highstate)

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
def test_install_method_chooses_the_install_states(minion, method, present, absent, binary):
    site = {"consul": {"install": {"method": method}}}
    highstate = minion(
        "dc1-control-1", ["control"], datacenters=SHAPES["one-dc"], site=site
    ).highstate()
    unit = state_arguments(highstate, "consul-service-running-file-managed-unit")

    assert present in highstate
    assert absent not in highstate
    assert "consul-install-archive-archive-extracted" not in highstate
    assert unit["context"]["config"]["binary"] == binary


def test_configuration_change_restarts_a_server_only_one_at_a_time_when_servers_are_healthy(
    minion,
):
    highstate = minion("dc1-control-1", ["control"], datacenters=SHAPES["one-dc"]).highstate()
    restart = state_arguments(highstate, "consul-service-running-rolling-restart-restarted")
    service = state_arguments(highstate, "consul-service-running-service-running")
    gate = state_arguments(highstate, "consul-service-running-consul-cluster-leader-elected")

    assert restart["lock"] == "platform/locks/dc1/consul"
    assert restart["ready"] == restart["health"] == "consul_cluster.servers_healthy"
    assert {"sls": "consul.config.file"} in restart["onchanges"]
    assert {"sls": "consul.install.archive"} in restart["onchanges"]
    assert {"file": "consul-service-running-file-managed-unit"} in restart["onchanges"]
    # The service state never restarts a server by itself: no watch, no reload.
    assert "watch" not in service and "reload" not in service
    assert {"rolling_restart": "consul-service-running-rolling-restart-restarted"} in service[
        "require"
    ]
    assert gate["timeout"] == 180
    # The WAN join presents the Salt token: after the tokens are known (consul.acl).
    assert state_arguments(highstate, WAN_JOINED_ID)["require"] == [
        {"consul_cluster": "consul-service-running-consul-cluster-leader-elected"},
        {"sls": "consul.acl"},
    ]


def test_configuration_change_restarts_a_client_under_the_lock_when_servers_are_healthy(minion):
    """Not while a server restarts: an agent that starts then may fail to resolve its tokens
    and have their writes refused until it restarts again (seen on the lab's upgrade)."""
    highstate = minion("dc1-compute-1", ["compute"], datacenters=SHAPES["one-dc"]).highstate()
    restart = state_arguments(highstate, "consul-service-running-rolling-restart-restarted")
    service = state_arguments(highstate, "consul-service-running-service-running")

    assert restart["lock"] == "platform/locks/dc1/consul"
    assert restart["ready"] == "consul_cluster.servers_healthy"
    assert restart["health"] == "consul_cluster.leader"
    assert {"sls": "consul.config.file"} in restart["onchanges"]
    assert "consul-service-running-consul-cluster-leader-restarts-last" not in highstate
    assert "watch" not in service and "reload" not in service


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
def test_bad_plan_fails_the_render_naming_the_key(minion, plan):
    datacenters, grains, key = plan
    control = minion("dc1-control-1", ["control"], datacenters=datacenters, grains=grains)

    process = control.run("state.show_highstate")

    assert process.returncode != 0
    assert "Unable to render top file" in process.stderr
    assert key in process.stderr


def test_bad_plan_highstate_in_test_mode_changes_nothing(minion):
    datacenters, grains, key = BAD_PLANS["even-count"]
    control = minion("dc1-control-1", ["control"], datacenters=datacenters)

    process = control.run("state.highstate", "test=True")
    results = json.loads(process.stdout)["local"]

    assert process.returncode != 0
    assert key in process.stderr
    assert all(not result["changes"] for result in results.values())
    assert not any(state_id.startswith(("dns-", "consul-")) for state_id in results)


@pytest.mark.parametrize(
    ("minion_id", "roles"), [("dc1-control-1", ["control"]), ("dc1-compute-1", ["compute"])]
)
def test_a_consul_version_jump_fails_the_render_of_every_host_that_runs_consul(
    minion, minion_id, roles
):
    host = minion(
        minion_id,
        roles,
        datacenters=SHAPES["one-dc"],
        site={"consul": {"version": "1.21.0"}},
        grains={"consul_version": "1.8.7"},
    )

    process = host.run("state.show_highstate")

    assert process.returncode != 0
    assert "Unable to render top file" in process.stderr
    assert f"pillar consul:version is 1.21.0 but {minion_id} runs Consul 1.8.7" in process.stderr
    assert "Set consul:version to 1.10.12, converge every host" in process.stderr


def test_a_documented_consul_upgrade_renders_the_new_release(minion):
    highstate = minion(
        "dc1-control-1",
        ["control"],
        datacenters=SHAPES["one-dc"],
        site={"consul": {"version": "1.10.12"}},
        grains={"consul_version": "1.8.7"},
    ).highstate()

    archive = state_arguments(highstate, "consul-install-archive-archive-extracted")
    assert archive["name"] == "/opt/consul/1.10.12"


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


def test_dns_config_keeps_the_original_upstream_once(tmp_path, minion):
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
    compute = minion("dc1-compute-1", ["compute"], datacenters=SHAPES["one-dc"], site=site)

    first = compute.run("state.apply", "dns.config.file")
    assert first.returncode == 0, first.stdout + first.stderr
    assert upstream.read_text() == "nameserver 127.0.0.11\noptions ndots:0\n"
    # The host's own agent first, then its datacenter's servers (while the agent restarts).
    servers = [node["address"] for node in SHAPES["one-dc"]["dc1"]["control_nodes"]]
    assert dnsmasq_conf.read_text().splitlines()[-4 - len(servers):] == [
        "listen-address=127.0.0.1",
        "bind-dynamic",
        "server=/consul/127.0.0.1#8600",
        *(f"server=/consul/{address}#8600" for address in servers),
        f"resolv-file={upstream}",
    ]

    resolv_conf.write_text("nameserver 127.0.0.1\noptions ndots:0\n")
    second = compute.run("state.apply", "dns.config.file")
    assert second.returncode == 0, second.stdout + second.stderr
    assert upstream.read_text() == "nameserver 127.0.0.11\noptions ndots:0\n"
    assert all(not result["changes"] for result in json.loads(second.stdout)["local"].values())

    upstream.unlink()
    third = compute.run("state.apply", "dns.config.file")
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
    tmp_path, minion, consul_mirror, consul_dc1
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
    control = minion("dc1-control-1", ["control"], datacenters=pillar_datacenters(), site=site)

    process = control.run("state.highstate", "test=True")
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


def test_archive_install_checks_the_mirror_hash_and_is_idempotent(
    tmp_path, consul_mirror, minion
):
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
    control = minion("dc1-control-1", ["control"], datacenters=SHAPES["one-dc"], site=site)

    first = control.run("state.apply", "consul.install.archive")
    assert first.returncode == 0, first.stdout + first.stderr
    assert link.resolve() == releases / "1.8.7" / "consul"
    assert subprocess.run([link], capture_output=True, text=True).stdout == "Consul v1.8.7\n"

    second = control.run("state.apply", "consul.install.archive")
    assert second.returncode == 0, second.stdout + second.stderr
    assert all(not result["changes"] for result in json.loads(second.stdout)["local"].values())


def test_archive_with_a_wrong_hash_is_refused(tmp_path, consul_mirror, minion):
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
    control = minion("dc1-control-1", ["control"], datacenters=SHAPES["one-dc"], site=site)

    process = control.run("state.apply", "consul.install.archive")

    assert process.returncode != 0
    assert not (releases / "1.8.7" / "consul").exists()


def test_dns_upstream_nameservers_from_pillar_replace_the_copied_ones(tmp_path, minion):
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
    compute = minion("dc1-compute-1", ["compute"], datacenters=SHAPES["one-dc"], site=site)

    process = compute.run("state.apply", "dns.config.file")

    assert process.returncode == 0, process.stdout + process.stderr
    assert dnsmasq_conf.read_text().splitlines()[-3:] == [
        "no-resolv",
        "server=10.0.0.2",
        "server=10.0.0.3",
    ]


def test_resolv_conf_points_at_dnsmasq_and_keeps_search_and_options(tmp_path, minion):
    """The host's search domains and options (the `dns` grain, here given) stay."""
    host_resolver = {"search": ["lab.example"], "domain": "", "options": ["ndots:0"]}
    compute = minion(
        "dc1-compute-1", ["compute"], datacenters=SHAPES["one-dc"], grains={"dns": host_resolver}
    )
    highstate = compute.highstate()
    resolver = state_arguments(highstate, "dns-resolver-file-file-managed")
    text = compute.render_managed_file(
        highstate, "dns-resolver-file-file-managed", tmp_path / "resolv.conf"
    )

    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        "nameserver 127.0.0.1",
        "search lab.example",
        "options ndots:0",
    ]
    assert {"service": "dns-service-running-service-running"} in resolver["require"]


@pytest.mark.parametrize("formula", ["consul", "dns", "pkgsources", "zookeeper"])
def test_clean_in_test_mode_resolves_every_requisite(minion, formula):
    control = minion("dc1-control-1", ["control"], datacenters=SHAPES["one-dc"])

    results = control.salt_call("state.sls", f"{formula}.clean", "test=True")

    assert isinstance(results, dict), results
    assert results, "the clean state is empty"
    assert all(result["result"] is not False for result in results.values()), results


@pytest.mark.parametrize(
    "formula", ["consul", "dns", "mesos", "marathon", "pkgsources", "zookeeper"]
)
def test_pillar_example_documents_every_default_key(formula):
    defaults = yaml.safe_load((REPO / "salt" / formula / "defaults.yaml").read_text())
    example = yaml.safe_load((REPO / "salt" / formula / "pillar.example").read_text())

    assert key_paths(defaults) <= key_paths(example[formula])


def test_servers_save_snapshots_on_a_timer_and_before_a_new_binary(minion):
    control = minion("dc1-control-1", ["control"], datacenters=SHAPES["one-dc"]).highstate()
    compute = minion("dc1-compute-1", ["compute"], datacenters=SHAPES["one-dc"]).highstate()
    before_upgrade = state_arguments(
        control, "consul-service-running-cmd-run-snapshot-before-upgrade"
    )
    timer = state_arguments(control, "consul-backup-timer-service-running")

    assert timer["name"] == "consul-snapshot.timer" and timer["enable"] is True
    assert state_arguments(control, "consul-backup-timer-file-directory")["mode"] == "0700"
    assert before_upgrade["name"] == "systemctl start consul-snapshot.service"
    assert before_upgrade["onchanges"] == [{"sls": "consul.install.archive"}]
    assert {"consul_cluster": "consul-service-running-consul-cluster-leader-restarts-last"} in (
        before_upgrade["require_in"]
    )
    assert not [state_id for state_id in compute if "backup" in state_id or "snapshot" in state_id]


def test_the_first_control_node_makes_every_known_agents_token_and_each_host_waits_for_its_own(
    minion,
):
    first = minion("dc1-control-1", ["control"], datacenters=SHAPES["one-dc"]).highstate()
    compute = minion("dc1-compute-1", ["compute"], datacenters=SHAPES["one-dc"]).highstate()
    prefix = "consul-acl-tokens-consul-acl-agent-token-present-"

    # Masterless, the plan knows the control nodes of pillar and the host itself.
    made = {
        state_id.removeprefix(prefix): state_arguments(first, state_id)["datacenter"]
        for state_id in first
        if state_id.startswith(prefix)
    }
    assert made == {node["id"]: "dc1" for node in SHAPES["one-dc"]["dc1"]["control_nodes"]}
    assert not [state_id for state_id in compute if state_id.startswith(prefix)]
    for host, highstate in (("dc1-control-1", first), ("dc1-compute-1", compute)):
        waits = state_arguments(highstate, "consul-acl-tokens-consul-acl-agent-token-usable")
        assert waits["name"] == host
