"""Consul's ACL policies and tokens (``_modules/consul_acl.py``, ``_states/consul_acl.py``)
against a real agent with ACLs on (default deny): every state once with test=True (nothing
changes) and for real, then again (nothing left to change); tokens made with the SecretID of
pillar and usable; the errors an operator must act on; and no SecretID in any return value or
comment.
"""

import json
import urllib.request
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import pytest
import salt._logging
from salt.exceptions import CommandExecutionError
from saltfactories.utils.functional import Loaders

from tests.functional.conftest import MANAGEMENT_TOKEN, ConsulAgent, salt_with
from tests.functional.harness import REPO

ANONYMOUS = "00000000-0000-0000-0000-000000000002"
SALT_ACCESSOR = "2f2c5cbb-98c2-4b7e-8a3b-0a4b6e4a1d10"
SALT_SECRET = "9d0e4b1c-3f6a-4e2b-8c7d-5a1b2c3d4e5f"
# A token whose pillar SecretID Consul never gets: nobody makes it.
UNMADE_SECRET = "7c3b2a19-0d8e-4f6a-9b5c-4e3d2c1b0a98"
# The seed of the agents' own tokens.
AGENT_SEED = "3b9f0c2d7e614a58b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8"
SECRETS = (MANAGEMENT_TOKEN, SALT_SECRET, UNMADE_SECRET, AGENT_SEED)
ACL_TOKENS_TEMPLATE = REPO / "salt" / "consul" / "files" / "acl-tokens.json.jinja"
PILLAR = {
    "secrets": {
        "consul": {
            "acl": {
                "management": {"secret_id": MANAGEMENT_TOKEN},
                "agent_seed": AGENT_SEED,
                "tokens": {
                    "salt": {"accessor_id": SALT_ACCESSOR, "secret_id": SALT_SECRET},
                    "unmade": {"secret_id": UNMADE_SECRET},
                },
            }
        }
    }
}
SALT_PILLAR = "secrets:consul:acl:tokens:salt:secret_id"
UNMADE_PILLAR = "secrets:consul:acl:tokens:unmade:secret_id"
DNS_RULES = 'node_prefix "" { policy = "read" }\nservice_prefix "" { policy = "read" }\n'
LOCKS_RULES = 'key_prefix "platform/locks/" { policy = "write" }\n'


@pytest.fixture(autouse=True, scope="module")
def hand_over_salt_log_records() -> Iterator[None]:
    yield
    # Salt defers log records to a handler it flushes at exit, to a stderr pytest has closed
    # by then; hand them over now instead.
    salt._logging.shutdown_temp_handler()


@pytest.fixture
def acl_salt(minion_opts, tmp_path, acl_agent) -> Iterator[Loaders]:
    """Salt's loaders talking to ``acl_agent``, with the site's ACL secrets in pillar."""
    with salt_with(minion_opts, tmp_path, {"url": acl_agent.url}, PILLAR) as salt_loaders:
        yield salt_loaders


def assert_no_secret(*returns: Any) -> None:
    shown = json.dumps([getattr(ret, "raw", ret) for ret in returns], default=str)
    for secret in SECRETS:
        assert secret not in shown


def make_token(agent: ConsulAgent, accessor_id: str, secret_id: str) -> None:
    """A token made behind Salt's back."""
    body = json.dumps({"AccessorID": accessor_id, "SecretID": secret_id}).encode()
    request = urllib.request.Request(
        f"{agent.url}/v1/acl/token",
        data=body,
        method="PUT",
        headers={"X-Consul-Token": MANAGEMENT_TOKEN},
    )
    urllib.request.urlopen(request, timeout=5).close()


def test_a_dry_run_reports_the_policy_and_makes_nothing(acl_salt):
    ret = acl_salt.states.consul_acl.policy_present(
        name="platform-dns", rules=DNS_RULES, description="DNS", test=True
    )

    assert ret.result is None
    assert ret.changes == {
        "old": None,
        "new": {"Name": "platform-dns", "Description": "DNS", "Rules": DNS_RULES},
    }
    assert acl_salt.modules.consul_acl.policy("platform-dns") is None


def test_a_policy_is_created_then_left_alone(acl_salt):
    states = acl_salt.states.consul_acl

    first = states.policy_present(name="platform-dns", rules=DNS_RULES, description="DNS")
    second = states.policy_present(name="platform-dns", rules=DNS_RULES, description="DNS")

    assert first.result is True
    assert first.changes["old"] is None
    assert "Created ACL policy platform-dns" in first.comment
    assert (second.result, second.changes) == (True, {})
    made = acl_salt.modules.consul_acl.policy("platform-dns")
    assert (made["Rules"], made["Description"]) == (DNS_RULES, "DNS")


def test_a_changed_policy_is_reported_in_a_dry_run_and_updated_for_real(acl_salt):
    states = acl_salt.states.consul_acl
    states.policy_present(name="platform-salt", rules=DNS_RULES)

    dry = states.policy_present(name="platform-salt", rules=LOCKS_RULES, test=True)
    unchanged = acl_salt.modules.consul_acl.policy("platform-salt")
    real = states.policy_present(name="platform-salt", rules=LOCKS_RULES)

    changes = {"old": {"Rules": DNS_RULES}, "new": {"Rules": LOCKS_RULES}}
    assert (dry.result, dry.changes) == (None, changes)
    assert unchanged["Rules"] == DNS_RULES
    assert (real.result, real.changes) == (True, changes)
    assert acl_salt.modules.consul_acl.policy("platform-salt")["Rules"] == LOCKS_RULES


def test_a_token_is_made_with_the_pillar_secret_and_is_usable(acl_salt, acl_agent):
    states = acl_salt.states.consul_acl
    states.policy_present(name="platform-salt", rules=LOCKS_RULES)
    token = {"accessor_id": SALT_ACCESSOR, "secret_id_pillar": SALT_PILLAR}

    dry = states.token_present(name="platform salt", policies=["platform-salt"], test=True, **token)
    absent = acl_salt.modules.consul_acl.token(SALT_ACCESSOR)
    made = states.token_present(name="platform salt", policies=["platform-salt"], **token)
    again = states.token_present(name="platform salt", policies=["platform-salt"], **token)
    usable = states.token_usable(name="salt", secret_id_pillar=SALT_PILLAR, timeout=5)

    new = {"Description": "platform salt", "Policies": ["platform-salt"], "Local": False}
    assert (dry.result, dry.changes) == (None, {"old": None, "new": new})
    assert absent is None
    assert (made.result, made.changes) == (True, {"old": None, "new": new})
    assert (again.result, again.changes) == (True, {})
    assert usable.result is True
    assert SALT_ACCESSOR in usable.comment
    # Consul knows the token by the pillar's SecretID.
    assert acl_agent.get("/v1/acl/token/self", SALT_SECRET)["AccessorID"] == SALT_ACCESSOR
    assert "SecretID" not in acl_salt.modules.consul_acl.token(SALT_ACCESSOR)
    assert_no_secret(dry, made, again, usable)


def agent_secret_written_on_the_host(acl_salt, node: str) -> str:
    """The agent token of ``node`` as the consul formula's acl-tokens.json template writes it
    on the host, from the seed in pillar."""
    text = acl_salt.modules.file.apply_template_on_contents(
        Path(ACL_TOKENS_TEMPLATE).read_text(),
        template="jinja",
        context={"config": {"tokens": {}, "agent_node": node}},
        defaults=None,
        saltenv="base",
    )
    return json.loads(text)["acl"]["tokens"]["agent"]


def test_an_agents_own_token_is_its_node_identity_with_the_secret_the_host_derives(
    acl_salt, acl_agent
):
    states = acl_salt.states.consul_acl
    node, datacenter = "dc1-compute-1", acl_agent.datacenter

    dry = states.agent_token_present(name=node, datacenter=datacenter, test=True)
    made = states.agent_token_present(name=node, datacenter=datacenter)
    again = states.agent_token_present(name=node, datacenter=datacenter)
    usable = states.agent_token_usable(name=node, timeout=5)
    secret = agent_secret_written_on_the_host(acl_salt, node)
    accessor_id = acl_salt.modules.consul_acl.agent_token_accessor_id(node)

    new = {
        "Description": f"platform agent {node}",
        "Policies": [],
        "Local": False,
        "NodeIdentities": [{"NodeName": node, "Datacenter": datacenter}],
    }
    assert (dry.result, dry.changes) == (None, {"old": None, "new": new})
    assert (made.result, made.changes) == (True, {"old": None, "new": new})
    assert (again.result, again.changes) == (True, {})
    assert usable.result is True and accessor_id in usable.comment
    # The host's file holds the SecretID Consul made the token with.
    assert acl_agent.get("/v1/acl/token/self", secret)["AccessorID"] == accessor_id
    # Another node's token is another, and none of them is the seed's.
    assert acl_salt.modules.consul_acl.agent_token_accessor_id("dc1-compute-2") != accessor_id
    assert secret != agent_secret_written_on_the_host(acl_salt, "dc1-compute-2")
    assert_no_secret(dry, made, again, usable)
    assert secret not in json.dumps([dry.raw, made.raw, again.raw, usable.raw], default=str)


def test_the_policies_of_an_existing_token_are_updated(acl_salt, acl_agent):
    states = acl_salt.states.consul_acl
    for policy in ("platform-salt", "platform-dns"):
        states.policy_present(name=policy, rules=DNS_RULES)
    token = {"accessor_id": SALT_ACCESSOR, "secret_id_pillar": SALT_PILLAR}
    states.token_present(name="platform salt", policies=["platform-salt"], **token)

    ret = states.token_present(
        name="platform salt", policies=["platform-salt", "platform-dns"], **token
    )

    assert ret.result is True
    assert ret.changes == {
        "old": {"Policies": ["platform-salt"]},
        "new": {"Policies": ["platform-dns", "platform-salt"]},
    }
    # Same token, same SecretID.
    assert acl_agent.get("/v1/acl/token/self", SALT_SECRET)["AccessorID"] == SALT_ACCESSOR
    assert_no_secret(ret)


def test_a_token_with_another_secret_fails_asking_to_delete_it(acl_salt, acl_agent):
    make_token(acl_agent, SALT_ACCESSOR, UNMADE_SECRET)
    token = {"accessor_id": SALT_ACCESSOR, "secret_id_pillar": SALT_PILLAR, "policies": []}

    dry = acl_salt.states.consul_acl.token_present(name="platform salt", test=True, **token)
    real = acl_salt.states.consul_acl.token_present(name="platform salt", **token)

    for ret in (dry, real):
        assert (ret.result, ret.changes) == (False, {})
        assert f"another SecretID than pillar {SALT_PILLAR}" in ret.comment
        assert f"consul acl token delete -id {SALT_ACCESSOR}" in ret.comment
    assert_no_secret(dry, real)


def test_the_anonymous_token_gets_the_dns_policy(acl_salt, acl_agent):
    states = acl_salt.states.consul_acl
    states.policy_present(name="platform-dns", rules=DNS_RULES)
    # Under default deny, a request without a token sees no node.
    assert acl_agent.get("/v1/catalog/nodes") == []

    ret = states.token_present(
        name="Anonymous Token", accessor_id=ANONYMOUS, policies=["platform-dns"]
    )
    again = states.token_present(
        name="Anonymous Token", accessor_id=ANONYMOUS, policies=["platform-dns"]
    )

    assert ret.result is True
    assert ret.changes == {"old": {"Policies": []}, "new": {"Policies": ["platform-dns"]}}
    assert (again.result, again.changes) == (True, {})
    assert [node["Node"] for node in acl_agent.get("/v1/catalog/nodes")] == ["functional-dc1"]


def test_a_token_that_does_not_exist_needs_its_secret(acl_salt):
    ret = acl_salt.states.consul_acl.token_present(
        name="platform salt", accessor_id=SALT_ACCESSOR, policies=[]
    )

    assert (ret.result, ret.changes) == (False, {})
    assert f"ACL token {SALT_ACCESSOR} does not exist" in ret.comment


def test_waiting_for_a_token_nobody_makes_times_out_saying_why(acl_salt):
    with pytest.raises(CommandExecutionError) as raised:
        acl_salt.modules.consul_acl.token_usable(UNMADE_PILLAR, timeout=1, interval=0.4)
    dry = acl_salt.states.consul_acl.token_usable(
        name="unmade", secret_id_pillar=UNMADE_PILLAR, test=True
    )
    ret = acl_salt.states.consul_acl.token_usable(
        name="unmade", secret_id_pillar=UNMADE_PILLAR, timeout=1
    )

    message = str(raised.value)
    assert f"the token of pillar {UNMADE_PILLAR} is not usable after 3 tries in 1s" in message
    assert message.endswith("ACL not found")
    assert (dry.result, dry.changes) == (None, {})
    assert (ret.result, ret.changes) == (False, {})
    assert "is not usable after 1 tries in 1s" in ret.comment
    assert_no_secret(message, dry, ret)


def test_a_known_token_is_usable_at_once(acl_salt):
    management = "secrets:consul:acl:management:secret_id"

    record = acl_salt.modules.consul_acl.token_usable(management, timeout=0)

    assert record["Policies"][0]["Name"] == "global-management"
    assert_no_secret(record)


def test_an_unknown_management_token_is_named_not_taken_for_a_missing_policy(acl_salt):
    unmade = "secrets:consul:acl:tokens:unmade:secret_id"

    with pytest.raises(CommandExecutionError) as raised:
        acl_salt.modules.consul_acl.policy("platform-dns", token_pillar=unmade)

    assert f"checking the management token of pillar {unmade} failed: ACL not found" in str(
        raised.value
    )
    assert_no_secret(str(raised.value))
