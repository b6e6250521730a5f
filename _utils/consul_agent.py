"""
The one way the platform's Salt modules reach the local Consul agent: a py-consul client
(``__utils__["consul_agent.client"]``, used by the consul_cluster, consul_acl and
rolling_restart modules) built by ``_consul_http.client`` (shared with the registrator) from
config:

- ``consul_cluster:url``: the agent's URL, default ``http://127.0.0.1:8500``; ``https://``
  for an agent with TLS;
- the ACL token sent with every request: the ``token`` argument, else ``consul_cluster:token``,
  else the site's Salt token, pillar ``secrets:consul:acl:tokens:salt:secret_id``. The Salt
  token is not sent on an open site (pillar ``security:open: true``) nor while pillar
  ``security:stage`` is ``accept``: then ACLs are on with default policy allow while the
  tokens are being made, and Consul refuses a token it does not know yet even under allow.
  It is the only token sent: CONSUL_HTTP_TOKEN in the environment is ignored;
- ``consul_cluster:ca_file``: the CA that signed an HTTPS agent's certificate (optional;
  certificates are always verified).
"""

import os

from salt.exceptions import SaltInvocationError

try:
    import consul

    # A plain import of the file next to this one: see its description.
    import _consul_http

    IMPORT_ERROR = ""
except ImportError as err:
    IMPORT_ERROR = str(err)

DEFAULT_URL = "http://127.0.0.1:8500"
# Seconds one HTTP request may take; an agent that accepts and never answers must not hang us.
REQUEST_TIMEOUT = 10
# A caller short of time still gives a request this long.
MIN_REQUEST_TIMEOUT = 1
# The pillar key of the SecretID of the token the platform's Salt modules present.
SALT_TOKEN_PILLAR = "secrets:consul:acl:tokens:salt:secret_id"


def __virtual__():
    if IMPORT_ERROR:
        return (False, f"py-consul or _consul_http.py cannot be imported: {IMPORT_ERROR}")
    return True


def agent_url(url: str | None = None) -> str:
    """The ``url`` given, else ``consul_cluster:url`` from config or pillar, else the default."""
    return url or __salt__["config.get"]("consul_cluster:url", DEFAULT_URL)


def _setting(name: str) -> str | None:
    return __salt__["config.get"](f"consul_cluster:{name}") or None


def _default_token() -> str | None:
    """``consul_cluster:token``, else the site's Salt token unless the site is open or its
    tokens are being made (see the module's description)."""
    configured = _setting("token")
    if configured:
        return configured
    # config.get, not pillar.get: Salt 3008's pillar.get gives "**********" for any value
    # outside a render.
    lookup = __salt__["config.get"]
    if lookup("security:open") is True or lookup("security:stage") == "accept":
        return None
    return lookup(SALT_TOKEN_PILLAR) or None


def client(
    url: str | None = None, time_left: float | None = None, token: str | None = None
) -> "consul.Consul":
    """
    A py-consul client of the agent at ``url`` (see ``agent_url``) that sends ``token``, else
    the default token (see the module's description), and checks the configured CA file. A
    request may take REQUEST_TIMEOUT seconds, or ``time_left`` if that is shorter (but at
    least MIN_REQUEST_TIMEOUT). Raises SaltInvocationError naming the setting to fix.
    """
    url = agent_url(url)
    request_timeout = REQUEST_TIMEOUT
    if time_left is not None:
        request_timeout = max(MIN_REQUEST_TIMEOUT, min(REQUEST_TIMEOUT, time_left))
    ca_file = _setting("ca_file")
    if ca_file and not os.path.isfile(ca_file):
        raise SaltInvocationError(
            f"consul_cluster:ca_file {ca_file!r} is not a file: name the PEM file of the CA "
            "that signed the agent's certificate, or unset it"
        )
    try:
        return _consul_http.client(
            url,
            token=token or _default_token(),
            ca_file=ca_file,
            request_timeout=request_timeout,
        )
    except ValueError as err:
        raise SaltInvocationError(f"{err}: fix the url argument or consul_cluster:url") from err
