"""
The one way the platform's Salt modules reach the local Consul agent: a py-consul client
(``__utils__["consul_agent.client"]``, used by the consul_cluster, consul_acl and
rolling_restart modules) built by ``_consul_http.client`` (shared with the registrator) from
config:

- ``consul_cluster:url``: the agent's URL, default ``http://127.0.0.1:8500``; ``https://``
  for an agent with TLS;
- the ACL token sent with every request: the ``token`` argument, else ``consul_cluster:token``,
  else the content of ``consul_cluster:token_file`` (default ``/etc/consul.d/tokens/salt``,
  root's only), where the consul formula writes the site's Salt token from the security
  stage at which tokens are in use (none on an open site, nor at stage ``accept``, while
  the tokens are being made: Consul refuses a token it does not know yet even under ACLs that
  allow). A file, not pillar: it serves every way the modules run, salt-ssh's plain
  function calls among them, which get no pillar on the host. It is the only token sent:
  CONSUL_HTTP_TOKEN in the environment is ignored;
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
# Where the consul formula writes the token the platform's Salt modules present.
DEFAULT_TOKEN_FILE = "/etc/consul.d/tokens/salt"


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
    """``consul_cluster:token``, else the token in ``consul_cluster:token_file``, if any."""
    configured = _setting("token")
    if configured:
        return configured
    token_file = _setting("token_file") or DEFAULT_TOKEN_FILE
    try:
        with open(token_file, encoding="utf-8") as token:
            return token.read().strip() or None
    except FileNotFoundError:
        return None
    except OSError as err:
        raise SaltInvocationError(
            f"consul_cluster:token_file {token_file!r} cannot be read ({err.strerror}): run "
            "as root, or name a readable file"
        ) from err


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
