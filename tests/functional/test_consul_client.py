"""The platform's Consul client (``_utils/consul_agent.py``), loaded by Salt, against real agents
with ACLs (default deny) and with TLS: the configured token is the one sent on every request,
whatever CONSUL_HTTP_TOKEN holds, and an HTTPS agent is verified against the configured CA.
"""

import copy
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import salt._logging
from salt.exceptions import CommandExecutionError, SaltInvocationError
from saltfactories.utils.functional import Loaders

from tests.functional.conftest import (
    CONSUL_BINARY,
    ConsulAgent,
    _require_consul_binary,
    _running_consul_agent,
)

MASTER_TOKEN = "0b7c1a3e-5f0d-4c55-9a57-0d1e2a3b4c5d"
LOCK = "platform/locks/dc1/zookeeper"


@pytest.fixture(autouse=True, scope="module")
def hand_over_salt_log_records() -> Iterator[None]:
    yield
    # Salt defers log records to a handler it flushes at exit, to a stderr pytest has closed
    # by then; hand them over now instead.
    salt._logging.shutdown_temp_handler()


@pytest.fixture
def acl_agent(tmp_path: Path) -> Iterator[ConsulAgent]:
    """An agent that denies a request without a token everything but /v1/status/*."""
    acl = {"enabled": True, "default_policy": "deny", "tokens": {"master": MASTER_TOKEN}}
    yield from _running_consul_agent("dc1", tmp_path / "consul", {"acl": acl})


def _consul(directory: Path, *arguments: str) -> None:
    subprocess.run([str(CONSUL_BINARY), *arguments], cwd=directory, check=True, capture_output=True)


@pytest.fixture
def tls_agent(tmp_path: Path) -> Iterator[tuple[ConsulAgent, str, Path]]:
    """An agent that also serves HTTPS: the agent, its HTTPS URL and the CA that signed it."""
    _require_consul_binary()
    _consul(tmp_path, "tls", "ca", "create")
    # A server certificate names localhost and 127.0.0.1.
    _consul(tmp_path, "tls", "cert", "create", "-server", "-dc", "dc1")
    ca_file = tmp_path / "consul-agent-ca.pem"
    tls = {
        "ca_file": str(ca_file),
        "cert_file": str(tmp_path / "dc1-server-consul-0.pem"),
        "key_file": str(tmp_path / "dc1-server-consul-0-key.pem"),
        "verify_incoming": False,
    }
    for agent in _running_consul_agent("dc1", tmp_path / "consul", tls, https=True):
        yield agent, agent.https_url, ca_file


@contextmanager
def salt_with(
    minion_opts: dict[str, Any], directory: Path, settings: dict[str, str]
) -> Iterator[Loaders]:
    """Salt's loaders with ``consul_cluster`` settings in the minion config."""
    opts = copy.deepcopy(minion_opts)
    opts["consul_cluster"] = settings
    opts["cachedir"] = str(directory / "cache")
    loaders = Loaders(opts)
    try:
        yield loaders
    finally:
        loaders.reset_state()


def test_the_configured_token_is_sent_whatever_the_environment_holds(
    monkeypatch, minion_opts, tmp_path, acl_agent
):
    # py-consul 1.8.0 prefers this variable to the token its client is given.
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", "not-a-token")

    with salt_with(minion_opts, tmp_path, {"token": MASTER_TOKEN}) as salt_loaders:
        consul_cluster = salt_loaders.modules.consul_cluster
        rolling_restart = salt_loaders.modules.rolling_restart
        # py-consul sends agent.members bare; without a token Consul lists no member.
        members = consul_cluster.wan_members(url=acl_agent.url)
        # agent.self goes bare too; the KV and session calls carry py-consul's own token.
        kept_session = rolling_restart.stale_session(LOCK, "zookeeper", url=acl_agent.url)

    assert [member["name"] for member in members] == ["functional-dc1.dc1"]
    assert kept_session == ""


def test_a_token_only_in_the_environment_is_not_sent(monkeypatch, minion_opts, tmp_path, acl_agent):
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", MASTER_TOKEN)

    with salt_with(minion_opts, tmp_path, {}) as salt_loaders:
        members = salt_loaders.modules.consul_cluster.wan_members(url=acl_agent.url)
        with pytest.raises(CommandExecutionError, match="Permission denied"):
            salt_loaders.modules.rolling_restart.stale_session(LOCK, "zookeeper", url=acl_agent.url)

    assert members == []


def test_an_https_agent_is_verified_against_the_configured_ca(minion_opts, tmp_path, tls_agent):
    agent, https_url, ca_file = tls_agent

    with salt_with(minion_opts, tmp_path, {"ca_file": str(ca_file)}) as salt_loaders:
        leader = salt_loaders.modules.consul_cluster.leader(url=https_url)

    assert leader == agent.server_address


def test_an_https_agent_signed_by_an_unknown_ca_is_refused(minion_opts, tmp_path, tls_agent):
    _, https_url, _ = tls_agent

    with salt_with(minion_opts, tmp_path, {}) as salt_loaders:
        with pytest.raises(CommandExecutionError, match="CERTIFICATE_VERIFY_FAILED"):
            salt_loaders.modules.consul_cluster.leader(url=https_url)


def test_a_missing_ca_file_fails_naming_the_setting(minion_opts, tmp_path):
    missing = str(tmp_path / "missing-ca.pem")

    with salt_with(minion_opts, tmp_path, {"ca_file": missing}) as salt_loaders:
        with pytest.raises(SaltInvocationError, match="consul_cluster:ca_file"):
            salt_loaders.modules.consul_cluster.leader(url="https://127.0.0.1:8501")
