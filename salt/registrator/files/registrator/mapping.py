"""From a container to its Consul services: the registrator's rules, without any I/O.

Input is what ``docker inspect`` returns for a container (the Docker SDK's ``attrs``); output
is one ``Service`` per port, and the plan that makes the local Consul agent hold exactly the
services of the running containers:

- a service per *published* port (``-p``), or per *exposed* port in ``internal`` mode, where
  the service has the container's own address and port;
- metadata from environment variables or labels ``SERVICE_<KEY>`` (for every port) and
  ``SERVICE_<port>_<KEY>`` (for one port, overriding); labels override environment variables;
- the name is ``SERVICE_NAME``, else the image's base name without tag; a container with
  several ports gets ``-<port>`` after the name unless that port has its own
  ``SERVICE_<port>_NAME``;
- ``SERVICE_TAGS`` is a comma-separated list (``\\,`` is a literal comma), added to the
  registrator's own tags; ``SERVICE_IGNORE`` skips the container (or, per port, the port);
- the id is ``<hostname>:<container name>:<exposed port>`` with ``:udp`` for UDP ports;
- ``SERVICE_CHECK_HTTP`` (a path) or ``SERVICE_CHECK_TCP`` adds a Consul check on the
  service's address, with ``SERVICE_CHECK_INTERVAL`` (default 10s), ``SERVICE_CHECK_TIMEOUT``
  and ``SERVICE_CHECK_INITIAL_STATUS``.

Every service carries the meta key ``managed-by`` so that the reconciliation touches only
what the registrator registered.
"""

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

META_MANAGED_BY = "managed-by"
MANAGED_BY = "platform-registrator"
META_CONTAINER_ID = "container-id"
META_CONTAINER_NAME = "container-name"
DEFAULT_CHECK_INTERVAL = "10s"
# Values of SERVICE_IGNORE, SERVICE_CHECK_TCP and the like that mean "no".
FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})
# Bindings on these addresses publish a port on every address of the host.
ANY_ADDRESSES = frozenset({"", "0.0.0.0", "::"})
_PORT_KEY = re.compile(r"(\d+)_(.+)")
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


@dataclass(frozen=True)
class Settings:
    """How the registrator maps containers: the host's name and address, and its options."""

    hostname: str
    address: str
    internal: bool = False
    explicit: bool = False
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Port:
    """One port of a container: where it listens inside, and where others reach it."""

    exposed: int
    protocol: str
    address: str
    port: int


@dataclass(frozen=True)
class Service:
    """One Consul service instance of a container's port."""

    id: str
    name: str
    address: str
    port: int
    container_id: str
    container_name: str
    tags: tuple[str, ...] = ()
    check: Mapping[str, str] | None = None

    @property
    def meta(self) -> dict[str, str]:
        """The mark of the registrator and the container the service belongs to."""
        return {
            META_MANAGED_BY: MANAGED_BY,
            META_CONTAINER_ID: self.container_id,
            META_CONTAINER_NAME: self.container_name,
        }

    def registration(self) -> dict[str, Any]:
        """Keyword arguments of py-consul's ``agent.service.register`` for this service."""
        return {
            "name": self.name,
            "service_id": self.id,
            "address": self.address,
            "port": self.port,
            "tags": list(self.tags),
            "meta": self.meta,
            "check": dict(self.check) if self.check else None,
        }

    def matches(self, registered: Mapping[str, Any]) -> bool:
        """Whether an entry of the agent's ``/v1/agent/services`` already is this service."""
        return (
            registered.get("Service") == self.name
            and registered.get("Address") == self.address
            and registered.get("Port") == self.port
            and list(registered.get("Tags") or []) == list(self.tags)
            and dict(registered.get("Meta") or {}) == self.meta
        )


@dataclass(frozen=True)
class Plan:
    """What to change on the agent: services to (re-)register, service ids to deregister."""

    register: tuple[Service, ...] = ()
    deregister: tuple[str, ...] = ()
    # Services not registered because a service the registrator did not make has their id.
    conflicts: tuple[str, ...] = ()


def is_true(value: str | None) -> bool:
    """The registrator's reading of a flag: anything but empty, 0, false, no or off."""
    return value is not None and value.strip().lower() not in FALSE_WORDS


def split_tags(value: str | None) -> tuple[str, ...]:
    """``"a, b\\,c,"`` -> ``("a", "b,c")``: commas separate, a backslash escapes one."""
    if not value:
        return ()
    parts = (part.replace("\\,", ",").strip() for part in _UNESCAPED_COMMA.split(value))
    return tuple(part for part in parts if part)


def image_name(image: str) -> str:
    """The default service name: the image's last path element without tag or digest."""
    base = image.rsplit("/", 1)[-1]
    return base.split("@", 1)[0].split(":", 1)[0]


def metadata(
    env: Iterable[str] | None, labels: Mapping[str, str] | None
) -> tuple[dict[str, str], dict[int, dict[str, str]]]:
    """``SERVICE_*`` settings of a container: those for every port, and those per port.

    Keys are lower-cased without the prefix (``SERVICE_CHECK_HTTP`` -> ``check_http``,
    ``SERVICE_80_NAME`` -> port 80, ``name``). Labels are read after the environment, so a
    label overrides a variable of the same name.
    """
    pairs = [entry.partition("=")[::2] for entry in env or () if "=" in entry]
    pairs += list((labels or {}).items())
    common: dict[str, str] = {}
    per_port: dict[int, dict[str, str]] = {}
    for key, value in pairs:
        if not key.startswith("SERVICE_"):
            continue
        rest = key[len("SERVICE_"):]
        port_key = _PORT_KEY.fullmatch(rest)
        if port_key:
            per_port.setdefault(int(port_key[1]), {})[port_key[2].lower()] = value
        elif rest:
            common[rest.lower()] = value
    return common, per_port


def _container_address(container: Mapping[str, Any]) -> str:
    """The container's own address: the default bridge's, else its first network's by name."""
    network_settings = container.get("NetworkSettings") or {}
    if network_settings.get("IPAddress"):
        return network_settings["IPAddress"]
    networks = network_settings.get("Networks") or {}
    for name in sorted(networks):
        if (networks[name] or {}).get("IPAddress"):
            return networks[name]["IPAddress"]
    return ""


def _split_port(key: str) -> tuple[int, str]:
    number, _, protocol = key.partition("/")
    return int(number), protocol or "tcp"


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _published_binding(bindings: list[Mapping[str, str]] | None, host_address: str):
    """The first binding others can reach, as (address, port); None if there is none.

    A port bound to every address (``0.0.0.0``, ``::``) is reached at the host's address; a
    port bound to a loopback address is not reachable from other hosts and is skipped.
    """
    for binding in bindings or ():
        host_ip = binding.get("HostIp") or ""
        if not binding.get("HostPort") or _is_loopback(host_ip):
            continue
        address = host_address if host_ip in ANY_ADDRESSES else host_ip
        return address, int(binding["HostPort"])
    return None


def ports(container: Mapping[str, Any], settings: Settings) -> list[Port]:
    """The container's ports that become services, in order of port and protocol.

    Default mode: the published ports (in host network mode, the port bindings asked for
    with ``-p``), at the address and port they are published on. ``internal`` mode: the
    exposed ports, at the container's own address (the host's with host networking).
    """
    config = container.get("Config") or {}
    host_config = container.get("HostConfig") or {}
    network_settings = container.get("NetworkSettings") or {}
    host_network = host_config.get("NetworkMode") == "host"
    found: list[Port] = []
    if settings.internal:
        address = settings.address if host_network else _container_address(container)
        if not address:
            return []
        keys = set(config.get("ExposedPorts") or {}) | set(network_settings.get("Ports") or {})
        for key in keys:
            exposed, protocol = _split_port(key)
            found.append(Port(exposed, protocol, address, exposed))
    else:
        published = (
            host_config.get("PortBindings") if host_network else network_settings.get("Ports")
        )
        for key, bindings in (published or {}).items():
            reachable = _published_binding(bindings, settings.address)
            if reachable:
                exposed, protocol = _split_port(key)
                found.append(Port(exposed, protocol, *reachable))
    return sorted(found, key=lambda port: (port.exposed, port.protocol))


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def check(settings_of_port: Mapping[str, str], address: str, port: int) -> dict[str, str] | None:
    """The Consul check a port asks for: HTTP on a path, else TCP, else none."""
    path = settings_of_port.get("check_http", "")
    if path:
        definition = {"HTTP": f"http://{_endpoint(address, port)}/{path.lstrip('/')}"}
    elif is_true(settings_of_port.get("check_tcp")):
        definition = {"TCP": _endpoint(address, port)}
    else:
        return None
    definition["Interval"] = settings_of_port.get("check_interval") or DEFAULT_CHECK_INTERVAL
    if settings_of_port.get("check_timeout"):
        definition["Timeout"] = settings_of_port["check_timeout"]
    if settings_of_port.get("check_initial_status"):
        definition["Status"] = settings_of_port["check_initial_status"]
    return definition


def services(container: Mapping[str, Any], settings: Settings) -> list[Service]:
    """The Consul services of a running container under the registrator's rules."""
    if not (container.get("State") or {}).get("Running"):
        return []
    config = container.get("Config") or {}
    common, per_port = metadata(config.get("Env"), config.get("Labels"))
    container_name = (container.get("Name") or "").lstrip("/")
    candidates = ports(container, settings)
    several = len(candidates) > 1
    found = []
    for port in candidates:
        own = per_port.get(port.exposed, {})
        merged = {**common, **own}
        if is_true(merged.get("ignore")):
            continue
        if settings.explicit and not merged.get("name"):
            continue
        name = merged.get("name") or image_name(config.get("Image") or "")
        if several and "name" not in own:
            name = f"{name}-{port.exposed}"
        service_id = f"{settings.hostname}:{container_name}:{port.exposed}"
        if port.protocol != "tcp":
            service_id += f":{port.protocol}"
        found.append(Service(
            id=service_id,
            name=name,
            address=port.address,
            port=port.port,
            container_id=container["Id"],
            container_name=container_name,
            tags=tuple(dict.fromkeys((*split_tags(merged.get("tags")), *settings.tags))),
            check=check(merged, port.address, port.port),
        ))
    return found


def is_managed(registered: Mapping[str, Any]) -> bool:
    """Whether the registrator made this entry of ``/v1/agent/services``."""
    return (registered.get("Meta") or {}).get(META_MANAGED_BY) == MANAGED_BY


def reconcile(
    desired: Iterable[Service],
    registered: Mapping[str, Mapping[str, Any]],
    container_ids: Iterable[str] | None = None,
) -> Plan:
    """Make the agent hold ``desired``: register what is missing or differs, deregister the rest.

    ``registered`` is the agent's ``/v1/agent/services``. Only services with the
    registrator's mark are deregistered; with ``container_ids``, only those of these
    containers (an event about one container leaves the others alone). A desired service
    whose id belongs to a service the registrator did not make is left out, as a conflict.
    """
    scope = None if container_ids is None else set(container_ids)
    register, conflicts, wanted_ids = [], [], set()
    for service in desired:
        wanted_ids.add(service.id)
        existing = registered.get(service.id)
        if existing is not None and not is_managed(existing):
            conflicts.append(service.id)
        elif existing is None or not service.matches(existing):
            register.append(service)
    deregister = sorted(
        service_id
        for service_id, entry in registered.items()
        if is_managed(entry)
        and service_id not in wanted_ids
        and (scope is None or entry["Meta"].get(META_CONTAINER_ID) in scope)
    )
    return Plan(tuple(register), tuple(deregister), tuple(conflicts))
