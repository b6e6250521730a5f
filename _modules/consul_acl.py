"""
Consul's ACL policies and tokens, made through the local agent's HTTP API.

The agent is the one at the ``url`` argument, else ``consul_cluster:url`` (default
``http://127.0.0.1:8500``), reached through the platform's client (``consul_agent.client``)
with the management token, whose SecretID is read from pillar: ``token_pillar`` names its key
(default ``secrets:consul:acl:management:secret_id``). A token's own SecretID is named the
same way, by its pillar key (``secret_id_pillar``), and read here: no SecretID is ever an
argument, a return value, an error message or a log line. An agent's own token is derived
from the seed at ``secrets:consul:acl:agent_seed`` and its node name (``agent_token_*``).

py-consul 1.8.0's ACL calls are not used: its policy calls encode the rules as JSON once more
(HCL reaches Consul as a quoted string), it cannot read a policy by name, and its token and
policy calls leave out an empty description. Every call here is a plain GET or PUT through
the client's HTTP layer instead, with the client's session, token, CA and timeouts.

Consul 1.8 answers ``403 ACL not found`` both for a policy or token that does not exist and
for a request whose token it does not know; a read that gets this answer asks for the
management token's own record to tell which.
"""

import hashlib
import hmac
import json
import logging
import time
import uuid
from typing import Any

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    import consul
    import requests
    from consul.callback import CB

    HAS_CONSUL = True
except ImportError:
    HAS_CONSUL = False

log = logging.getLogger(__name__)

__virtualname__ = "consul_acl"

MANAGEMENT_PILLAR = "secrets:consul:acl:management:secret_id"
# The seed of every agent's own token: each host's AccessorID and SecretID are derived from it
# and the node's name (agent_token_present).
AGENT_SEED_PILLAR = "secrets:consul:acl:agent_seed"
AGENT_ACCESSOR = "consul-agent-accessor"
AGENT_SECRET = "consul-agent-secret"
# Consul 1.8's answer (403) for an unknown policy, token or request token.
ACL_NOT_FOUND = "ACL not found"
# Consul's answer while the agent runs without ACLs: nothing to wait for.
ACLS_OFF = "ACL support disabled"
# Seconds an agent's 500 is tried again, and between two tries.
TRANSIENT_WAIT = 60
TRANSIENT_INTERVAL = 2
# What an update keeps of a token besides its description and policies (the platform sets
# none of these, an operator may have).
KEPT_ON_UPDATE = ("Roles", "ServiceIdentities", "NodeIdentities")


def __virtual__():
    if not HAS_CONSUL:
        return (False, "py-consul is not installed")
    if "consul_agent.client" not in __utils__:
        return (False, "the consul_agent util (_utils/consul_agent.py) is not loaded")
    return __virtualname__


def _secret(pillar_key: str) -> str:
    """The secret at ``pillar_key``, which goes nowhere but into a request's header or body.
    Read with config.get: Salt 3008's pillar.get gives "**********" outside a render."""
    value = __salt__["config.get"](pillar_key)
    if not value or not isinstance(value, str):
        raise SaltInvocationError(
            f"pillar {pillar_key} holds no secret: make the site's secrets with "
            "`scripts/secrets init pillar` and give pillar `secrets` to this host"
        )
    return value


def _client(url: str | None, token_pillar: str) -> "consul.Consul":
    return __utils__["consul_agent.client"](url, token=_secret(token_pillar))


def _send(
    client: "consul.Consul",
    action: str,
    path: str,
    body: dict[str, Any] | None = None,
    missing_ok: bool = False,
) -> Any:
    """GET ``path``, or PUT ``body`` to it. With ``missing_ok``, None when Consul answers
    "ACL not found" (or 404). An agent's 500 or a lost connection (a server restarting in the
    same highstate, the leader last) is tried again for TRANSIENT_WAIT seconds; a refusal is
    not. Raises CommandExecutionError naming the agent and ``action``."""
    deadline = time.monotonic() + TRANSIENT_WAIT
    while True:
        try:
            if body is None:
                return client.http.get(CB.json(allow_404=missing_ok), path)
            return client.http.put(CB.json(), path, data=json.dumps(body))
        except consul.ACLPermissionDenied as err:
            if missing_ok and str(err) == ACL_NOT_FOUND:
                return None
            failure = err
            break
        except (consul.ConsulException, requests.RequestException) as err:
            failure = err
            if ACLS_OFF in str(err) or time.monotonic() + TRANSIENT_INTERVAL > deadline:
                break
            log.warning("Consul agent at %s: %s: %s; trying again", client.http.base_uri,
                        action, err)
            time.sleep(TRANSIENT_INTERVAL)
    raise CommandExecutionError(
        f"Consul agent at {client.http.base_uri}: {action} failed: {failure}"
    ) from failure


def _read(client: "consul.Consul", what: str, path: str, token_pillar: str) -> Any:
    """The record at ``path``, None if Consul has none."""
    found = _send(client, f"reading {what}", path, missing_ok=True)
    if found is None:
        # Or is it the management token that Consul does not know?
        _send(
            client, f"checking the management token of pillar {token_pillar}", "/v1/acl/token/self"
        )
    return found


def _changes(current: dict[str, Any] | None, wanted: dict[str, Any]) -> dict[str, Any]:
    """``{"old": ..., "new": ...}``: the fields of ``wanted`` that ``current`` holds otherwise
    (``old`` is None when there is no ``current``: all of ``wanted`` is new); {} if none."""
    if current is None:
        return {"old": None, "new": wanted}
    differing = [field for field, value in wanted.items() if current.get(field) != value]
    if not differing:
        return {}
    return {
        "old": {field: current.get(field) for field in differing},
        "new": {field: wanted[field] for field in differing},
    }


def _policy(client: "consul.Consul", name: str, token_pillar: str) -> dict[str, Any] | None:
    return _read(client, f"ACL policy {name}", f"/v1/acl/policy/name/{name}", token_pillar)


def policy(
    name: str, url: str | None = None, token_pillar: str = MANAGEMENT_PILLAR
) -> dict[str, Any] | None:
    """
    The ACL policy ``name`` as Consul keeps it (ID, Name, Description, Rules...), None if
    there is none.

    CLI Example:

    .. code-block:: bash

        salt-call consul_acl.policy platform-dns
    """
    return _policy(_client(url, token_pillar), name, token_pillar)


def _policy_wanted(name: str, rules: str, description: str) -> dict[str, str]:
    if not isinstance(rules, str):
        raise SaltInvocationError(
            f"rules of ACL policy {name} must be text in Consul's rules language, not {rules!r}"
        )
    return {"Name": name, "Description": description, "Rules": rules}


def policy_changes(
    name: str,
    rules: str,
    description: str = "",
    url: str | None = None,
    token_pillar: str = MANAGEMENT_PILLAR,
) -> dict[str, Any]:
    """
    What ``policy_present`` would change (see ``_changes``), changing nothing.

    CLI Example:

    .. code-block:: bash

        salt-call consul_acl.policy_changes platform-dns 'node_prefix "" { policy = "read" }'
    """
    wanted = _policy_wanted(name, rules, description)
    return _changes(policy(name, url, token_pillar), wanted)


def policy_present(
    name: str,
    rules: str,
    description: str = "",
    url: str | None = None,
    token_pillar: str = MANAGEMENT_PILLAR,
) -> dict[str, Any]:
    """
    Create the ACL policy ``name``, or update it, so that its rules (text in Consul's rules
    language, compared as text) and description are these. Returns what changed:
    ``{"old": ..., "new": ...}`` with the fields that differed (``old`` None for a new
    policy), {} when nothing did.

    CLI Example:

    .. code-block:: bash

        salt-call consul_acl.policy_present platform-dns 'node_prefix "" { policy = "read" }'
    """
    wanted = _policy_wanted(name, rules, description)
    client = _client(url, token_pillar)
    current = _policy(client, name, token_pillar)
    changes = _changes(current, wanted)
    if not changes:
        return {}
    if current is None:
        _send(client, f"creating ACL policy {name}", "/v1/acl/policy", wanted)
        log.info("Created the Consul ACL policy %s", name)
    else:
        path = f"/v1/acl/policy/{current['ID']}"
        _send(client, f"updating ACL policy {name}", path, {"ID": current["ID"], **wanted})
        log.info("Updated %s of the Consul ACL policy %s", ", ".join(changes["new"]), name)
    return changes


def _token(client: "consul.Consul", accessor_id: str, token_pillar: str) -> dict[str, Any] | None:
    """The token's record, SecretID included: for this module's eyes only."""
    try:
        uuid.UUID(accessor_id)
    except (TypeError, ValueError) as err:
        raise SaltInvocationError(f"accessor_id {accessor_id!r} is not a UUID") from err
    path = f"/v1/acl/token/{accessor_id}"
    return _read(client, f"ACL token {accessor_id}", path, token_pillar)


def _without_secret(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {field: value for field, value in record.items() if field != "SecretID"}


def token(
    accessor_id: str, url: str | None = None, token_pillar: str = MANAGEMENT_PILLAR
) -> dict[str, Any] | None:
    """
    The ACL token ``accessor_id`` as Consul keeps it (AccessorID, Description, Policies,
    Local...) but its SecretID, None if there is none.

    CLI Example:

    .. code-block:: bash

        salt-call consul_acl.token 00000000-0000-0000-0000-000000000002
    """
    return _without_secret(_token(_client(url, token_pillar), accessor_id, token_pillar))


def _token_state(
    client: "consul.Consul",
    accessor_id: str,
    wanted: dict[str, Any],
    secret: tuple[str, str] | None,
    token_pillar: str,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The token's record and ``_changes`` toward ``wanted``; raises CommandExecutionError
    when only deleting the token and making it again can get there. ``secret``: the SecretID
    it must have and where that comes from (for errors), or None."""
    current = _token(client, accessor_id, token_pillar)
    if current is None:
        if secret is None:
            raise CommandExecutionError(
                f"ACL token {accessor_id} does not exist, and without secret_id_pillar there is "
                "no SecretID to make it with"
            )
        return None, _changes(None, wanted)
    remake = f"delete it (consul acl token delete -id {accessor_id}) and apply again"
    if secret is not None and current.get("SecretID") != secret[0]:
        raise CommandExecutionError(
            f"ACL token {accessor_id} exists with another SecretID than {secret[1]}: {remake} "
            "to make it with that one"
        )
    if current.get("Local", False) != wanted["Local"]:
        raise CommandExecutionError(
            f"ACL token {accessor_id} has Local {current.get('Local', False)}, which Consul "
            f"cannot change: {remake} to make it with Local {wanted['Local']}"
        )
    view = {
        **current,
        "Policies": sorted(link["Name"] for link in current.get("Policies") or []),
        "NodeIdentities": current.get("NodeIdentities") or [],
    }
    return current, _changes(view, wanted)


def _token_wanted(
    description: str, policies: list[str], local: bool, node_identities: list | None = None
) -> dict[str, Any]:
    if not isinstance(policies, list) or not all(isinstance(name, str) for name in policies):
        raise SaltInvocationError(f"policies must be a list of policy names, not {policies!r}")
    wanted = {"Description": description, "Policies": sorted(set(policies)), "Local": bool(local)}
    if node_identities is not None:
        wanted["NodeIdentities"] = node_identities
    return wanted


def _pillar_secret(secret_id_pillar: str | None) -> tuple[str, str] | None:
    if secret_id_pillar is None:
        return None
    return _secret(secret_id_pillar), f"pillar {secret_id_pillar}"


def _put_token(
    client: "consul.Consul",
    accessor_id: str,
    wanted: dict[str, Any],
    secret: tuple[str, str] | None,
    token_pillar: str,
) -> dict[str, Any]:
    """Create or update the token toward ``wanted``; what changed, without any SecretID."""
    current, changes = _token_state(client, accessor_id, wanted, secret, token_pillar)
    if not changes:
        return {}
    body = {
        **{field: current[field] for field in KEPT_ON_UPDATE if current and field in current},
        **wanted,
        "AccessorID": accessor_id,
        "Policies": [{"Name": name} for name in wanted["Policies"]],
    }
    if current is None:
        body["SecretID"] = secret[0]
        _send(client, f"creating ACL token {accessor_id}", "/v1/acl/token", body)
        log.info("Created the Consul ACL token %s (%s)", accessor_id, wanted["Description"])
    else:
        path = f"/v1/acl/token/{accessor_id}"
        _send(client, f"updating ACL token {accessor_id}", path, body)
        log.info("Updated %s of the Consul ACL token %s", ", ".join(changes["new"]), accessor_id)
    return changes


def token_changes(
    accessor_id: str,
    description: str,
    policies: list[str],
    secret_id_pillar: str | None = None,
    local: bool = False,
    url: str | None = None,
    token_pillar: str = MANAGEMENT_PILLAR,
) -> dict[str, Any]:
    """
    What ``token_present`` would change (see ``_changes``; no SecretID), changing nothing.
    Raises CommandExecutionError as ``token_present`` does.

    CLI Example:

    .. code-block:: bash

        salt-call consul_acl.token_changes 00000000-0000-0000-0000-000000000002 \\
            'Anonymous Token' '[platform-dns]'
    """
    wanted = _token_wanted(description, policies, local)
    client = _client(url, token_pillar)
    secret = _pillar_secret(secret_id_pillar)
    return _token_state(client, accessor_id, wanted, secret, token_pillar)[1]


def token_present(
    accessor_id: str,
    description: str,
    policies: list[str],
    secret_id_pillar: str | None = None,
    local: bool = False,
    url: str | None = None,
    token_pillar: str = MANAGEMENT_PILLAR,
) -> dict[str, Any]:
    """
    Make the ACL token ``accessor_id`` hold ``description`` and exactly the policies named
    ``policies``; returns what changed as ``policy_present`` does, without any SecretID.

    A token that does not exist is created with this AccessorID, the SecretID at pillar key
    ``secret_id_pillar`` and ``local`` (a token of this datacenter only). A token that exists
    keeps its SecretID and its roles and identities; one whose SecretID is not the pillar's,
    or whose Local is not ``local``, is an error that asks to delete it so that it is made
    again. Without ``secret_id_pillar`` the token must exist already: the anonymous token
    ``00000000-0000-0000-0000-000000000002``, say. The description is always set: give
    ``Anonymous Token`` to keep Consul's own for the anonymous token.

    CLI Example:

    .. code-block:: bash

        salt-call consul_acl.token_present 2f2c5cbb-98c2-4b7e-8a3b-0a4b6e4a1d10 \\
            'platform salt' '[platform-salt]' \\
            secret_id_pillar=secrets:consul:acl:tokens:salt:secret_id
    """
    wanted = _token_wanted(description, policies, local)
    client = _client(url, token_pillar)
    return _put_token(client, accessor_id, wanted, _pillar_secret(secret_id_pillar), token_pillar)


def _derived_id(seed: str, purpose: str, node: str) -> str:
    """A UUID made from HMAC-SHA256(seed, "<purpose>:<node>"): its first 32 hex digits in
    Consul's 8-4-4-4-12 form. The consul formula's acl-tokens.json.jinja derives the agent's
    SecretID the same way on the host (hashutil.hmac_compute)."""
    digest = hmac.new(seed.encode(), f"{purpose}:{node}".encode(), hashlib.sha256).hexdigest()
    return str(uuid.UUID(digest[:32]))


def _agent_ids(node: str, seed_pillar: str) -> tuple[str, tuple[str, str]]:
    if not node or not isinstance(node, str):
        raise SaltInvocationError(f"node must be a Consul node name, not {node!r}")
    seed = _secret(seed_pillar)
    accessor_id = _derived_id(seed, AGENT_ACCESSOR, node)
    return accessor_id, (_derived_id(seed, AGENT_SECRET, node), f"the seed of pillar {seed_pillar}")


def _agent_wanted(node: str, datacenter: str) -> dict[str, Any]:
    if not datacenter or not isinstance(datacenter, str):
        raise SaltInvocationError(f"datacenter must be a datacenter name, not {datacenter!r}")
    identity = [{"NodeName": node, "Datacenter": datacenter}]
    return _token_wanted(f"platform agent {node}", [], False, identity)


def agent_token_accessor_id(node: str, seed_pillar: str = AGENT_SEED_PILLAR) -> str:
    """
    The AccessorID of ``node``'s agent token (not a secret), derived from the seed at pillar
    key ``seed_pillar``.

    CLI Example:

    .. code-block:: bash

        salt-call consul_acl.agent_token_accessor_id dc1-compute-1
    """
    return _agent_ids(node, seed_pillar)[0]


def agent_token_changes(
    node: str,
    datacenter: str,
    seed_pillar: str = AGENT_SEED_PILLAR,
    url: str | None = None,
    token_pillar: str = MANAGEMENT_PILLAR,
) -> dict[str, Any]:
    """
    What ``agent_token_present`` would change, changing nothing.

    CLI Example:

    .. code-block:: bash

        salt-call consul_acl.agent_token_changes dc1-compute-1 dc1
    """
    accessor_id, secret = _agent_ids(node, seed_pillar)
    client = _client(url, token_pillar)
    return _token_state(client, accessor_id, _agent_wanted(node, datacenter), secret,
                        token_pillar)[1]


def agent_token_present(
    node: str,
    datacenter: str,
    seed_pillar: str = AGENT_SEED_PILLAR,
    url: str | None = None,
    token_pillar: str = MANAGEMENT_PILLAR,
) -> dict[str, Any]:
    """
    Make the agent token of ``node``: Consul's node identity for that node in
    ``datacenter`` (it may write that node and its checks, and read services), no policy.
    Its AccessorID and SecretID are derived from the seed at pillar key ``seed_pillar`` and
    the node's name, so that the host finds its own token without a secret per host. Returns
    what changed, without any SecretID.

    CLI Example:

    .. code-block:: bash

        salt-call consul_acl.agent_token_present dc1-compute-1 dc1
    """
    accessor_id, secret = _agent_ids(node, seed_pillar)
    client = _client(url, token_pillar)
    return _put_token(client, accessor_id, _agent_wanted(node, datacenter), secret, token_pillar)


def _usable(
    secret: str, what: str, timeout: float, interval: float, url: str | None
) -> dict[str, Any]:
    if interval <= 0 or timeout < 0:
        raise SaltInvocationError(
            f"interval must be positive and timeout not negative, not {interval} and {timeout}"
        )
    attempts = int(timeout // interval) + 1
    deadline = time.monotonic() + timeout
    for attempt in range(1, attempts + 1):
        time_left = deadline - time.monotonic()
        client = __utils__["consul_agent.client"](url, time_left=time_left, token=secret)
        try:
            # The local agent resolves the token itself for its own endpoints (a client just
            # restarted into ACLs asks the servers in their older way for a while, and is
            # told "ACL not found"); any known token may list the checks, filtered.
            _send(client, f"using {what}", "/v1/agent/checks")
            record = _send(client, f"reading {what}", "/v1/acl/token/self")
            return _without_secret(record)
        except CommandExecutionError as err:
            error = err
        if attempt == attempts or time.monotonic() + interval > deadline:
            break
        time.sleep(interval)
    raise CommandExecutionError(
        f"{what} is not usable after {attempt} tries in {timeout}s: {error}"
    ) from error


def token_usable(
    secret_id_pillar: str, timeout: float = 300, interval: float = 2, url: str | None = None
) -> dict[str, Any]:
    """
    Wait until Consul knows the token whose SecretID is at pillar key ``secret_id_pillar``
    (``GET /v1/agent/checks``, which the local agent resolves, and ``/v1/acl/token/self``
    answer with it): for a host that must not use its token
    before the control node that makes tokens has made it. Asks every ``interval`` seconds,
    at most ``timeout`` seconds and ``timeout / interval + 1`` times; returns the token's
    record without its SecretID, or raises CommandExecutionError with Consul's last answer.

    CLI Example:

    .. code-block:: bash

        salt-call consul_acl.token_usable secrets:consul:acl:tokens:salt:secret_id timeout=60
    """
    return _usable(_secret(secret_id_pillar), f"the token of pillar {secret_id_pillar}",
                   timeout, interval, url)


def agent_token_usable(
    node: str,
    seed_pillar: str = AGENT_SEED_PILLAR,
    timeout: float = 300,
    interval: float = 2,
    url: str | None = None,
) -> dict[str, Any]:
    """
    Wait until Consul knows ``node``'s agent token (``agent_token_present``), as
    ``token_usable`` does.

    CLI Example:

    .. code-block:: bash

        salt-call consul_acl.agent_token_usable dc1-compute-1 timeout=60
    """
    _, secret = _agent_ids(node, seed_pillar)
    return _usable(secret[0], f"the agent token of {node}", timeout, interval, url)
