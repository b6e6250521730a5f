"""
HTTP probes: whether an endpoint answers 2xx.

Health functions of the rolling restarts and health gates (Mesos ``/health``, Marathon
``/ping``), next to ``zookeeper_probe``. Proxies from the environment are ignored: the
endpoints are on the host or its datacenter's network.
"""

import urllib.error
import urllib.request

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "http_probe"

DEFAULT_TIMEOUT = 5.0


def __virtual__():
    return __virtualname__


def ok(url: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """
    True when ``url`` answers with a 2xx status (redirects followed); raises
    CommandExecutionError with the status or the transport's error otherwise. Connecting and
    each read may take ``timeout`` seconds.

    CLI Example:

    .. code-block:: bash

        salt-call http_probe.ok http://10.0.1.11:5050/health
    """
    if timeout <= 0:
        raise SaltInvocationError(f"timeout must be positive, not {timeout}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as answer:
            status = answer.status
    except urllib.error.HTTPError as err:
        raise CommandExecutionError(f"{url} answered {err.code} {err.reason}") from err
    except (OSError, ValueError) as err:
        raise CommandExecutionError(f"{url}: {err}") from err
    if not 200 <= status < 300:
        raise CommandExecutionError(f"{url} answered {status}")
    return True
