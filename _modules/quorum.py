"""
Quorum membership of the control plane, computed from the datacenter pillar.

The single place that turns ``datacenters`` pillar into ordered members, quorum sizes, Consul
``bootstrap_expect``, ZooKeeper ids, server lines and connect strings, ``zk://`` URLs and
Consul WAN peers (see docs/data-model.md). States and templates call these functions; no SLS
recomputes any of this in Jinja.

The private functions take plain data (the ``datacenters`` mapping and the host's grains) so
that the arithmetic and the validation are tested without a loader; the public functions read
``__pillar__`` and ``__grains__`` and work the same under salt-ssh, a minion and salt-call.
"""

from collections.abc import Iterator, Mapping
from typing import Any

from salt.exceptions import SaltInvocationError

__virtualname__ = "quorum"

ZOOKEEPER_CLIENT_PORT = 2181
ZOOKEEPER_PEER_PORT = 2888
ZOOKEEPER_ELECTION_PORT = 3888
MAX_CONTROL_NODES = 7
KNOWN_ROLES = ("control", "compute")


def __virtual__():
    return __virtualname__


def _host_id(grains: Mapping) -> str:
    return grains.get("id") or "this host"


def _host_roles(grains: Mapping) -> list[str]:
    roles = grains.get("roles")
    if roles is None:
        return []
    if isinstance(roles, str):
        return [roles]
    if isinstance(roles, list | tuple) and all(isinstance(role, str) for role in roles):
        return list(roles)
    raise SaltInvocationError(
        f"grain roles of {_host_id(grains)} is {roles!r}: set it to a list of roles "
        f"({', '.join(KNOWN_ROLES)}) or to one role name"
    )


def _check_host_roles(grains: Mapping) -> None:
    for role in _host_roles(grains):
        if role not in KNOWN_ROLES:
            raise SaltInvocationError(
                f"grain roles of {_host_id(grains)} has unknown role {role!r}: "
                f"allowed roles are {', '.join(KNOWN_ROLES)}"
            )


def _check_datacenters(datacenters: Any) -> None:
    if not datacenters:
        raise SaltInvocationError(
            "pillar datacenters is missing or empty: give every host the datacenter files "
            "(pillar/datacenters/<dc>.sls, targeted to '*' in pillar/top.sls)"
        )
    if not isinstance(datacenters, Mapping):
        raise SaltInvocationError(
            f"pillar datacenters is a {type(datacenters).__name__}: it must map each "
            "datacenter name to its settings (datacenters: {dc1: {control_nodes: [...]}})"
        )


def _names(datacenters: Mapping) -> list[str]:
    """Datacenter names in plan order (by name; keys YAML read as numbers sort as text)."""
    return sorted(datacenters, key=str)


def _resolve_datacenter(datacenters: Mapping, grains: Mapping, datacenter: str | None) -> str:
    """Name of the datacenter asked about: the argument, else the host's ``datacenter`` grain."""
    if datacenter is not None:
        origin = f"argument datacenter={datacenter}"
    else:
        datacenter = grains.get("datacenter")
        if not datacenter:
            raise SaltInvocationError(
                f"grain datacenter is not set on {_host_id(grains)}: set it in the roster "
                "(grains: {datacenter: dc1}) or in /etc/salt/grains"
            )
        origin = f"grain datacenter of {_host_id(grains)}"
    if datacenter not in datacenters:
        raise SaltInvocationError(
            f"pillar datacenters:{datacenter} (from {origin}) does not exist: add "
            f"pillar/datacenters/{datacenter}.sls and give it to every host in pillar/top.sls, "
            f"or use one of {', '.join(map(str, _names(datacenters)))}"
        )
    return datacenter


def _control_nodes_key(name: str) -> str:
    return f"datacenters:{name}:control_nodes"


def _check_control_nodes(datacenters: Mapping, name: str) -> None:
    """Shape and size of one datacenter's ``control_nodes``."""
    settings = datacenters[name]
    key = _control_nodes_key(name)
    nodes = settings.get("control_nodes") if isinstance(settings, Mapping) else None
    if not nodes or not isinstance(nodes, list):
        raise SaltInvocationError(
            f"pillar {key} is missing, empty or not a list: list the datacenter's control "
            "nodes (1, 3, 5 or 7 of them), each with an id (its minion id) and an address"
        )
    for index, node in enumerate(nodes):
        for field in ("id", "address", "wan_address"):
            value = node.get(field) if isinstance(node, Mapping) else None
            if field == "wan_address" and value is None:
                continue
            if not value or not isinstance(value, str):
                raise SaltInvocationError(
                    f"pillar {key}:{index} has no {field} (a non-empty string): give every "
                    "control node an id (its minion id) and an address (optional wan_address)"
                )
    size = len(nodes)
    if size > MAX_CONTROL_NODES:
        raise SaltInvocationError(
            f"pillar {key} has {size} members; more than {MAX_CONTROL_NODES} slows every "
            "write for no gain in availability: keep 3, 5 or 7 control nodes and make the "
            "others compute nodes"
        )
    if size % 2 == 0 and settings.get("allow_even_control_nodes") is not True:
        raise SaltInvocationError(
            f"pillar {key} has {size} members; an even number cannot tolerate more failures "
            "than one less node: add or remove one control node, or set "
            f"datacenters:{name}:allow_even_control_nodes: true"
        )


def _listed_nodes(datacenters: Mapping) -> Iterator[tuple[str, str, Mapping]]:
    """(datacenter, pillar key, node) of every control node with a string id, in plan order.

    Tolerates malformed entries: they are reported when their own datacenter is validated.
    """
    for name in _names(datacenters):
        settings = datacenters[name]
        nodes = settings.get("control_nodes") if isinstance(settings, Mapping) else None
        for index, node in enumerate(nodes if isinstance(nodes, list) else []):
            if isinstance(node, Mapping) and isinstance(node.get("id"), str):
                yield name, f"{_control_nodes_key(name)}:{index}", node


def _check_unique(datacenters: Mapping) -> None:
    """Ids and addresses (LAN and WAN) are unique across every datacenter."""
    seen_ids: dict[str, str] = {}
    seen_addresses: dict[str, str] = {}
    for _, key, node in _listed_nodes(datacenters):
        if node["id"] in seen_ids:
            raise SaltInvocationError(
                f"pillar {key} repeats id {node['id']} of {seen_ids[node['id']]}: every "
                "control node is listed once, under its own minion id"
            )
        seen_ids[node["id"]] = key
        own_addresses = set()
        for field in ("address", "wan_address"):
            address = node.get(field)
            if not isinstance(address, str) or address in own_addresses:
                continue
            if address in seen_addresses:
                raise SaltInvocationError(
                    f"pillar {key}:{field} ({node['id']}) is {address}, already used by "
                    f"{seen_addresses[address]}: give every control node its own address "
                    "and wan_address"
                )
            seen_addresses[address] = f"{key}:{field} ({node['id']})"
            own_addresses.add(address)


def _check_host_listed(datacenters: Mapping, grains: Mapping, name: str) -> None:
    """The host's ``control`` role and its place in ``control_nodes`` agree."""
    host = grains.get("id")
    has_role = "control" in _host_roles(grains)
    listed = any(node["id"] == host for node in datacenters[name]["control_nodes"])
    key = _control_nodes_key(name)
    if has_role and not listed:
        raise SaltInvocationError(
            f"host {_host_id(grains)} has role control (grain roles) but is not listed in "
            f"pillar {key}: add it there with its id and address, or remove the role"
        )
    if listed and not has_role:
        raise SaltInvocationError(
            f"host {_host_id(grains)} is listed in pillar {key} but its grain roles lacks "
            "control: add the role, or remove it from the list (every listed node counts in "
            "the quorum)"
        )


def _validated(datacenters: Any, grains: Mapping, datacenter: str | None = None) -> str:
    """Validate the plan for one datacenter and return its name."""
    _check_datacenters(datacenters)
    _check_host_roles(grains)
    name = _resolve_datacenter(datacenters, grains, datacenter)
    _check_control_nodes(datacenters, name)
    _check_unique(datacenters)
    if grains.get("datacenter") == name:
        _check_host_listed(datacenters, grains, name)
    return name


def _members(datacenters: Mapping, name: str) -> list[dict[str, Any]]:
    return [
        {
            "id": node["id"],
            "address": node["address"],
            "wan_address": node.get("wan_address") or node["address"],
            "zk_id": position,
        }
        for position, node in enumerate(datacenters[name]["control_nodes"], start=1)
    ]


def _majority(size: int) -> int:
    return size // 2 + 1


def _fault_tolerance(size: int) -> int:
    return (size - 1) // 2


def _wan_peers(datacenters: Mapping, name: str) -> list[str]:
    """WAN addresses of the control nodes of every datacenter but ``name``, in plan order."""
    peers = []
    for other in _names(datacenters):
        if other != name:
            _check_control_nodes(datacenters, other)
            peers.extend(member["wan_address"] for member in _members(datacenters, other))
    return peers


def _datacenter_of(datacenters: Any, minion_id: str) -> str | None:
    """The datacenter that lists ``minion_id`` as a control node, if any."""
    if not isinstance(datacenters, Mapping):
        return None
    return next(
        (name for name, _, node in _listed_nodes(datacenters) if node["id"] == minion_id), None
    )


def _member(members: list[dict[str, Any]], minion_id: str | None) -> dict[str, Any] | None:
    return next((member for member in members if member["id"] == minion_id), None)


def _zookeeper_servers(
    members: list[dict[str, Any]], peer_port: int, election_port: int
) -> list[str]:
    return [
        f"server.{member['zk_id']}={member['address']}:{peer_port}:{election_port}"
        for member in members
    ]


def _zookeeper_connect(members: list[dict[str, Any]], client_port: int) -> str:
    return ",".join(f"{member['address']}:{client_port}" for member in members)


def _zk_url(members: list[dict[str, Any]], path: str, client_port: int) -> str:
    return f"zk://{_zookeeper_connect(members, client_port)}/{path.lstrip('/')}"


def _plan(
    datacenters: Any,
    grains: Mapping,
    datacenter: str | None = None,
    *,
    client_port: int = ZOOKEEPER_CLIENT_PORT,
    peer_port: int = ZOOKEEPER_PEER_PORT,
    election_port: int = ZOOKEEPER_ELECTION_PORT,
) -> dict[str, Any]:
    name = _validated(datacenters, grains, datacenter)
    members = _members(datacenters, name)
    size = len(members)
    host = _member(members, grains.get("id"))
    return {
        "datacenter": name,
        "members": members,
        "size": size,
        "majority": _majority(size),
        "fault_tolerance": _fault_tolerance(size),
        "bootstrap_expect": size,
        "lan_peers": [member["address"] for member in members],
        "wan_peers": _wan_peers(datacenters, name),
        "is_control": host is not None,
        "zookeeper_id": host["zk_id"] if host else None,
        "zookeeper_servers": _zookeeper_servers(members, peer_port, election_port),
        "zookeeper_connect": _zookeeper_connect(members, client_port),
        "mesos_zk_url": _zk_url(members, "/mesos", client_port),
        "marathon_zk_url": _zk_url(members, "/marathon", client_port),
    }


# Salt's loader injects __pillar__ and __grains__; these two accessors are the only readers.
def _pillar_datacenters() -> Any:
    return __pillar__.get("datacenters")


def _grains() -> Mapping:
    return __grains__


def _validated_members(datacenter: str | None) -> list[dict[str, Any]]:
    datacenters = _pillar_datacenters()
    return _members(datacenters, _validated(datacenters, _grains(), datacenter))


def _located_member(minion_id: str | None) -> dict[str, Any] | None:
    """The control member ``minion_id`` (default: this host), or None if it is not one."""
    datacenters = _pillar_datacenters()
    # Another minion is looked up in whichever datacenter lists it; this host in its own.
    located = None if minion_id is None else _datacenter_of(datacenters, minion_id)
    name = _validated(datacenters, _grains(), located)
    return _member(_members(datacenters, name), minion_id or _grains().get("id"))


def validate(datacenter: str | None = None) -> bool:
    """
    Check the datacenter plan and this host's grains; raise SaltInvocationError if bad.

    CLI Example:

    .. code-block:: bash

        salt-call quorum.validate
        salt-call quorum.validate datacenter=dc2
    """
    _validated(_pillar_datacenters(), _grains(), datacenter)
    return True


def members(datacenter: str | None = None) -> list[dict[str, Any]]:
    """
    Ordered control members: ``{"id", "address", "wan_address", "zk_id"}``.

    CLI Example:

    .. code-block:: bash

        salt-call quorum.members
    """
    return _validated_members(datacenter)


def majority(datacenter: str | None = None) -> int:
    """
    Votes needed for a quorum: ``n // 2 + 1``.

    CLI Example:

    .. code-block:: bash

        salt-call quorum.majority
    """
    return _majority(len(_validated_members(datacenter)))


def fault_tolerance(datacenter: str | None = None) -> int:
    """
    Control nodes the datacenter can lose and keep a quorum: ``(n - 1) // 2``.

    CLI Example:

    .. code-block:: bash

        salt-call quorum.fault_tolerance
    """
    return _fault_tolerance(len(_validated_members(datacenter)))


def bootstrap_expect(datacenter: str | None = None) -> int:
    """
    Consul ``bootstrap_expect``: the number of control nodes.

    CLI Example:

    .. code-block:: bash

        salt-call quorum.bootstrap_expect
    """
    return len(_validated_members(datacenter))


def is_control(minion_id: str | None = None) -> bool:
    """
    Whether the host (or ``minion_id``) is listed as a control node of its datacenter.

    CLI Example:

    .. code-block:: bash

        salt-call quorum.is_control
        salt-call quorum.is_control minion_id=dc1-control-2
    """
    return _located_member(minion_id) is not None


def lan_peers(datacenter: str | None = None) -> list[str]:
    """
    LAN addresses of the datacenter's control nodes (Consul ``retry_join``).

    CLI Example:

    .. code-block:: bash

        salt-call quorum.lan_peers
    """
    return [member["address"] for member in _validated_members(datacenter)]


def wan_peers(datacenter: str | None = None) -> list[str]:
    """
    WAN addresses of the control nodes of every other datacenter, by datacenter name.

    CLI Example:

    .. code-block:: bash

        salt-call quorum.wan_peers
    """
    datacenters = _pillar_datacenters()
    return _wan_peers(datacenters, _validated(datacenters, _grains(), datacenter))


def zookeeper_id(minion_id: str | None = None) -> int | None:
    """
    1-based position of the host (or ``minion_id``) in its datacenter's control nodes.

    None when it is not a control node.

    CLI Example:

    .. code-block:: bash

        salt-call quorum.zookeeper_id
    """
    member = _located_member(minion_id)
    return member["zk_id"] if member else None


def zookeeper_servers(
    datacenter: str | None = None,
    peer_port: int = ZOOKEEPER_PEER_PORT,
    election_port: int = ZOOKEEPER_ELECTION_PORT,
) -> list[str]:
    """
    ZooKeeper ``server.N=address:peer:election`` lines, in id order.

    CLI Example:

    .. code-block:: bash

        salt-call quorum.zookeeper_servers
    """
    return _zookeeper_servers(_validated_members(datacenter), peer_port, election_port)


def zookeeper_connect(
    datacenter: str | None = None, client_port: int = ZOOKEEPER_CLIENT_PORT
) -> str:
    """
    ZooKeeper connect string ``address:2181,...``.

    CLI Example:

    .. code-block:: bash

        salt-call quorum.zookeeper_connect
    """
    return _zookeeper_connect(_validated_members(datacenter), client_port)


def zk_url(
    path: str, datacenter: str | None = None, client_port: int = ZOOKEEPER_CLIENT_PORT
) -> str:
    """
    ``zk://`` URL of ``path`` on the datacenter's ZooKeeper ensemble (Mesos, Marathon).

    CLI Example:

    .. code-block:: bash

        salt-call quorum.zk_url /mesos
    """
    return _zk_url(_validated_members(datacenter), path, client_port)


def plan(
    datacenter: str | None = None,
    client_port: int = ZOOKEEPER_CLIENT_PORT,
    peer_port: int = ZOOKEEPER_PEER_PORT,
    election_port: int = ZOOKEEPER_ELECTION_PORT,
) -> dict[str, Any]:
    """
    Everything above in one dict, for templates.

    Keys: datacenter, members, size, majority, fault_tolerance, bootstrap_expect, lan_peers,
    wan_peers, is_control, zookeeper_id, zookeeper_servers, zookeeper_connect, mesos_zk_url,
    marathon_zk_url.

    CLI Example:

    .. code-block:: bash

        salt-call quorum.plan
    """
    return _plan(
        _pillar_datacenters(),
        _grains(),
        datacenter,
        client_port=client_port,
        peer_port=peer_port,
        election_port=election_port,
    )
