"""
Grains of the platform's hosts: their routes, their cgroup version and what their Consul and
ZooKeeper run.

``platform_routes`` lists the routes of the main routing table (IPv4 and IPv6) that have a
source address: ``{"destination": "10.0.1.0/24" or "default", "source": "10.0.1.21",
"family": 4 or 6}``, lowest metric first. The quorum module picks the host's address from it
in pure Python (docs/data-model.md), so that rendering a template never asks the host for a
route, which under salt-ssh is a round trip per call.

``cgroup_version`` is 2 on a host with the unified cgroup hierarchy, else 1.

``consul_security_stage`` is the security stage of the Consul agent's configuration on the
host (``open``, ``accept``, ``verify``, ``secure``; docs/security.md), or None where the
consul formula wrote none yet: the plan lets a running agent move one stage at a time.

``zookeeper_security_stage`` is the same for the host's ZooKeeper configuration (zoo.cfg's
quorum SASL settings), or None where there is no zoo.cfg: the zookeeper formula moves a running
member one stage at a time, whatever stage pillar asks for.

``zookeeper_servers`` is the ensemble zoo.cfg lists (``server.N`` lines, by id), or None where
there is no zoo.cfg: the plan lets a running ensemble gain or lose one member at a time.

``consul_version`` is the release of the host's Consul binary, the first line of ``consul
version`` (``Consul v1.8.7``), or None where there is none or it does not answer: the plan
refuses a running agent a downgrade or a step Consul does not document (docs/operations.md).

The grains read ``ip -j`` (iproute2 4.13 or later); without it, or when it fails or hangs,
``platform_routes`` is an empty list. They never raise: a grain that raises hides every
other grain of the host.
"""

import ipaddress
import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from typing import Any

import salt.utils.platform

log = logging.getLogger(__name__)

__virtualname__ = "platform"

# Seconds one command (`ip`, `consul version`) may take; they answer in milliseconds.
COMMAND_TIMEOUT = 5
CGROUP2_CONTROLLERS = "/sys/fs/cgroup/cgroup.controllers"
# Where `ip` lives when PATH lacks the sbin directories (a non-login shell).
SBIN_PATH = "/usr/sbin:/sbin"
# The consul formula's agent configuration (consul:config_dir, then consul.json).
CONSUL_CONFIG = "/etc/consul.d/consul.json"
# Where the consul formula puts the binary: consul:install:archive:bin (and :none:bin), then
# consul:install:package:bin.
CONSUL_BINARY_PATH = "/usr/local/bin:/usr/bin"
# The first line of `consul version`: the release, with an optional suffix (1.20.6+ent).
CONSUL_VERSION_LINE = re.compile(r"Consul v(\d+(\.\d+)+([-+][0-9A-Za-z.+-]+)?)")
# The zookeeper formula's zoo.cfg (zookeeper:config_dir: Debian's, then the default).
ZOOKEEPER_CONFIGS = ("/etc/zookeeper/conf/zoo.cfg", "/etc/zookeeper/zoo.cfg")


def __virtual__():
    if not salt.utils.platform.is_linux():
        return False, "the platform grains read Linux routes (ip -j) and cgroups"
    return __virtualname__


def _output(command: list[str]) -> str | None:
    """Standard output of ``command``; None when it fails or hangs."""
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
        )
    except (OSError, subprocess.SubprocessError) as err:
        log.debug("platform grains: %s failed: %s", " ".join(command), err)
        return None
    if result.returncode != 0:
        log.debug("platform grains: %s: %s", " ".join(command), result.stderr.strip())
        return None
    return result.stdout


def _ip(*args: str) -> str | None:
    """Standard output of ``ip -j <args>``; None when ip is missing, fails or hangs."""
    binary = shutil.which("ip") or shutil.which("ip", path=SBIN_PATH)
    if binary is None:
        log.debug("platform grains: no ip binary, platform_routes is empty")
        return None
    return _output([binary, "-j", *args])


def _entries(text: str | None) -> list[Mapping]:
    """The objects of the JSON list ``ip -j`` printed; empty if it printed no such list."""
    try:
        data = json.loads(text) if text else []
    except ValueError:
        return []
    return [entry for entry in data if isinstance(entry, Mapping)] if isinstance(data, list) else []


def _address(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _gateway(route: Mapping) -> str | None:
    """The route's gateway, or its first next hop's (a multipath route)."""
    hops = route.get("nexthops")
    first_hop = hops[0] if isinstance(hops, list) and hops and isinstance(hops[0], Mapping) else {}
    gateway = route.get("gateway") or first_hop.get("gateway")
    return gateway if isinstance(gateway, str) else None


def _destination(route: Mapping) -> str | None:
    """``default``, or the route's destination as a network (a host route gets its /32)."""
    destination = route.get("dst")
    if destination == "default":
        return destination
    try:
        return str(ipaddress.ip_network(destination, strict=False))
    except (TypeError, ValueError):
        return None


def _connected_source(routes: list[Mapping], gateway: str) -> str | None:
    """The source address of the most specific route with one that contains ``gateway``."""
    address = _address(gateway)
    fitting = []
    for route in routes:
        destination = _destination(route)
        if address is None or not route.get("prefsrc") or destination in (None, "default"):
            continue
        network = ipaddress.ip_network(destination)
        if address in network:
            fitting.append((network.prefixlen, route["prefsrc"]))
    return max(fitting, key=lambda fit: fit[0])[1] if fitting else None


def _metric(route: Mapping) -> int:
    metric = route.get("metric")
    return metric if isinstance(metric, int) else 0


def _routes_from_json(
    text: str | None, family: int, source_towards: Callable[[str], str | None]
) -> list[dict[str, Any]]:
    """The routes of one family in ``ip -j route show table main`` output, with their source.

    A route without ``prefsrc`` is left out, except a default route: its source is that of the
    route that reaches its gateway, else ``source_towards(gateway)`` (``ip route get``).
    """
    unicast = [route for route in _entries(text) if route.get("type", "unicast") == "unicast"]
    routes = []
    for route in sorted(unicast, key=_metric):
        destination = _destination(route)
        source = route.get("prefsrc")
        gateway = _gateway(route)
        if destination == "default" and not source and gateway:
            source = _connected_source(unicast, gateway) or source_towards(gateway)
        if destination and _address(source) is not None:
            routes.append({"destination": destination, "source": source, "family": family})
    return routes


def _source_from_route_get(text: str | None) -> str | None:
    """The source address in ``ip -j route get <address>`` output."""
    entries = _entries(text)
    source = entries[0].get("prefsrc") if entries else None
    return source if isinstance(source, str) else None


def _source_towards(address: str) -> str | None:
    return _source_from_route_get(_ip("route", "get", address))


def platform_routes() -> dict[str, list[dict[str, Any]]]:
    """
    Routes of the main table that have a source address, IPv4 then IPv6.

    CLI Example:

    .. code-block:: bash

        salt-call grains.get platform_routes
    """
    routes = []
    for family, flags in ((4, ("-4",)), (6, ("-6",))):
        text = _ip(*flags, "route", "show", "table", "main")
        routes.extend(_routes_from_json(text, family, _source_towards))
    return {"platform_routes": routes}


def cgroup_version() -> dict[str, int]:
    """
    2 on a host with the unified cgroup hierarchy (cgroup v2), else 1.

    CLI Example:

    .. code-block:: bash

        salt-call grains.get cgroup_version
    """
    return {"cgroup_version": 2 if os.path.exists(CGROUP2_CONTROLLERS) else 1}


def _tls_flag(config: Mapping, flat: str, section: str, key: str) -> bool:
    """A TLS setting as Consul 1.8 (``flat`` at the top) or 1.12+ (``tls.<section>.<key>``)
    writes it."""
    tls = config.get("tls")
    nested = tls.get(section) if isinstance(tls, Mapping) else None
    return bool(config.get(flat) or (isinstance(nested, Mapping) and nested.get(key)))


def _security_stage(config: Any) -> str | None:
    """The stage of an agent configuration the consul formula wrote (SECURITY_STAGES of the
    quorum module): no CA, open; a CA but no verified outgoing TLS, accept; outgoing but not
    incoming, verify; both, secure."""
    if not isinstance(config, Mapping):
        return None
    if not _tls_flag(config, "ca_file", "defaults", "ca_file"):
        return "open"
    if not _tls_flag(config, "verify_outgoing", "defaults", "verify_outgoing"):
        return "accept"
    if not _tls_flag(config, "verify_incoming_rpc", "internal_rpc", "verify_incoming"):
        return "verify"
    return "secure"


def consul_security_stage() -> dict[str, str | None]:
    """
    The security stage of the host's Consul agent configuration, None if it has none.

    CLI Example:

    .. code-block:: bash

        salt-call grains.get consul_security_stage
    """
    try:
        with open(CONSUL_CONFIG, encoding="utf-8") as config_file:
            config = json.load(config_file)
    except (OSError, ValueError):
        config = None
    return {"consul_security_stage": _security_stage(config)}


def _zookeeper_stage(text: str) -> str:
    """The stage of a zoo.cfg the zookeeper formula wrote (zookeeper:security:stages): no
    quorum SASL, open; spoken, accept; required of learners, verify; of servers too, secure."""
    settings = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        settings[key.strip()] = value.strip().lower()
    if settings.get("quorum.auth.enableSasl") != "true":
        return "open"
    if settings.get("quorum.auth.learnerRequireSasl") != "true":
        return "accept"
    if settings.get("quorum.auth.serverRequireSasl") != "true":
        return "verify"
    return "secure"


def _zookeeper_config() -> str | None:
    """The text of the host's zoo.cfg, None if it has none."""
    for path in ZOOKEEPER_CONFIGS:
        try:
            with open(path, encoding="utf-8") as config_file:
                return config_file.read()
        except OSError:
            continue
    return None


def zookeeper_security_stage() -> dict[str, str | None]:
    """
    The security stage of the host's ZooKeeper configuration, None if it has none.

    CLI Example:

    .. code-block:: bash

        salt-call grains.get zookeeper_security_stage
    """
    text = _zookeeper_config()
    return {"zookeeper_security_stage": None if text is None else _zookeeper_stage(text)}


def _zookeeper_server_lines(text: str) -> dict[str, str]:
    servers = {}
    for line in text.splitlines():
        key, separator, value = line.partition("=")
        name, dot, server_id = key.strip().partition(".")
        if separator and dot and name == "server" and server_id.isdigit():
            servers[str(int(server_id))] = value.strip()
    return servers


def zookeeper_servers() -> dict[str, dict[str, str] | None]:
    """
    The ensemble the host's zoo.cfg lists, ``{"1": "10.0.1.11:2888:3888", ...}`` by server
    id, None if it has no zoo.cfg.

    CLI Example:

    .. code-block:: bash

        salt-call grains.get zookeeper_servers
    """
    text = _zookeeper_config()
    return {"zookeeper_servers": None if text is None else _zookeeper_server_lines(text)}


def _consul_release(text: str | None) -> str | None:
    """The release ``consul version`` printed on its first line (``Consul v1.8.7``)."""
    first_line = text.splitlines()[0].strip() if text else ""
    match = CONSUL_VERSION_LINE.fullmatch(first_line)
    return match.group(1) if match else None


def consul_version() -> dict[str, str | None]:
    """
    The release of the host's Consul binary, None if it has none.

    CLI Example:

    .. code-block:: bash

        salt-call grains.get consul_version
    """
    binary = shutil.which("consul", path=CONSUL_BINARY_PATH)
    release = _consul_release(_output([binary, "version"])) if binary else None
    return {"consul_version": release}
