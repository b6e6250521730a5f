"""
Consul ACL states: policies, tokens, and waiting for a token to be usable.

Thin wrappers over the ``consul_acl`` execution module, which reads every SecretID from the
pillar key it is given: no state argument, comment or change holds one.
"""

from typing import Any

from salt.exceptions import CommandExecutionError, SaltException

__virtualname__ = "consul_acl"

# Consul's answer while the agent runs without ACLs: in a dry run of the stage that switches
# them on, the agent restarts into them only when the states run.
ACLS_OFF = "ACL support disabled"


def __virtual__():
    if "consul_acl.policy" in __salt__:
        return __virtualname__
    return (False, "the consul_acl execution module is not loaded (is py-consul installed?)")


def _salt(function: str, *args: Any, **kwargs: Any) -> Any:
    return __salt__[f"consul_acl.{function}"](*args, **kwargs)


def _present(name: str, kind: str, what: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Bring the policy or token (``kind``) ``what`` to ``arguments`` through
    ``consul_acl.<kind>_changes`` and ``consul_acl.<kind>_present``."""
    ret = {"name": name, "changes": {}, "result": True, "comment": f"{what} is as wanted"}
    try:
        changes = _salt(f"{kind}_changes", **arguments)
        if not changes:
            return ret
        verb = "create" if changes["old"] is None else "update"
        ret["changes"] = changes
        if __opts__["test"]:
            ret["result"] = None
            ret["comment"] = f"Would {verb} {what}"
            return ret
        ret["changes"] = _salt(f"{kind}_present", **arguments)
    except SaltException as err:
        if __opts__["test"] and ACLS_OFF in str(err):
            ret.update(result=None, comment=f"Would make {what} once the agent runs with ACLs")
            return ret
        ret.update(changes={}, result=False, comment=str(err))
        return ret
    if ret["changes"]:
        ret["comment"] = f"{verb.capitalize()}d {what}"
    return ret


def policy_present(name: str, rules: str, description: str = "") -> dict[str, Any]:
    """
    Make the ACL policy ``name`` hold ``rules`` (text in Consul's rules language) and
    ``description``.

    .. code-block:: yaml

        consul-acl-policy-present-platform-dns:
          consul_acl.policy_present:
            - name: platform-dns
            - description: What DNS answers (the anonymous token)
            - rules: |
                node_prefix "" { policy = "read" }
                service_prefix "" { policy = "read" }
    """
    arguments = {"name": name, "rules": rules, "description": description}
    return _present(name, "policy", f"ACL policy {name}", arguments)


def token_present(
    name: str,
    accessor_id: str,
    policies: list[str],
    secret_id_pillar: str | None = None,
    local: bool = False,
) -> dict[str, Any]:
    """
    Make the ACL token ``accessor_id`` exist with the description ``name`` and exactly the
    policies named ``policies``: created with the SecretID at pillar key ``secret_id_pillar``,
    or, without it, a token that exists already (the anonymous token: name it
    ``Anonymous Token`` to keep Consul's description). A token with another SecretID than the
    pillar's fails, asking to delete it (see ``consul_acl.token_present``).

    .. code-block:: yaml

        consul-acl-token-present-salt:
          consul_acl.token_present:
            - name: platform salt
            - accessor_id: 2f2c5cbb-98c2-4b7e-8a3b-0a4b6e4a1d10
            - secret_id_pillar: secrets:consul:acl:tokens:salt:secret_id
            - policies: [platform-salt]
    """
    arguments = {
        "accessor_id": accessor_id,
        "description": name,
        "policies": policies,
        "secret_id_pillar": secret_id_pillar,
        "local": local,
    }
    return _present(name, "token", f"ACL token {accessor_id} ({name})", arguments)


def agent_token_present(name: str, datacenter: str) -> dict[str, Any]:
    """
    Make the agent token of node ``name`` in ``datacenter``: its node identity, its
    AccessorID and SecretID derived from pillar secrets:consul:acl:agent_seed and the name
    (see ``consul_acl.agent_token_present``).

    .. code-block:: yaml

        consul-acl-agent-token-present-dc1-compute-1:
          consul_acl.agent_token_present:
            - name: dc1-compute-1
            - datacenter: dc1
    """
    arguments = {"node": name, "datacenter": datacenter}
    return _present(name, "agent_token", f"the agent token of {name}", arguments)


def _usable(name: str, function: str, arguments: dict[str, Any], what: str,
            timeout: float) -> dict[str, Any]:
    """Wait through ``consul_acl.<function>`` until ``what`` is usable; a dry run asks once."""
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        if __opts__["test"]:
            try:
                usable = _salt(function, **arguments, timeout=0)
            except CommandExecutionError:
                ret["result"] = None
                ret["comment"] = f"Would wait up to {timeout}s for {what}"
                return ret
        else:
            usable = _salt(function, **arguments, timeout=timeout)
    except SaltException as err:
        ret["result"] = False
        ret["comment"] = str(err)
        return ret
    ret["comment"] = f"{what[0].upper()}{what[1:]} is usable (AccessorID {usable['AccessorID']})"
    return ret


def token_usable(name: str, secret_id_pillar: str, timeout: float = 300) -> dict[str, Any]:
    """
    Wait at most ``timeout`` seconds until Consul knows the token whose SecretID is at pillar
    key ``secret_id_pillar``. Changes nothing; a dry run asks once and waits for nothing.

    .. code-block:: yaml

        consul-acl-token-usable-salt:
          consul_acl.token_usable:
            - name: salt
            - secret_id_pillar: secrets:consul:acl:tokens:salt:secret_id
            - timeout: 600
    """
    return _usable(name, "token_usable", {"secret_id_pillar": secret_id_pillar},
                   f"the token of pillar {secret_id_pillar}", timeout)


def agent_token_usable(name: str, timeout: float = 300) -> dict[str, Any]:
    """
    Wait at most ``timeout`` seconds until Consul knows the agent token of node ``name``.
    Changes nothing; a dry run asks once and waits for nothing.

    .. code-block:: yaml

        consul-acl-agent-token-usable:
          consul_acl.agent_token_usable:
            - name: dc1-compute-1
            - timeout: 600
    """
    return _usable(name, "agent_token_usable", {"node": name}, f"the agent token of {name}",
                   timeout)
