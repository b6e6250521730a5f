"""
The one way the platform's modules reach the local Consul agent: a py-consul client built from
the agent's URL (``consul_cluster:url``, default ``http://127.0.0.1:8500``) and ACL token
(``consul_cluster:token``). Used by the consul_cluster and rolling_restart modules as
``__utils__["consul_agent.client"]``.
"""

from typing import Any
from urllib.parse import urlsplit

from salt.exceptions import SaltInvocationError

try:
    import consul

    HAS_CONSUL = True
except ImportError:
    HAS_CONSUL = False

DEFAULT_URL = "http://127.0.0.1:8500"
# Seconds one HTTP request may take; an agent that accepts and never answers must not hang us.
REQUEST_TIMEOUT = 10


def __virtual__():
    if not HAS_CONSUL:
        return (False, "py-consul is not installed")
    return True


def agent_url(url: str | None = None) -> str:
    """The ``url`` given, else ``consul_cluster:url`` from config or pillar, else the default."""
    return url or __salt__["config.get"]("consul_cluster:url", DEFAULT_URL)


def token() -> Any:
    """The agent's ACL token (``consul_cluster:token``), or None."""
    return __salt__["config.get"]("consul_cluster:token") or None


def client(
    url: str | None = None, token: str | None = None, request_timeout: float = REQUEST_TIMEOUT
) -> "consul.Consul":
    """A py-consul client of the agent at ``url`` (see ``agent_url``); raises
    SaltInvocationError naming the setting when the URL is not ``http(s)://host:port``."""
    url = agent_url(url)
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as err:
        raise SaltInvocationError(f"Consul URL {url!r} has an invalid port") from err
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SaltInvocationError(
            f"Consul URL {url!r} is not of the form http(s)://host:port: fix the url argument "
            "or consul_cluster:url"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return consul.Consul(
        host=host,
        port=port or (443 if parts.scheme == "https" else 8500),
        scheme=parts.scheme,
        token=token,
        connections_timeout=request_timeout,
    )
