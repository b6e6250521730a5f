"""The platform's Consul client (``_utils/consul_agent.py``), loaded by Salt, against real agents
with ACLs (default deny) and with TLS: the token given, else the configured one, else the site's
Salt token from pillar (but not while the site's tokens are being made, nor on an open site) is
the one sent on every request, whatever CONSUL_HTTP_TOKEN holds, and an HTTPS agent is verified
against the configured CA.
"""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import salt._logging
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.functional.conftest import (
    CONSUL_BINARY,
    MANAGEMENT_TOKEN,
    ConsulAgent,
    _require_consul_binary,
    _running_consul_agent,
    salt_with,
)

LOCK = "platform/locks/dc1/zookeeper"
# A token Consul does not know: a request that carries it is refused ("ACL not found").
UNKNOWN_TOKEN = "6a1d3c9e-0000-4000-8000-00000000dead"


@pytest.fixture(autouse=True, scope="module")
def hand_over_salt_log_records() -> Iterator[None]:
    yield
    # Salt defers log records to a handler it flushes at exit, to a stderr pytest has closed
    # by then; hand them over now instead.
    salt._logging.shutdown_temp_handler()


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


def test_the_configured_token_is_sent_whatever_the_environment_holds(
    monkeypatch, minion_opts, tmp_path, acl_agent
):
    # py-consul 1.8.0 prefers this variable to the token its client is given.
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", "not-a-token")

    with salt_with(minion_opts, tmp_path, {"token": MANAGEMENT_TOKEN}) as salt_loaders:
        consul_cluster = salt_loaders.modules.consul_cluster
        rolling_restart = salt_loaders.modules.rolling_restart
        # py-consul sends agent.members bare; without a token Consul lists no member.
        members = consul_cluster.wan_members(url=acl_agent.url)
        # agent.self goes bare too; the KV and session calls carry py-consul's own token.
        kept_session = rolling_restart.stale_session(LOCK, "zookeeper", url=acl_agent.url)

    assert [member["name"] for member in members] == ["functional-dc1.dc1"]
    assert kept_session == ""


def test_a_token_only_in_the_environment_is_not_sent(monkeypatch, minion_opts, tmp_path, acl_agent):
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", MANAGEMENT_TOKEN)

    with salt_with(minion_opts, tmp_path, {}) as salt_loaders:
        members = salt_loaders.modules.consul_cluster.wan_members(url=acl_agent.url)
        with pytest.raises(CommandExecutionError, match="Permission denied"):
            salt_loaders.modules.rolling_restart.stale_session(LOCK, "zookeeper", url=acl_agent.url)

    assert members == []


def test_a_token_given_wins_over_the_configured_one(minion_opts, tmp_path, acl_agent):
    with salt_with(minion_opts, tmp_path, {"token": UNKNOWN_TOKEN}) as salt_loaders:
        # Utils see __salt__ once the execution modules are loaded, as on a minion.
        assert "consul_cluster.leader" in salt_loaders.modules
        client = salt_loaders.utils["consul_agent.client"](acl_agent.url, token=MANAGEMENT_TOKEN)
        # Consul answers with the record of the token the request carried.
        sent = client.acl.token.read_self()["SecretID"]

    assert sent == MANAGEMENT_TOKEN


def test_the_token_of_the_token_file_is_sent_by_default(minion_opts, tmp_path, acl_agent):
    # The management token stands for the Salt token: any token Consul knows would do.
    token_file = tmp_path / "salt-token"
    token_file.write_text(MANAGEMENT_TOKEN + "\n")

    with salt_with(minion_opts, tmp_path, {"token_file": str(token_file)}) as salt_loaders:
        members = salt_loaders.modules.consul_cluster.wan_members(url=acl_agent.url)

    assert [member["name"] for member in members] == ["functional-dc1.dc1"]


def test_no_token_is_sent_while_the_token_file_is_absent(minion_opts, tmp_path, acl_agent):
    # An open site, or the stage at which the tokens are being made: no file.
    settings = {"token_file": str(tmp_path / "absent")}

    with salt_with(minion_opts, tmp_path, settings) as salt_loaders:
        members = salt_loaders.modules.consul_cluster.wan_members(url=acl_agent.url)

    # Without a token, Consul (default deny) lists no member.
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
