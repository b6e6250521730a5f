"""Masterless renders of the edge role, as `salt-call --local` on an edge host would do them:
the highstate of a host with role edge (dns, a Consul client, haproxy), haproxy.cfg as the
formula's template writes it from pillar haproxy:services (checked by the real `haproxy -c`),
the stats login kept out of every output, the reload on a change, the edge's Consul service,
the plans the formula refuses, and its clean state in test mode. Real runs write only into
tmp_path.
"""

import json
import stat
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.functional.harness import (
    REPO,
    SHAPES,
    Minion,
    haproxy_binary,
    key_paths,
    site_secrets,
    state_arguments,
)

EDGE = "dc1-edge-1"
EDGE_ADDRESS = "10.0.1.31"
CONFIG_ID = "haproxy-config-file-file-managed"
SERVICE_ID = "haproxy-service-running-service-running"
HEALTH_ID = "haproxy-service-running-rolling-restart-healthy"
REGISTRATION_ID = "haproxy-consul-registration-file-managed"
SERVICES = {
    "web": {"port": 8080, "check": {"path": "/health"}},
    "postgres": {"port": 5432, "mode": "tcp", "slots": 3, "datacenter": "dc2"},
}


@pytest.fixture
def edge_host(minion: Callable[..., Minion]) -> Callable[..., Minion]:
    """``edge_host(haproxy=, site=, secrets=)``: the edge host of a one-datacenter plan, with
    pillar haproxy (default: SERVICES) and the rest of ``site``."""

    def make(
        haproxy: dict[str, Any] | None = None,
        site: dict[str, Any] | None = None,
        secrets: bool = True,
    ) -> Minion:
        pillar = {"haproxy": {"services": SERVICES} if haproxy is None else haproxy}
        return minion(
            EDGE,
            ["edge"],
            datacenters=SHAPES["one-dc"],
            site={**pillar, **(site or {})},
            grains={"platform_address": EDGE_ADDRESS},
            secrets=secrets,
        )

    return make


def stats_login() -> dict[str, str]:
    return yaml.safe_load(site_secrets())["secrets"]["haproxy"]["stats"]


def config_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def section(lines: list[str], header: str) -> list[str]:
    """The lines of the section ``header`` (``backend web``), up to the next section."""
    start = lines.index(header) + 1
    keywords = ("global", "defaults", "resolvers ", "frontend ", "backend ", "listen ", "#")
    end = next(
        (index for index in range(start, len(lines)) if lines[index].startswith(keywords)),
        len(lines),
    )
    return lines[start:end]


def render_error(host: Minion, sls: str) -> str:
    process = host.run("state.show_sls", sls)
    assert process.returncode != 0, "the render should have failed"
    return process.stdout + process.stderr


def test_an_edge_host_gets_dns_a_consul_client_and_haproxy(edge_host):
    highstate = edge_host().highstate()
    consul_config = state_arguments(highstate, "consul-config-file-file-serialize")["dataset"]

    assert {
        "dns-service-running-service-running",
        "consul-service-running-service-running",
        "haproxy-install-package-pkg-installed",
        CONFIG_ID,
        SERVICE_ID,
        HEALTH_ID,
        REGISTRATION_ID,
    } <= highstate.keys()
    assert consul_config["server"] is False
    assert consul_config["advertise_addr"] == EDGE_ADDRESS
    assert not [
        state_id
        for state_id in highstate
        if state_id.startswith(("zookeeper-", "mesos-", "marathon-", "docker-", "registrator-"))
    ]


def test_compute_and_control_hosts_get_no_haproxy(minion):
    for minion_id, roles in (("dc1-control-1", ["control"]), ("dc1-compute-1", ["compute"])):
        highstate = minion(minion_id, roles, datacenters=SHAPES["one-dc"]).highstate()
        assert not [state_id for state_id in highstate if state_id.startswith("haproxy-")]


def test_pillar_services_become_frontends_and_backends_of_consul_srv_records(
    tmp_path, edge_host
):
    host = edge_host()
    text = host.render_managed_file(host.show_sls("haproxy"), CONFIG_ID, tmp_path / "haproxy.cfg")
    lines = config_lines(text)

    assert section(lines, "resolvers consul")[:3] == [
        "nameserver consul 127.0.0.1:8600",
        "accepted_payload_size 8192",
        "resolve_retries 3",
    ]
    assert section(lines, "frontend web") == [
        "bind *:8080", "mode http", "option httplog", "option forwardfor", "default_backend web",
    ]
    assert section(lines, "backend web") == [
        "mode http",
        "balance roundrobin",
        "option httpchk",
        "http-check send meth GET uri /health",
        "default-server inter 2s fall 3 rise 2",
        "server-template web 8 _web._tcp.service.consul resolvers consul resolve-prefer ipv4 "
        "resolve-opts allow-dup-ip init-addr none check",
    ]
    assert section(lines, "frontend postgres") == [
        "bind *:5432", "mode tcp", "option tcplog", "default_backend postgres",
    ]
    assert section(lines, "backend postgres")[-1] == (
        "server-template postgres 3 _postgres._tcp.service.dc2.consul resolvers consul "
        "resolve-prefer ipv4 resolve-opts allow-dup-ip init-addr none check"
    )
    assert "option httpchk" not in section(lines, "backend postgres")
    login = stats_login()
    assert section(lines, "listen stats") == [
        f"bind {EDGE_ADDRESS}:8404",
        "mode http",
        "monitor-uri /healthz",
        "stats enable",
        "stats uri /",
        "stats refresh 10s",
        'stats realm "HAProxy statistics"',
        f"stats auth {login['user']}:{login['password']}",
    ]
    checked = subprocess.run(
        [haproxy_binary(), "-c", "-f", str(tmp_path / "haproxy.cfg")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_stats_login_appears_in_no_state_output(tmp_path, edge_host):
    """The template reads it from pillar on the host: the rendered highstate names the pillar
    key only, and neither a dry run nor a real one shows the file's content."""
    config_file = tmp_path / "haproxy.cfg"
    host = edge_host({"services": SERVICES, "config_file": str(config_file)})
    password = stats_login()["password"]
    config = state_arguments(host.show_sls("haproxy"), CONFIG_ID)

    dry_run = host.run("state.sls", "haproxy.config", "test=True")
    untouched_by_dry_run = not config_file.exists()
    applied = host.run("state.sls", "haproxy.config")
    again = host.apply("haproxy.config")

    assert config["context"]["config"]["stats"]["login_pillar"] == "secrets:haproxy:stats"
    assert config["show_changes"] is False
    assert password not in json.dumps(host.highstate())
    for process in (dry_run, applied):
        assert process.returncode == 0, process.stdout + process.stderr
        assert password not in process.stdout + process.stderr
    assert untouched_by_dry_run, "test=True wrote the file"
    assert all(not result["changes"] for result in again.values())
    assert f"stats auth stats:{password}" in config_file.read_text()
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o640


def test_a_configuration_haproxy_rejects_is_not_written(tmp_path, edge_host):
    config_file = tmp_path / "haproxy.cfg"
    haproxy = {
        "services": SERVICES,
        "config_file": str(config_file),
        "defaults": ["timeout connect 5s", "no-such-keyword here"],
    }

    process = edge_host(haproxy).run("state.sls", "haproxy.config")

    assert process.returncode != 0
    assert "unknown keyword 'no-such-keyword' in 'defaults' section" in process.stdout
    assert not config_file.exists()


def test_a_changed_configuration_reloads_haproxy_and_is_checked_first(edge_host):
    rendered = edge_host().show_sls("haproxy")
    config = state_arguments(rendered, CONFIG_ID)
    service = state_arguments(rendered, SERVICE_ID)
    health = state_arguments(rendered, HEALTH_ID)

    assert config["check_cmd"] == "/usr/sbin/haproxy -c -f"
    assert (config["user"], config["group"], config["mode"]) == ("root", "haproxy", "0640")
    assert service["reload"] is True
    assert service["watch"] == [{"sls": "haproxy.config.file"}]
    assert health["health"] == "http_probe.ok"
    assert health["health_kwargs"] == {"url": f"http://{EDGE_ADDRESS}:8404/healthz"}
    assert health["require"] == [{"service": SERVICE_ID}]


def test_the_edge_registers_in_consul_with_a_check_of_the_monitor_uri(edge_host):
    registration = state_arguments(edge_host().show_sls("haproxy"), REGISTRATION_ID)
    definition = registration["context"]["config"]["definition"]

    assert registration["name"] == "/etc/consul.d/edge-service.json"
    assert (definition["name"], definition["address"], definition["port"]) == (
        "edge", EDGE_ADDRESS, 8404,
    )
    assert [check["http"] for check in definition["checks"]] == [
        f"http://{EDGE_ADDRESS}:8404/healthz"
    ]
    assert registration["require"] == [{"sls": "consul.service.running"}]


def test_the_stats_page_may_be_switched_off_and_then_needs_no_secret(tmp_path, edge_host):
    host = edge_host(
        {"services": SERVICES, "stats": {"enabled": False}},
        site={"security": {"open": True}},
        secrets=False,
    )
    text = host.render_managed_file(host.show_sls("haproxy"), CONFIG_ID, tmp_path / "cfg")

    assert section(config_lines(text), "listen stats") == [
        f"bind {EDGE_ADDRESS}:8404", "mode http", "monitor-uri /healthz",
    ]


@pytest.mark.parametrize(
    ("haproxy", "site", "secrets", "message"),
    [
        ({"services": {"web": {"port": 8080, "mode": "udp"}}}, {}, True,
         "pillar haproxy:services:web:mode is 'udp': set it to http or tcp"),
        ({"services": {"web": {"port": 70000}}}, {}, True,
         "pillar haproxy:services:web:port is 70000"),
        ({"services": {"web": {"port": 8404}}}, {}, True,
         "pillar haproxy:services:web:port is 8404, as is haproxy:stats:port"),
        ({"services": {"stats": {"port": 8080}}}, {}, True,
         "pillar haproxy:services:stats: 'stats' is not a Consul service name"),
        ({"services": {"web": {"port": 8080, "slots": 0}}}, {}, True,
         "pillar haproxy:services:web:slots is 0"),
        ({"services": SERVICES}, {"security": {"open": True}}, False,
         "pillar secrets:haproxy:stats:user or :password is missing: make the site's secrets "
         "with `scripts/secrets init pillar`"),
    ],
    ids=["mode", "port", "port-clash", "name", "slots", "no-stats-login"],
)
def test_a_bad_edge_plan_fails_the_render_naming_the_key(
    edge_host, haproxy, site, secrets, message
):
    output = render_error(edge_host(haproxy, site=site, secrets=secrets), "haproxy")

    assert message in output


def test_clean_in_test_mode_resolves_every_requisite(edge_host):
    results = edge_host().salt_call("state.sls", "haproxy.clean", "test=True")

    assert isinstance(results, dict) and results, results
    assert all(result["result"] is not False for result in results.values()), results
    assert {result["__id__"] for result in results.values()} >= {
        "haproxy-consul-clean-file-absent",
        "haproxy-service-clean-service-dead",
        "haproxy-config-clean-file-absent",
        "haproxy-install-clean-pkg-purged",
    }


def test_pillar_example_documents_every_default_key():
    defaults = yaml.safe_load((REPO / "salt" / "haproxy" / "defaults.yaml").read_text())
    example = yaml.safe_load((REPO / "salt" / "haproxy" / "pillar.example").read_text())

    assert key_paths(defaults) <= key_paths(example["haproxy"])

