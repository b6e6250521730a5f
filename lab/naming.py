"""Names, labels, addresses and the shape of the lab.

Everything the lab creates carries the label ``LABEL`` and a name from here, so that the lab
removes only what it made and reuses what an earlier run left.
"""

import ipaddress
import re
from dataclasses import dataclass, field
from typing import NamedTuple

LABEL = "io.saltplatform.lab"
# The host image of a release is IMAGE_REPOSITORY-<release>, e.g. saltplatform-lab/debian-trixie.
IMAGE_REPOSITORY = "saltplatform-lab/debian"
NETWORK_PREFIX = "saltplatform-lab"
MIRROR_PORT = 8780
MIRROR_HOSTNAME = "mirror.lab"
# The lab's salt-master (lab/master.py) as the hosts name it: on each LAN its own address there.
MASTER_HOSTNAME = "salt.lab"
MASTER_HOST_NUMBER = 250
# The Debian releases the lab builds hosts of; a datacenter without @RELEASE runs the first.
RELEASES = ("bookworm", "trixie")
DEFAULT_RELEASE = RELEASES[0]
# Both releases in every run: dc1 on bookworm with an edge host, dc2 on trixie.
DEFAULT_SHAPE = "dc1=3+1+1,dc2=1+1@trixie"
# The lab's own networks: 10.231.0.0/24 is the WAN of the control nodes, 10.231.N.0/24 the
# LAN of the N-th datacenter. Override with LAB_SUBNET_PREFIX if it collides with a site's.
DEFAULT_SUBNET_PREFIX = "10.231"


@dataclass(frozen=True)
class Host:
    """One lab host: its name is its minion id and its container's name."""

    name: str
    datacenter: str
    release: str
    roles: tuple[str, ...]
    address: str
    wan_address: str | None = None


@dataclass(frozen=True)
class Network:
    name: str
    subnet: str

    @property
    def gateway(self) -> str:
        return str(next(ipaddress.ip_network(self.subnet).hosts()))

    @property
    def master_address(self) -> str:
        """The lab's salt-master on this network (apart from the shape's hosts, .11 to .209)."""
        return str(ipaddress.ip_network(self.subnet)[MASTER_HOST_NUMBER])


class DatacenterShape(NamedTuple):
    """One datacenter of a shape: ``dc1=3+1+1`` is ``("dc1", 3, 1, "bookworm", 1)``,
    ``dc2=1+1@trixie`` is ``("dc2", 1, 1, "trixie", 0)``."""

    name: str
    controls: int
    computes: int
    release: str
    edges: int = 0


@dataclass
class Layout:
    """The lab's datacenters, networks and hosts for a shape like ``dc1=3+1+1,dc2=1+1@trixie``."""

    shape: str
    subnet_prefix: str = DEFAULT_SUBNET_PREFIX
    hosts: list[Host] = field(default_factory=list)
    networks: dict[str, Network] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.networks["wan"] = Network(f"{NETWORK_PREFIX}-wan", f"{self.subnet_prefix}.0.0/24")
        for index, (datacenter, controls, computes, release, edges) in enumerate(
            parse_shape(self.shape), 1
        ):
            lan = f"{self.subnet_prefix}.{index}"
            self.networks[datacenter] = Network(f"{NETWORK_PREFIX}-{datacenter}", f"{lan}.0/24")
            # Control nodes at .11 and up, also on the WAN; compute at .101, edge at .201.
            for role, count, first in (
                ("control", controls, 10), ("compute", computes, 100), ("edge", edges, 200)
            ):
                for number in range(1, count + 1):
                    wan = f"{self.subnet_prefix}.0.{index * 16 + number}"
                    self.hosts.append(
                        Host(
                            name=f"{datacenter}-{role}-{number}",
                            datacenter=datacenter,
                            release=release,
                            roles=(role,),
                            address=f"{lan}.{first + number}",
                            wan_address=wan if role == "control" else None,
                        )
                    )

    @property
    def datacenters(self) -> list[str]:
        return [name for name in self.networks if name != "wan"]

    @property
    def releases(self) -> list[str]:
        """The Debian releases of the hosts, each once, in the order of the shape."""
        return list(dict.fromkeys(host.release for host in self.hosts))

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(f"no lab host named {name}")


def parse_shape(shape: str) -> list[DatacenterShape]:
    """``"dc1=3+1+1,dc2=1+1@trixie"`` -> ``[("dc1", 3, 1, "bookworm", 1), ("dc2", 1, 1,
    "trixie", 0)]``, with a clear error."""
    datacenters = []
    for part in shape.split(","):
        match = re.fullmatch(r"\s*([a-z][a-z0-9-]*)=(\d+)\+(\d+)(?:\+(\d+))?(?:@([^\s@]*))?\s*", part)
        if not match:
            raise ValueError(
                f"lab shape {shape!r}: each datacenter is NAME=CONTROL+COMPUTE[+EDGE][@RELEASE], "
                "e.g. dc1=3+1, dc1=3+1+1 or dc2=1+1@trixie"
            )
        name, controls, computes = match[1], int(match[2]), int(match[3])
        edges = int(match[4] or 0)
        release = DEFAULT_RELEASE if match[5] is None else match[5]
        if not 1 <= controls <= 7 or not 0 <= computes <= 9 or not 0 <= edges <= 9:
            raise ValueError(
                f"lab shape {shape!r}: {name} needs 1-7 control, 0-9 compute and 0-9 edge hosts"
            )
        if release not in RELEASES:
            raise ValueError(
                f"lab shape {shape!r}: {name}@{release} names no release the lab builds; "
                f"use one of {', '.join(RELEASES)} (without @RELEASE: {DEFAULT_RELEASE})"
            )
        datacenters.append(DatacenterShape(name, controls, computes, release, edges))
    if len({datacenter.name for datacenter in datacenters}) != len(datacenters):
        raise ValueError(f"lab shape {shape!r}: a datacenter appears twice")
    if len(datacenters) > 14:
        raise ValueError(f"lab shape {shape!r}: at most 14 datacenters")
    return datacenters


def resized_shape(shape: str, datacenter: str, role: str, change: int = 1) -> str:
    """``shape`` with ``change`` hosts of ``role`` more (or fewer) in ``datacenter``:
    ``("dc1=3+1", "dc1", "compute")`` -> ``"dc1=3+2"``, ``("dc1=4+1", "dc1", "control", -1)``
    -> ``"dc1=3+1"``. The hosts that stay keep their names and addresses; the last ones go."""
    if role not in ("control", "compute", "edge"):
        raise ValueError(f"no lab role {role!r}: add a control, compute or edge host")
    datacenters = parse_shape(shape)
    if datacenter not in {part.name for part in datacenters}:
        raise ValueError(f"lab shape {shape!r} has no datacenter {datacenter!r}")
    parts = []
    for part in datacenters:
        if part.name == datacenter:
            part = part._replace(**{f"{role}s": getattr(part, f"{role}s") + change})
        edges = f"+{part.edges}" if part.edges else ""
        release = "" if part.release == DEFAULT_RELEASE else f"@{part.release}"
        parts.append(f"{part.name}={part.controls}+{part.computes}{edges}{release}")
    resized = ",".join(parts)
    parse_shape(resized)
    return resized
