"""
HTTP probes: whether an endpoint answers 2xx.

Health functions of the rolling restarts and health gates (Mesos ``/health``, Marathon
``/ping``), next to ``zookeeper_probe``. Proxies from the environment are ignored: the
endpoints are on the host or its datacenter's network. An endpoint that asks for a login
(Marathon's, at the secure stage) gets the one a pillar key names: the states pass the key,
never the password.
"""

import base64
import urllib.error
import urllib.request

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "http_probe"

DEFAULT_TIMEOUT = 5.0


def __virtual__():
    return __virtualname__


def _basic_authorization(credentials_pillar: str) -> str:
    """The Authorization header of the login under ``credentials_pillar`` (``user`` and
    ``password``). Read with config.get: Salt 3008's pillar.get gives "**********" outside a
    render."""
    login = []
    for part in ("user", "password"):
        value = __salt__["config.get"](f"{credentials_pillar}:{part}")
        if not value or not isinstance(value, str):
            raise SaltInvocationError(
                f"pillar {credentials_pillar}:{part} holds nothing: make the site's secrets "
                "with `scripts/secrets init pillar` and give pillar `secrets` to this host"
            )
        login.append(value)
    return "Basic " + base64.b64encode(":".join(login).encode()).decode()


def ok(url: str, timeout: float = DEFAULT_TIMEOUT, credentials_pillar: str = "") -> bool:
    """
    True when ``url`` answers with a 2xx status (redirects followed); raises
    CommandExecutionError with the status or the transport's error otherwise. Connecting and
    each read may take ``timeout`` seconds. With ``credentials_pillar``, the request carries
    the HTTP basic login of that pillar key's ``user`` and ``password``.

    CLI Example:

    .. code-block:: bash

        salt-call http_probe.ok http://10.0.1.11:5050/health
        salt-call http_probe.ok http://10.0.1.11:8080/ping credentials_pillar=secrets:marathon:http
    """
    if timeout <= 0:
        raise SaltInvocationError(f"timeout must be positive, not {timeout}")
    authorization = _basic_authorization(credentials_pillar) if credentials_pillar else ""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        request = urllib.request.Request(url)
        if authorization:
            # Not sent on to where a redirect points.
            request.add_unredirected_header("Authorization", authorization)
        with opener.open(request, timeout=timeout) as answer:
            status = answer.status
    except urllib.error.HTTPError as err:
        raise CommandExecutionError(f"{url} answered {err.code} {err.reason}") from err
    except (OSError, ValueError) as err:
        raise CommandExecutionError(f"{url}: {err}") from err
    if not 200 <= status < 300:
        raise CommandExecutionError(f"{url} answered {status}")
    return True
