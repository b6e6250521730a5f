"""
Quorum membership of the control plane, computed from the datacenter pillar.

The single place that turns ``datacenters`` pillar into ordered members, quorum sizes, Consul
``bootstrap_expect``, ZooKeeper ids, ports, server lines and connect strings, ``zk://`` URLs,
Consul WAN peers and the host's own entry with its address (see docs/data-model.md). States
and templates call these functions; no SLS recomputes any of this in Jinja.

The private functions take plain data (the ``datacenters`` mapping, the host's grains, the
site's hosts and pillar values) so that the arithmetic and the validation are tested without a
loader; the public functions read ``__pillar__``, ``__grains__`` and the site's hosts (under
salt-ssh the roster, under a salt-master the Salt mine), and work the same under salt-ssh, a
minion and salt-call. They call no other Salt function than ``mine.get``, and that one only
under a master: under salt-ssh this module runs as a wrapper module where templates render.
"""

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import salt.roster
from salt.exceptions import CommandExecutionError, SaltException, SaltInvocationError

__virtualname__ = "quorum"

# The ZooKeeper ports unless pillar zookeeper:ports names others.
ZOOKEEPER_PORTS = {"client": 2181, "peer": 2888, "election": 3888}
MAX_CONTROL_NODES = 7
# control and compute decide membership and the plan; edge (HAProxy) is a client host like any.
KNOWN_ROLES = ("control", "compute", "edge")
# Consul's datacenter names (agent/config/builder.go, validateBasicName); it lowercases the
# configured name first, so a capital letter would make Consul's name differ from the plan's.
DATACENTER_NAME = re.compile(r"[a-z0-9_-]+")
# Consul's node names served over DNS (agent/dns: InvalidNameRe, MaxLabelLength); the node
# name is the minion id. Consul warns about others, and they cannot be looked up.
NODE_NAME = re.compile(r"[A-Za-z0-9-]{1,63}")
# One label of a host name (RFC 1123): letters, digits and inner hyphens.
HOST_NAME_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
MAX_HOST_NAME = 253
# A release version: digits and dots, optionally a suffix (1.20.6, 1.21.0-rc1, 1.20.6+ent).
VERSION = re.compile(r"\d+(\.\d+)+([-+][0-9A-Za-z.+-]+)?")
VERSION_KEYS = (
    "consul:version",
    "zookeeper:install:archive:version",
    "marathon:install:archive:version",
)
PORT_KEYS = ("mesos:master:port", "mesos:agent:port", "marathon:http_port")
# Consul's upgrade instructions: each upgrade jumps at most 2 releases of the second number
# (1.12 to 1.14), except along the dedicated paths they give, (from, through, to): any release
# from `from` through `through` goes straight to `to`.
CONSUL_UPGRADE_DOCS = "https://developer.hashicorp.com/consul/docs/upgrade/instructions"
CONSUL_UPGRADE_SPAN = 2
CONSUL_DEDICATED_UPGRADES = (
    ("1.8.0", "1.9.17", "1.10.12"),
    ("1.6.9", "1.8.18", "1.8.19"),
    ("1.2.4", "1.6.9", "1.6.10"),
    ("0.8.5", "1.2.3", "1.2.4"),
)
# A release's numbers: (major, minor, patch).
Release = tuple[int, int, int]
# Consul's gossip keys are AES-128, -192 or -256 keys.
GOSSIP_KEY_SIZES = (16, 24, 32)
KEYGEN_COMMAND = "python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())'"
# Where Consul's gossip key may be, in order: the site's secrets, then the older place.
GOSSIP_KEY_PILLAR = ("secrets:consul:gossip_key", "consul:encrypt")
# The stages of a site's security, in the order a running site goes through them: certificates
# and ACLs (allow) on every agent, then TLS spoken and tokens used, then TLS and tokens required.
SECURITY_STAGES = ("open", "accept", "verify", "secure")
# What a secured site's pillar must hold besides the gossip key (platform_secrets makes it all).
SECURED_SITE_PILLAR = (
    "secrets:consul:ca:cert",
    "secrets:consul:ca:key_file",
    "secrets:consul:acl:management:secret_id",
    *(
        f"secrets:consul:acl:tokens:{name}:{part}"
        for name in ("salt", "registrator", "services", "health_checks", "replication")
        for part in ("accessor_id", "secret_id")
    ),
    "secrets:consul:acl:agent_seed",
    *(
        f"secrets:zookeeper:{login}:{part}"
        for login in ("quorum", "clients:mesos", "clients:marathon")
        for part in ("user", "password")
    ),
)
# The command that makes the site's secrets (platform_secrets, docs/secrets.md).
SECRETS_COMMAND = "scripts/secrets init pillar"
# Where the public functions keep the site's hosts for the rest of the render.
SITE_CONTEXT_KEY = "quorum.site"
# The alias under which minions publish their grains roles and datacenter to the Salt mine: the
# salt formula writes it into their configuration (salt_minion:mine_functions in
# salt/salt/defaults.yaml; tests/unit/test_quorum.py checks that the two agree).
MINE_FUNCTION = "platform_host"
# Where the site's hosts are read: how a message places a host there, and how its grains are
# corrected there.
SITE_SOURCES = {
    "roster": ("in the roster", "its grains are its roster entry's minion_opts grains"),
    "mine": (
        "in the Salt mine",
        "the mine holds the grains the minion last published: correct the minion's grains "
        "(salt.minion writes the roster's into its configuration), then run "
        "`salt {minion_id} mine.update`; a host gone for good leaves the mine with "
        "`salt-key -d {minion_id}`",
    ),
}


class Site(NamedTuple):
    """The site's hosts, ``{minion_id: grains}``, and where they were read (a key of
    SITE_SOURCES)."""

    source: str
    hosts: Mapping[str, Mapping]


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


def _is_node_name(value: Any) -> bool:
    return isinstance(value, str) and NODE_NAME.fullmatch(value) is not None


def _check_host_id(grains: Mapping) -> None:
    """The minion id is the host's Consul node name."""
    host = grains.get("id")
    if host is not None and not _is_node_name(host):
        raise SaltInvocationError(
            f"grain id (the minion id) is {host!r}, not a node name Consul serves over DNS: "
            "rename the host (its roster entry, or /etc/salt/minion_id) with letters, digits "
            "and '-' only, at most 63 characters"
        )


def _is_address(value: Any) -> bool:
    """An IPv4 or IPv6 address, or a host name in RFC 1123 syntax (not looked up)."""
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    labels = value.split(".")
    # A name ending in a number is a broken IPv4 address (10.0.1.300, 10.0.1), not a name.
    return (
        len(value) <= MAX_HOST_NAME
        and all(HOST_NAME_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


def _check_address(what: str, value: Any) -> None:
    if not _is_address(value):
        raise SaltInvocationError(
            f"{what} is {value!r}, neither an IP address nor a host name: write an IPv4 "
            "address (10.0.1.11), an IPv6 address (fd00::11) or a host name (letters, digits "
            "and '-', dot-separated)"
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


def _check_datacenter_name(name: Any) -> None:
    if not isinstance(name, str) or not DATACENTER_NAME.fullmatch(name):
        raise SaltInvocationError(
            f"pillar datacenters:{name} is not a datacenter name Consul accepts: name it "
            "with lowercase letters, digits, '-' and '_' only (dc1, eu-west_2), alike in the "
            "pillar key, its file name and the hosts' grain datacenter"
        )


def _check_node_fields(key: str, node: Any) -> None:
    """One entry of ``control_nodes``: an id Consul can serve, and addresses."""
    for field in ("id", "address", "wan_address"):
        value = node.get(field) if isinstance(node, Mapping) else None
        if field == "wan_address" and value is None:
            continue
        if not value or not isinstance(value, str):
            raise SaltInvocationError(
                f"pillar {key} has no {field} (a non-empty string): give every "
                "control node an id (its minion id) and an address (optional wan_address)"
            )
        if field == "id" and not _is_node_name(value):
            raise SaltInvocationError(
                f"pillar {key}:id is {value!r}, not a node name Consul serves over DNS: "
                "list the host by its minion id, and name hosts with letters, digits and '-' "
                "only, at most 63 characters"
            )
        if field != "id":
            _check_address(f"pillar {key}:{field}", value)


def _check_control_nodes(datacenters: Mapping, name: str) -> None:
    """Name, shape and size of one datacenter's ``control_nodes``."""
    _check_datacenter_name(name)
    settings = datacenters[name]
    key = _control_nodes_key(name)
    nodes = settings.get("control_nodes") if isinstance(settings, Mapping) else None
    if not nodes or not isinstance(nodes, list):
        raise SaltInvocationError(
            f"pillar {key} is missing, empty or not a list: list the datacenter's control "
            "nodes (1, 3, 5 or 7 of them), each with an id (its minion id) and an address"
        )
    for index, node in enumerate(nodes):
        _check_node_fields(f"{key}:{index}", node)
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


def _check_host_listed(
    datacenters: Mapping, grains: Mapping, name: str, who: str, grains_fix: str = ""
) -> None:
    """The host's ``control`` role and its place in ``control_nodes`` agree; ``grains_fix``
    says where the host's grains are corrected, if not on the host itself."""
    host = grains.get("id")
    has_role = "control" in _host_roles(grains)
    listed = any(node["id"] == host for node in datacenters[name]["control_nodes"])
    key = _control_nodes_key(name)
    where = f" ({grains_fix})" if grains_fix else ""
    if has_role and not listed:
        raise SaltInvocationError(
            f"{who} has role control (grain roles) but is not listed in pillar {key}: add it "
            f"there with its id and address, or remove the role{where}"
        )
    if listed and not has_role:
        raise SaltInvocationError(
            f"{who} is listed in pillar {key} but its grain roles lacks control: add the "
            f"role{where}, or remove it from the list (every listed node counts in the quorum)"
        )


def _check_site_hosts(datacenters: Mapping, grains: Mapping, name: str, site: Site) -> None:
    """The other hosts of the site agree with datacenter ``name``'s ``control_nodes`` too.

    So a host whose grains disagree with the pillar fails the render of every host of its
    datacenter, not only its own.
    """
    listed = {node["id"] for node in datacenters[name]["control_nodes"]}
    where, grains_fix = SITE_SOURCES[site.source]
    for minion_id in sorted(site.hosts):
        if minion_id == grains.get("id"):
            continue
        host_grains = {**site.hosts[minion_id], "id": minion_id}
        who = f"host {minion_id} ({where})"
        fix = grains_fix.format(minion_id=minion_id)
        if host_grains.get("datacenter") == name:
            _check_host_listed(datacenters, host_grains, name, who, fix)
        elif minion_id in listed:
            raise SaltInvocationError(
                f"{who} is listed in pillar {_control_nodes_key(name)} but its grain "
                f"datacenter is {host_grains.get('datacenter')!r}: set it to {name} ({fix}), "
                "or remove the host from the list"
            )


def _validated(
    datacenters: Any, grains: Mapping, datacenter: str | None = None, site: Site | None = None
) -> str:
    """Validate the plan for one datacenter and return its name.

    When it is the host's own datacenter, the host and, if ``site`` is known, every other
    host of that datacenter must agree with its ``control_nodes``.
    """
    _check_datacenters(datacenters)
    _check_host_roles(grains)
    _check_host_id(grains)
    name = _resolve_datacenter(datacenters, grains, datacenter)
    _check_control_nodes(datacenters, name)
    _check_unique(datacenters)
    if grains.get("datacenter") == name:
        _check_host_listed(datacenters, grains, name, f"host {_host_id(grains)}")
        if site is not None:
            _check_site_hosts(datacenters, grains, name, site)
    return name


def _lookup(pillar: Mapping, key: str) -> Any:
    """The pillar value at ``key`` (``consul:config:ports``); None where a level is missing."""
    value: Any = pillar
    for part in key.split(":"):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _check_port(key: str, value: Any, *, may_disable: bool = False) -> None:
    is_integer = isinstance(value, int) and not isinstance(value, bool)
    if is_integer and (1 <= value <= 65535 or (may_disable and value == -1)):
        return
    disable = ", or -1 to turn the listener off" if may_disable else ""
    raise SaltInvocationError(
        f"pillar {key} is {value!r}: set it to a port number, an integer from 1 to 65535"
        f"{disable}"
    )


def _zookeeper_ports(settings: Any) -> dict[str, int]:
    """Client, peer and election ports: pillar ``zookeeper:ports`` over ZOOKEEPER_PORTS."""
    if settings is None:
        settings = {}
    if not isinstance(settings, Mapping):
        raise SaltInvocationError(
            f"pillar zookeeper:ports is a {type(settings).__name__}: map client, peer and "
            "election to port numbers, or leave it out for 2181, 2888 and 3888"
        )
    ports = {name: settings.get(name, default) for name, default in ZOOKEEPER_PORTS.items()}
    used_by: dict[int, str] = {}
    for name, port in ports.items():
        _check_port(f"zookeeper:ports:{name}", port)
        if port in used_by:
            raise SaltInvocationError(
                f"pillar zookeeper:ports:{name} is {port}, as is zookeeper:ports:"
                f"{used_by[port]}: ZooKeeper listens on three different ports (client, peer "
                "and election)"
            )
        used_by[port] = name
    return ports


def _check_ports(pillar: Mapping) -> None:
    """Every port a program of the platform is told, where pillar sets it."""
    consul_ports = _lookup(pillar, "consul:config:ports")
    if consul_ports is not None and not isinstance(consul_ports, Mapping):
        raise SaltInvocationError(
            f"pillar consul:config:ports is a {type(consul_ports).__name__}: map Consul's "
            "listeners (dns, http, serf_lan, ...) to port numbers"
        )
    for name, port in sorted((consul_ports or {}).items(), key=lambda item: str(item[0])):
        _check_port(f"consul:config:ports:{name}", port, may_disable=True)
    _zookeeper_ports(_lookup(pillar, "zookeeper:ports"))
    for key in PORT_KEYS:
        port = _lookup(pillar, key)
        if port is not None:
            _check_port(key, port)


def _check_versions(pillar: Mapping) -> None:
    for key in VERSION_KEYS:
        version = _lookup(pillar, key)
        if version is not None and not (isinstance(version, str) and VERSION.fullmatch(version)):
            raise SaltInvocationError(
                f"pillar {key} is {version!r}, not a release version: write it quoted, as "
                "digits and dots with an optional suffix ('1.20.6', '1.20.6+ent', '3.8.4'); "
                "unquoted, YAML reads 1.10 as the number 1.1"
            )


def _gossip_key_size(key: str) -> int | None:
    """Bytes in a base64 gossip key (standard alphabet, padded); None if it is not base64."""
    try:
        return len(base64.b64decode(key, validate=True))
    except (binascii.Error, ValueError):
        return None


def _gossip_key_pillar(pillar: Mapping) -> str | None:
    """The pillar key that holds Consul's gossip key, if any holds one: the site's secrets
    (``scripts/secrets init``), else the older ``consul:encrypt``."""
    return next((key for key in GOSSIP_KEY_PILLAR if _lookup(pillar, key)), None)


def _check_gossip_key(pillar: Mapping, source: str) -> None:
    key = _lookup(pillar, source)
    if not isinstance(key, str) or _gossip_key_size(key) not in GOSSIP_KEY_SIZES:
        # The message never shows the key, a secret.
        raise SaltInvocationError(
            f"pillar {source} is not a gossip key: Consul takes 16, 24 or 32 random bytes "
            f"in base64. Let `{SECRETS_COMMAND}` make it (remove the key and run it "
            f"again), or make one with `consul keygen` or {KEYGEN_COMMAND}"
        )


def _requested_stage(pillar: Mapping) -> str:
    """The stage pillar asks for: ``open`` with security:open, else security:stage (default
    ``secure``)."""
    open_site = _lookup(pillar, "security:open")
    if open_site not in (None, True, False):
        raise SaltInvocationError(
            f"pillar security:open is {open_site!r}: set it to true (a plaintext site, on "
            "purpose) or false, or leave it out"
        )
    stage = _lookup(pillar, "security:stage")
    if open_site is True:
        if stage not in (None, "open"):
            raise SaltInvocationError(
                f"pillar security:open is true and security:stage is {stage!r}: remove "
                "security:open to secure the site stage by stage (docs/security.md)"
            )
        return "open"
    if stage is None:
        return SECURITY_STAGES[-1]
    if stage not in SECURITY_STAGES[1:]:
        raise SaltInvocationError(
            f"pillar security:stage is {stage!r}: set it to one of "
            f"{', '.join(SECURITY_STAGES[1:])} (docs/security.md), or leave it out (secure)"
        )
    return stage


def _check_secrets_present(pillar: Mapping) -> None:
    missing = [key for key in SECURED_SITE_PILLAR if not _lookup(pillar, key)]
    if missing:
        raise SaltInvocationError(
            f"pillar {missing[0]} is missing ({len(missing)} secret(s) in all): make the "
            f"site's secrets with `{SECRETS_COMMAND}` (a re-run adds only what is missing) and "
            "give pillar `secrets` to every host (pillar/top.sls), or set pillar "
            "security:open: true to run a plaintext site on purpose"
        )


def _check_stage_step(stage: str, current: Any, host: str) -> None:
    """A running agent moves one stage at a time: servers that require TLS before every
    client speaks it, or ACLs that deny before every token exists, split the datacenter."""
    if current not in SECURITY_STAGES:
        return
    step = SECURITY_STAGES.index(stage) - SECURITY_STAGES.index(current)
    if abs(step) <= 1:
        return
    toward = SECURITY_STAGES.index(current) + (1 if step > 0 else -1)
    raise SaltInvocationError(
        f"Consul on {host} runs at security stage {current!r} and pillar asks for {stage!r}: "
        "a running site changes one stage at a time, or agents lose each other. Set pillar "
        f"security:stage to {SECURITY_STAGES[toward]!r}, converge every host, and go on "
        f"({' -> '.join(SECURITY_STAGES)}; docs/security.md)"
    )


def _security(pillar: Mapping, grains: Mapping | None = None) -> dict[str, Any]:
    """What the site secures at its stage, checked: refuses a plan without its secrets unless
    pillar ``security:open`` says, explicitly, that the site runs in the clear, and a jump of
    more than one stage on a host whose agent runs (grain ``consul_security_stage``)."""
    grains = grains or {}
    stage = _requested_stage(pillar)
    source = _gossip_key_pillar(pillar)
    if stage == "open":
        if source is not None:
            _check_gossip_key(pillar, source)
    else:
        if source is None:
            raise SaltInvocationError(
                "pillar secrets:consul:gossip_key is missing, so Consul's gossip would run in "
                f"the clear: make the site's secrets with `{SECRETS_COMMAND}` and give pillar "
                "`secrets` to every host (pillar/top.sls), or set pillar security:open: true "
                "to run a plaintext site on purpose"
            )
        _check_gossip_key(pillar, source)
        _check_secrets_present(pillar)
    _check_stage_step(stage, grains.get("consul_security_stage"), _host_id(grains))
    level = SECURITY_STAGES.index(stage)
    return {
        "open": stage == "open",
        "stage": stage,
        # The stages this one includes, in order (none when open): a formula whose programs
        # switch something on at a stage applies what each of them adds.
        "stages_reached": list(SECURITY_STAGES[1 : level + 1]),
        "gossip_key_pillar": source,
        # Certificates on every agent and ACLs switched on (default allow until secure).
        "tls": level >= 1,
        "acl_default_policy": None if level < 1 else ("deny" if stage == "secure" else "allow"),
        # Agents, programs and service definitions present their tokens: they exist from the
        # stage before (accept makes them).
        "tokens_in_use": level >= 2,
        "verify_outgoing": level >= 2,
        "verify_incoming": level >= 3,
    }


def _agents(datacenters: Mapping, grains: Mapping, site: Site | None) -> list[dict[str, str]]:
    """Every Consul agent of the site that the render knows, ``{"id", "datacenter"}`` by id:
    the control nodes of every datacenter of pillar, every host of the site (the roster under
    salt-ssh, the Salt mine under a master) and this host, by its own grains. Masterless,
    another host that is not a control node is not known. A host whose grain datacenter
    pillar lacks is left out: its own render fails, naming the datacenter file to add."""
    agents = {
        node["id"]: str(name)
        for name in _names(datacenters)
        for node in datacenters[name]["control_nodes"]
    }
    hosts = {**(site.hosts if site is not None else {}), grains.get("id"): grains}
    for minion_id, host_grains in hosts.items():
        datacenter = host_grains.get("datacenter")
        if minion_id and isinstance(datacenter, str) and datacenter in datacenters:
            agents[minion_id] = datacenter
    return [{"id": node, "datacenter": name} for node, name in sorted(agents.items())]


def _primary_datacenter(datacenters: Mapping, pillar: Mapping) -> str:
    """The datacenter whose servers hold the ACLs (Consul's ``primary_datacenter``): pillar
    consul:primary_datacenter, else the first datacenter by name. It must never change."""
    primary = _lookup(pillar, "consul:primary_datacenter")
    if primary is None:
        return _names(datacenters)[0]
    if primary not in _names(datacenters):
        raise SaltInvocationError(
            f"pillar consul:primary_datacenter is {primary!r}, which is not a datacenter of "
            f"pillar datacenters ({', '.join(_names(datacenters))}): name one of them"
        )
    return primary


def _release(version: str) -> Release:
    """The numbers of a release version, without its suffix: ``1.20.6+ent`` is (1, 20, 6),
    ``1.20`` is (1, 20, 0)."""
    numbers = [int(part) for part in re.split(r"[-+]", version, maxsplit=1)[0].split(".")]
    major, minor, patch = (numbers + [0])[:3]
    return major, minor, patch


def _dedicated_upgrades(running: Release, target: Release) -> list[Release]:
    """The releases a dedicated path of CONSUL_DEDICATED_UPGRADES takes ``running`` to, up to
    ``target``."""
    return [
        _release(to)
        for start, through, to in CONSUL_DEDICATED_UPGRADES
        if _release(start) <= running <= _release(through) and running < _release(to) <= target
    ]


def _consul_step_documented(running: Release, target: Release) -> bool:
    """Whether Consul's upgrade instructions take ``running`` straight to ``target``."""
    same_major = running[0] == target[0]
    return (same_major and target[1] - running[1] <= CONSUL_UPGRADE_SPAN) or (
        target in _dedicated_upgrades(running, target)
    )


def _consul_upgrade_path(running: str, target: str) -> list[str] | None:
    """The releases to set one after the other from ``running`` up to ``target`` (its last),
    the longest documented step each time; ``1.12.x`` stands for that series' latest patch
    release. None when Consul documents no path (a major version without a dedicated one)."""
    current, goal = _release(running), _release(target)
    steps = []
    while not _consul_step_documented(current, goal):
        candidates = [(to, ".".join(map(str, to))) for to in _dedicated_upgrades(current, goal)]
        if current[0] == goal[0]:
            series = (current[0], current[1] + CONSUL_UPGRADE_SPAN, 0)
            candidates.append((series, f"{series[0]}.{series[1]}.x"))
        if not candidates:
            return None
        current, step = max(candidates)
        steps.append(step)
    return [*steps, target]


def _check_consul_upgrade(pillar: Mapping, grains: Mapping) -> None:
    """A host that runs Consul (grain consul_version) takes pillar consul:version only along
    Consul's upgrade instructions: no downgrade, no longer step. A new host takes any."""
    target = _lookup(pillar, "consul:version")
    running = grains.get("consul_version")
    if target is None or not isinstance(running, str) or not VERSION.fullmatch(running):
        return
    where = f"pillar consul:version is {target} but {_host_id(grains)} runs Consul {running}"
    if _release(target) < _release(running):
        raise SaltInvocationError(
            f"{where}: Consul does not support downgrades (its servers' raft data may hold what "
            f"an older release cannot read). Set consul:version to {running} or later; going "
            "back is a datacenter rebuilt at the older release from the snapshot its servers "
            "saved before the upgrade (consul:backup)"
        )
    path = _consul_upgrade_path(running, target)
    if path is None:
        raise SaltInvocationError(
            f"{where}: Consul documents no upgrade from {running} to a release of major "
            f"version {_release(target)[0]} ({CONSUL_UPGRADE_DOCS}). Set consul:version to a "
            f"{_release(running)[0]}.x release"
        )
    if len(path) > 1:
        latest = any(step.endswith(".x") for step in path)
        series = "; x: that series' latest patch release" if latest else ""
        raise SaltInvocationError(
            f"{where}: Consul upgrades by at most {CONSUL_UPGRADE_SPAN} minor releases at a "
            f"time (1.12 to 1.14), or along a dedicated path ({CONSUL_UPGRADE_DOCS}). Set "
            f"consul:version to {path[0]}, converge every host, and go on "
            f"({' -> '.join([running, *path])}{series})"
        )


def _check_settings(pillar: Mapping, grains: Mapping | None = None) -> None:
    """The programs' settings in pillar that the programs have rules for, and the steps a
    running host may take from where it is."""
    _security(pillar, grains)
    _check_versions(pillar)
    _check_consul_upgrade(pillar, grains or {})
    _check_ports(pillar)


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


def _route_network(route: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The destination of one entry of grain platform_routes; None if it is malformed."""
    if not isinstance(route, Mapping) or not isinstance(route.get("source"), str):
        return None
    destination = route.get("destination")
    if destination == "default":
        destination = "::/0" if route.get("family") == 6 else "0.0.0.0/0"
    try:
        return ipaddress.ip_network(destination, strict=False)
    except (TypeError, ValueError):
        return None


def _route_source(routes: Any, peer: str) -> str | None:
    """Source address of the most specific route towards ``peer`` in grain platform_routes.

    A peer given by host name is not looked up: it takes the default route, IPv4 first.
    """
    candidates = [
        (network, route["source"])
        for route in (routes if isinstance(routes, list) else [])
        if (network := _route_network(route)) is not None
    ]
    try:
        target = ipaddress.ip_address(peer)
    except ValueError:
        defaults = [fit for fit in candidates if fit[0].prefixlen == 0]
        return min(defaults, key=lambda fit: fit[0].version)[1] if defaults else None
    fitting = [fit for fit in candidates if fit[0].version == target.version and target in fit[0]]
    return max(fitting, key=lambda fit: fit[0].prefixlen)[1] if fitting else None


def _host_address(grains: Mapping, peer: str) -> str:
    """The address a host that is not a control node is reached at (see docs/data-model.md)."""
    override = grains.get("platform_address")
    if override:
        _check_address(f"grain platform_address of {_host_id(grains)}", override)
        return override
    source = _route_source(grains.get("platform_routes"), peer)
    if source is None:
        raise SaltInvocationError(
            f"host {_host_id(grains)} has no route towards {peer}, its datacenter's first "
            "control node, in grain platform_routes: set grain platform_address to the "
            "address its peers reach it at (roster minion_opts grains, or /etc/salt/grains), "
            "or sync the platform grains (_grains/platform.py) to the host"
        )
    return source


def _host(datacenters: Mapping, grains: Mapping, name: str, site: Site | None) -> dict[str, Any]:
    """The host's own entry, in its own datacenter whichever datacenter ``name`` the plan is of."""
    own = name if grains.get("datacenter") == name else _validated(datacenters, grains, site=site)
    members = _members(datacenters, own)
    member = _member(members, grains.get("id"))
    roles = _host_roles(grains)
    if member:
        address, wan_address = member["address"], member["wan_address"]
    else:
        address = wan_address = _host_address(grains, members[0]["address"])
    return {
        "id": grains.get("id"),
        "datacenter": own,
        "roles": roles,
        "is_control": member is not None,
        "is_compute": "compute" in roles,
        "address": address,
        "wan_address": wan_address,
    }


def _zookeeper_ensemble(members: list[dict[str, Any]], ports: Mapping[str, int]) -> dict[str, str]:
    """The ensemble by server id, as zoo.cfg's server.N lines give it: ``{"1":
    "10.0.1.11:2888:3888", ...}`` (grain zookeeper_servers and ZooKeeper's conf read alike)."""
    return {
        str(member["zk_id"]): f"{member['address']}:{ports['peer']}:{ports['election']}"
        for member in members
    }


def _zookeeper_servers(members: list[dict[str, Any]], ports: Mapping[str, int]) -> list[str]:
    return [
        f"server.{server_id}={entry}"
        for server_id, entry in _zookeeper_ensemble(members, ports).items()
    ]


def _check_ensemble_step(
    grains: Mapping, name: str, members: list[dict[str, Any]], ports: Mapping[str, int]
) -> None:
    """A running member's ensemble (grain zookeeper_servers, its zoo.cfg) gains or loses at
    most one server to become the plan's. ZooKeeper's members take a new server list one
    restart at a time: only a change of one server keeps every quorum of the old list
    overlapping every quorum of the new one, so that no two leaders can be elected."""
    running = grains.get("zookeeper_servers")
    if not isinstance(running, Mapping) or not running:
        return
    planned = _zookeeper_ensemble(members, ports)
    changed = sorted(
        (server_id for server_id in {*running, *planned}
         if running.get(server_id) != planned.get(server_id)),
        key=int,
    )
    if len(changed) <= 1:
        return
    names = {str(member["zk_id"]): f"{member['id']} (server.{member['zk_id']})"
             for member in members}
    named = ", ".join(names.get(server_id, f"server.{server_id}") for server_id in changed)
    raise SaltInvocationError(
        f"pillar {_control_nodes_key(name)} changes {len(changed)} servers of the ZooKeeper "
        f"ensemble at once ({named}; zoo.cfg of {_host_id(grains)} lists {len(running)}): "
        "ZooKeeper takes a new server list one member at a time, and only one server more "
        "or less keeps the old and the new quorums overlapping. Add or remove one control "
        "node, converge, then the next (docs/operations.md)"
    )


def _zookeeper_connect(members: list[dict[str, Any]], ports: Mapping[str, int]) -> str:
    return ",".join(f"{member['address']}:{ports['client']}" for member in members)


def _zk_url(members: list[dict[str, Any]], path: str, ports: Mapping[str, int]) -> str:
    return f"zk://{_zookeeper_connect(members, ports)}/{path.lstrip('/')}"


def _plan(
    datacenters: Any,
    grains: Mapping,
    datacenter: str | None = None,
    *,
    zookeeper_ports: Any = None,
    site: Site | None = None,
) -> dict[str, Any]:
    """The plan of one datacenter; ``zookeeper_ports`` is pillar ``zookeeper:ports``."""
    name = _validated(datacenters, grains, datacenter, site)
    ports = _zookeeper_ports(zookeeper_ports)
    members = _members(datacenters, name)
    size = len(members)
    member = _member(members, grains.get("id"))
    if member:
        _check_ensemble_step(grains, name, members, ports)
    return {
        "datacenter": name,
        "members": members,
        "size": size,
        "majority": _majority(size),
        "fault_tolerance": _fault_tolerance(size),
        "bootstrap_expect": size,
        "lan_peers": [member["address"] for member in members],
        "wan_peers": _wan_peers(datacenters, name),
        "is_control": member is not None,
        "zookeeper_id": member["zk_id"] if member else None,
        "host": _host(datacenters, grains, name, site),
        "zookeeper_ports": ports,
        "zookeeper_servers": _zookeeper_servers(members, ports),
        "zookeeper_ensemble": _zookeeper_ensemble(members, ports),
        "zookeeper_connect": _zookeeper_connect(members, ports),
        "mesos_zk_url": _zk_url(members, "/mesos", ports),
        "marathon_zk_url": _zk_url(members, "/marathon", ports),
    }


def _roster_grains(entry: Any) -> dict[str, Any]:
    """A roster entry's grains: ``minion_opts: {grains: ...}``, then top-level ``grains``.

    salt-ssh gives the target both, the top-level ones last.
    """
    entry = entry if isinstance(entry, Mapping) else {}
    minion_opts = entry.get("minion_opts")
    grains: dict[str, Any] = {}
    nested = minion_opts.get("grains") if isinstance(minion_opts, Mapping) else None
    for given in (nested, entry.get("grains")):
        if isinstance(given, Mapping):
            grains.update(given)
    return grains


def _roster_site(master_opts: Mapping) -> Site:
    """The hosts of salt-ssh's roster."""
    roster = salt.roster.Roster(master_opts, master_opts.get("roster") or "flat")
    try:
        targets = roster.targets("*", "glob")
    finally:
        roster.destroy()
    hosts = {str(minion_id): _roster_grains(entry) for minion_id, entry in targets.items()}
    return Site("roster", hosts)


def _mine_site(mined: Any, grains: Mapping) -> Site:
    """The hosts that published MINE_FUNCTION to the Salt mine, ``mine.get`` answering
    ``{minion_id: grains}``.

    A minion publishes it when it starts and every ``mine_interval``. A mine without this
    host (none of the minions publish, or not this one) fails the render: the other hosts
    would not check this one against the plan, nor would the first control node make its
    Consul token, and nothing would ever say so.
    """
    answer = mined if isinstance(mined, Mapping) else {}
    hosts = {
        str(minion_id): host_grains
        for minion_id, host_grains in answer.items()
        if isinstance(host_grains, Mapping)
    }
    host = _host_id(grains)
    if host not in hosts:
        raise SaltInvocationError(
            f"the Salt mine holds no {MINE_FUNCTION} of {host}, so the other hosts cannot "
            "check it against the plan nor the first control node make its Consul token: "
            f"give the minion the mine_functions {MINE_FUNCTION} (salt.minion writes it, "
            f"salt_minion:mine_functions), then run `salt {host} mine.update`"
        )
    return Site("mine", hosts)


# Salt's loader injects __pillar__, __grains__, __opts__, __context__ and __salt__; these
# accessors are their only readers.
def _pillar() -> Mapping:
    return __pillar__


def _pillar_datacenters() -> Any:
    return _pillar().get("datacenters")


def _grains() -> Mapping:
    return __grains__


def _mine_get() -> Any:
    """Every minion's MINE_FUNCTION in the Salt mine, asked of the master."""
    try:
        return __salt__["mine.get"]("*", MINE_FUNCTION)
    except SaltException as err:
        raise CommandExecutionError(
            f"the Salt mine did not answer (mine.get '*' {MINE_FUNCTION}: {err}): the plan "
            "check needs the site's hosts from the master"
        ) from err


def _site() -> Site | None:
    """The site's hosts, read once per render: under salt-ssh the roster, under a salt-master
    the Salt mine; masterless None.

    A salt-ssh wrapper module runs on the machine that renders, with salt-ssh's own options
    in ``__opts__["__master_opts__"]``. A minion of a master (the daemon, or salt-call without
    ``--local``) takes its files from the master (``file_client: remote``) and reads the mine
    there (see ``_mine_site``). ``salt-call --local``, a minion with ``file_client: local`` and
    the host side of salt-ssh have neither, and check only the host itself.
    """
    if SITE_CONTEXT_KEY not in __context__:
        if __opts__.get("__master_opts__"):
            site = _roster_site(__opts__["__master_opts__"])
        elif __opts__.get("__role") == "minion" and __opts__.get("file_client") == "remote":
            site = _mine_site(_mine_get(), _grains())
        else:
            site = None
        __context__[SITE_CONTEXT_KEY] = site
    return __context__[SITE_CONTEXT_KEY]


def _validated_here(datacenter: str | None) -> str:
    return _validated(_pillar_datacenters(), _grains(), datacenter, _site())


def _validated_members(datacenter: str | None) -> list[dict[str, Any]]:
    return _members(_pillar_datacenters(), _validated_here(datacenter))


def _located_member(minion_id: str | None) -> dict[str, Any] | None:
    """The control member ``minion_id`` (default: this host), or None if it is not one."""
    # Another minion is looked up in whichever datacenter lists it; this host in its own.
    located = None if minion_id is None else _datacenter_of(_pillar_datacenters(), minion_id)
    name = _validated_here(located)
    return _member(_members(_pillar_datacenters(), name), minion_id or _grains().get("id"))


def _pillar_zookeeper_ports() -> dict[str, int]:
    return _zookeeper_ports(_lookup(_pillar(), "zookeeper:ports"))


def validate(datacenter: str | None = None) -> bool:
    """
    Check the plan, this host, the site's hosts and the programs' settings in pillar.

    Raises SaltInvocationError naming the pillar key or grain and the fix.

    CLI Example:

    .. code-block:: bash

        salt-call quorum.validate
        salt-call quorum.validate datacenter=dc2
    """
    name = _validated_here(datacenter)
    _host(_pillar_datacenters(), _grains(), name, _site())
    _check_settings(_pillar(), _grains())
    members = _members(_pillar_datacenters(), name)
    if _member(members, _grains().get("id")):
        _check_ensemble_step(_grains(), name, members, _pillar_zookeeper_ports())
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
    return _wan_peers(_pillar_datacenters(), _validated_here(datacenter))


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


def zookeeper_servers(datacenter: str | None = None) -> list[str]:
    """
    ZooKeeper ``server.N=address:peer:election`` lines, in id order (ports: zookeeper:ports).

    CLI Example:

    .. code-block:: bash

        salt-call quorum.zookeeper_servers
    """
    return _zookeeper_servers(_validated_members(datacenter), _pillar_zookeeper_ports())


def zookeeper_connect(datacenter: str | None = None) -> str:
    """
    ZooKeeper connect string ``address:2181,...`` (port: zookeeper:ports:client).

    CLI Example:

    .. code-block:: bash

        salt-call quorum.zookeeper_connect
    """
    return _zookeeper_connect(_validated_members(datacenter), _pillar_zookeeper_ports())


def zk_url(path: str, datacenter: str | None = None) -> str:
    """
    ``zk://`` URL of ``path`` on the datacenter's ZooKeeper ensemble (Mesos, Marathon).

    CLI Example:

    .. code-block:: bash

        salt-call quorum.zk_url /mesos
    """
    return _zk_url(_validated_members(datacenter), path, _pillar_zookeeper_ports())


def plan(datacenter: str | None = None) -> dict[str, Any]:
    """
    Everything above in one dict, for templates; runs every check of validate().

    Keys: datacenter, members, size, majority, fault_tolerance, bootstrap_expect, lan_peers,
    wan_peers, is_control, zookeeper_id, host, zookeeper_ports, zookeeper_servers,
    zookeeper_ensemble (the same by server id), zookeeper_connect, mesos_zk_url,
    marathon_zk_url, primary_datacenter (the one that holds Consul's ACLs), agents (every
    Consul agent the render knows: ``{"id", "datacenter"}``),
    security (``stage``, one of SECURITY_STAGES; ``open``; ``stages_reached``,
    the stages from accept to this one; ``gossip_key_pillar``: the pillar key of Consul's gossip key, or None; what the stage switches on: ``tls``,
    ``acl_default_policy``, ``tokens_in_use``, ``verify_outgoing``, ``verify_incoming``).

    CLI Example:

    .. code-block:: bash

        salt-call quorum.plan
    """
    _check_settings(_pillar(), _grains())
    return {
        **_plan(
            _pillar_datacenters(),
            _grains(),
            datacenter,
            zookeeper_ports=_lookup(_pillar(), "zookeeper:ports"),
            site=_site(),
        ),
        "security": _security(_pillar(), _grains()),
        "primary_datacenter": _primary_datacenter(_pillar_datacenters(), _pillar()),
        "agents": _agents(_pillar_datacenters(), _grains(), _site()),
    }
