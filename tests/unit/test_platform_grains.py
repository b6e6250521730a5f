"""The platform grains of _grains/platform.py: routes parsed from recorded `ip -j` output, and
the real grains on this machine, through Salt's grains loader as etc/salt/minion loads them."""

import importlib.util
import json
import os
import subprocess
from pathlib import Path
from unittest.mock import patch

import pytest
import salt.config
import salt.loader

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("platform_grains", REPO / "_grains" / "platform.py")
platform_grains = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(platform_grains)

ROUTE_KEYS = {"destination", "source", "family"}

# `ip -j route show table main` of a compute host: a default route without prefsrc (its source
# is that of the connected route reaching the gateway), the LAN, and docker0 while it is down.
COMPUTE_HOST_IPV4 = (
    '[{"dst":"default","gateway":"10.231.1.1","dev":"eth0","flags":[]},'
    '{"dst":"10.231.1.0/24","dev":"eth0","protocol":"kernel","scope":"link",'
    '"prefsrc":"10.231.1.21","flags":[]},'
    '{"dst":"172.17.0.0/16","dev":"docker0","protocol":"kernel","scope":"link",'
    '"prefsrc":"172.17.0.1","flags":["linkdown"]}]'
)
# `ip -j -6 route show table main`: IPv6 connected routes carry no prefsrc, nor does the default
# route; its source comes from `ip -j route get <gateway>`.
COMPUTE_HOST_IPV6 = (
    '[{"dst":"fd00::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[],'
    '"pref":"medium"},'
    '{"dst":"fe80::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[],'
    '"pref":"medium"},'
    '{"dst":"default","gateway":"fd00::1","dev":"eth0","metric":1024,"flags":[],'
    '"pref":"medium"}]'
)
ROUTE_GET_IPV6 = (
    '[{"dst":"fd00::1","from":"::","dev":"eth0","protocol":"kernel","prefsrc":"fd00::2",'
    '"metric":256,"flags":[],"pref":"medium"}]'
)
# A laptop-like host: two default routes from DHCP with their prefsrc (the lower metric is
# preferred), a host route on a tunnel, and routes that carry no traffic.
TWO_UPLINKS = (
    '[{"dst":"default","gateway":"192.168.1.1","dev":"wlan0","protocol":"dhcp",'
    '"prefsrc":"192.168.1.50","metric":600,"flags":[]},'
    '{"dst":"default","gateway":"10.0.0.1","dev":"eth0","protocol":"dhcp",'
    '"prefsrc":"10.0.0.50","metric":100,"flags":[]},'
    '{"dst":"10.8.0.5","dev":"tun0","scope":"link","prefsrc":"10.8.0.6","flags":[]},'
    '{"type":"unreachable","dst":"10.99.0.0/16","flags":[]},'
    '{"type":"blackhole","dst":"10.98.0.0/16","flags":[]}]'
)
# A multipath default route: its gateways are in its next hops.
MULTIPATH = (
    '[{"dst":"default","protocol":"static","metric":1024,"flags":[],"nexthops":['
    '{"gateway":"10.0.1.1","dev":"eth0","weight":1,"flags":[]},'
    '{"gateway":"10.0.2.1","dev":"eth1","weight":1,"flags":[]}]},'
    '{"dst":"10.0.1.0/24","dev":"eth0","protocol":"kernel","scope":"link",'
    '"prefsrc":"10.0.1.21","flags":[]}]'
)


def no_route_get(gateway: str) -> None:
    raise AssertionError(f"ip route get {gateway} should not be needed")


def test_default_route_takes_the_source_of_the_connected_route_to_its_gateway():
    routes = platform_grains._routes_from_json(COMPUTE_HOST_IPV4, 4, no_route_get)

    assert routes == [
        {"destination": "default", "source": "10.231.1.21", "family": 4},
        {"destination": "10.231.1.0/24", "source": "10.231.1.21", "family": 4},
        {"destination": "172.17.0.0/16", "source": "172.17.0.1", "family": 4},
    ]


def test_ipv6_default_route_asks_ip_route_get_for_its_source():
    asked = []

    def route_get(gateway: str) -> str | None:
        asked.append(gateway)
        return platform_grains._source_from_route_get(ROUTE_GET_IPV6)

    routes = platform_grains._routes_from_json(COMPUTE_HOST_IPV6, 6, route_get)

    assert routes == [{"destination": "default", "source": "fd00::2", "family": 6}]
    assert asked == ["fd00::1"]


def test_routes_are_ordered_by_metric_and_only_unicast_ones_count():
    routes = platform_grains._routes_from_json(TWO_UPLINKS, 4, no_route_get)

    # A route without a metric has metric 0.
    assert routes == [
        {"destination": "10.8.0.5/32", "source": "10.8.0.6", "family": 4},
        {"destination": "default", "source": "10.0.0.50", "family": 4},
        {"destination": "default", "source": "192.168.1.50", "family": 4},
    ]


def test_multipath_default_route_takes_its_first_next_hop():
    routes = platform_grains._routes_from_json(MULTIPATH, 4, no_route_get)

    assert routes == [
        {"destination": "10.0.1.0/24", "source": "10.0.1.21", "family": 4},
        {"destination": "default", "source": "10.0.1.21", "family": 4},
    ]


def test_default_route_without_any_source_is_left_out():
    routes = platform_grains._routes_from_json(COMPUTE_HOST_IPV6, 6, lambda gateway: None)

    assert routes == []


@pytest.mark.parametrize(
    "text",
    [None, "", "Usage: ip route { list | flush } SELECTOR", '{"dst": "default"}', "[1, null]"],
    ids=["no output", "empty", "iproute2 without -j", "an object", "no routes in the list"],
)
def test_output_that_is_not_a_route_list_gives_no_routes(text):
    assert platform_grains._routes_from_json(text, 4, no_route_get) == []


def test_route_get_without_prefsrc_gives_no_source():
    assert platform_grains._source_from_route_get('[{"dst":"10.0.0.1","dev":"eth0"}]') is None
    assert platform_grains._source_from_route_get("not json") is None


def test_platform_routes_on_this_machine_are_dicts_of_the_contract():
    routes = platform_grains.platform_routes()["platform_routes"]

    assert isinstance(routes, list)
    for route in routes:
        assert set(route) == ROUTE_KEYS
        assert route["family"] in (4, 6)


def test_platform_routes_without_an_ip_binary_are_empty():
    with patch.object(platform_grains.shutil, "which", return_value=None):
        assert platform_grains.platform_routes() == {"platform_routes": []}


@pytest.mark.parametrize(
    "run",
    [
        {"side_effect": subprocess.TimeoutExpired(["ip"], platform_grains.COMMAND_TIMEOUT)},
        {"side_effect": PermissionError("ip")},
        {"return_value": subprocess.CompletedProcess(["ip"], 1, "", "Error: invalid argument")},
    ],
    ids=["hangs", "cannot run", "fails"],
)
def test_platform_routes_when_ip_fails_are_empty(run):
    with patch.object(platform_grains.subprocess, "run", **run):
        assert platform_grains.platform_routes() == {"platform_routes": []}


def test_cgroup_version_follows_the_unified_hierarchy():
    expected = 2 if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else 1

    assert platform_grains.cgroup_version() == {"cgroup_version": expected}


def test_grains_do_not_load_off_linux():
    with patch.object(platform_grains.salt.utils.platform, "is_linux", return_value=False):
        loaded, reason = platform_grains.__virtual__()

    assert loaded is False
    assert "Linux" in reason


def test_salts_grains_loader_finds_the_grains_through_module_dirs(tmp_path):
    config = tmp_path / "minion"
    config.write_text(json.dumps({"root_dir": str(tmp_path), "module_dirs": [str(REPO)]}))

    grains = salt.loader.grains(salt.config.minion_config(str(config)), force_refresh=True)

    assert all(set(route) == ROUTE_KEYS for route in grains["platform_routes"])
    assert grains["cgroup_version"] in (1, 2)
    assert "consul_version" in grains


@pytest.mark.parametrize(
    ("config", "stage"),
    [
        (None, None),
        ({"server": True}, "open"),
        ({"ca_file": "/etc/consul.d/tls/ca.pem", "verify_outgoing": False}, "accept"),
        ({"ca_file": "ca.pem", "verify_outgoing": True, "verify_incoming_rpc": False}, "verify"),
        ({"ca_file": "ca.pem", "verify_outgoing": True, "verify_incoming_rpc": True}, "secure"),
        ({"tls": {"defaults": {"ca_file": "ca.pem"}}}, "accept"),
        ({"tls": {"defaults": {"ca_file": "ca.pem", "verify_outgoing": True},
                  "internal_rpc": {"verify_incoming": False}}}, "verify"),
        ({"tls": {"defaults": {"ca_file": "ca.pem", "verify_outgoing": True},
                  "internal_rpc": {"verify_incoming": True}}}, "secure"),
    ],
)
def test_consul_security_stage_reads_both_layouts_of_the_tls_settings(config, stage):
    assert platform_grains._security_stage(config) == stage


def test_consul_security_stage_is_none_without_a_readable_configuration(tmp_path):
    broken = tmp_path / "consul.json"
    broken.write_text("{not json")
    for path in (tmp_path / "missing.json", broken):
        with patch.object(platform_grains, "CONSUL_CONFIG", str(path)):
            assert platform_grains.consul_security_stage() == {"consul_security_stage": None}


@pytest.mark.parametrize(
    ("lines", "stage"),
    [
        ([], "open"),
        (["quorum.auth.enableSasl=false"], "open"),
        (["quorum.auth.enableSasl=true", "quorum.auth.learnerRequireSasl=false"], "accept"),
        (["quorum.auth.enableSasl=true", "quorum.auth.learnerRequireSasl=true",
          "quorum.auth.serverRequireSasl=false"], "verify"),
        (["quorum.auth.enableSasl=true", "quorum.auth.learnerRequireSasl=true",
          "quorum.auth.serverRequireSasl=true"], "secure"),
    ],
)
def test_zookeeper_security_stage_follows_the_quorum_sasl_settings(lines, stage):
    text = "\n".join(["# Managed by Salt", "tickTime=2000", *lines, "server.1=10.0.1.11:2888:3888"])
    assert platform_grains._zookeeper_stage(text) == stage


def test_zookeeper_security_stage_is_none_without_a_zoo_cfg(tmp_path):
    with patch.object(platform_grains, "ZOOKEEPER_CONFIGS", (str(tmp_path / "zoo.cfg"),)):
        assert platform_grains.zookeeper_security_stage() == {"zookeeper_security_stage": None}


def test_zookeeper_servers_are_the_server_lines_of_zoo_cfg_by_id(tmp_path):
    config = tmp_path / "zoo.cfg"
    config.write_text(
        "# Managed by Salt\ntickTime=2000\nserver.1=10.0.1.11:2888:3888\n"
        "server.02 = 10.0.1.12:2888:3888\nserver.x=ignored\nserverCnxnFactory=ignored\n"
    )
    with patch.object(platform_grains, "ZOOKEEPER_CONFIGS", (str(config),)):
        assert platform_grains.zookeeper_servers() == {
            "zookeeper_servers": {"1": "10.0.1.11:2888:3888", "2": "10.0.1.12:2888:3888"}
        }


def test_zookeeper_servers_are_none_without_a_zoo_cfg(tmp_path):
    with patch.object(platform_grains, "ZOOKEEPER_CONFIGS", (str(tmp_path / "zoo.cfg"),)):
        assert platform_grains.zookeeper_servers() == {"zookeeper_servers": None}


@pytest.mark.parametrize(
    ("output", "release"),
    [
        ("Consul v1.8.7\nProtocol 2 spoken by default, understands 2 to 3\n", "1.8.7"),
        ("Consul v1.20.6+ent\nRevision 7b7ae8b3\nBuild Date 2025-04-16T12:00:00Z\n",
         "1.20.6+ent"),
        ("Consul v1.21.0-rc1\n", "1.21.0-rc1"),
        ("Usage: consul [--version] [--help] <command> [<args>]\n", None),
        ("", None),
        (None, None),
    ],
)
def test_consul_version_is_the_release_on_the_first_line_of_consul_version(output, release):
    assert platform_grains._consul_release(output) == release


def fake_consul(directory: Path, script: str) -> None:
    binary = directory / "consul"
    binary.write_text(f"#!/bin/sh\n{script}\n")
    binary.chmod(0o755)


def test_consul_version_asks_the_consul_binary(tmp_path):
    fake_consul(tmp_path, '[ "$1" = version ] && echo "Consul v1.8.7" && echo "Protocol 2"')

    with patch.object(platform_grains, "CONSUL_BINARY_PATH", str(tmp_path)):
        assert platform_grains.consul_version() == {"consul_version": "1.8.7"}


def test_consul_version_is_none_without_a_consul_that_answers(tmp_path):
    with patch.object(platform_grains, "CONSUL_BINARY_PATH", str(tmp_path)):
        assert platform_grains.consul_version() == {"consul_version": None}
        fake_consul(tmp_path, "exit 1")
        assert platform_grains.consul_version() == {"consul_version": None}
