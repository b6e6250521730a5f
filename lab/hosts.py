"""Networks and host containers of the lab, through the Docker SDK.

A host is a systemd container: ``--privileged`` fails on these machines (the engine lacks
CAP_SYS_RESOURCE), so hosts get every capability but that one, unconfined seccomp, apparmor
and system paths, every device, the host's cgroup namespace with /sys/fs/cgroup mounted, and
tmpfs on /run and /run/lock.
"""

import hashlib
import io
import tarfile
import time
from collections.abc import Mapping

import docker
from docker.types import IPAMConfig, IPAMPool

from .naming import LABEL, MASTER_HOSTNAME, MIRROR_HOSTNAME, Host, Layout, Network
from .paths import LAB_DIR

BOOT_TIMEOUT = 90
# The label of the all-in-one host's container (lab/allinone.py), apart from the shape's hosts.
ALL_IN_ONE = "all-in-one"
# The engine's resolver inside containers on user-defined networks (knows the hosts' names).
ENGINE_DNS = "127.0.0.11"


def ensure_network(client: docker.DockerClient, network: Network) -> None:
    """Create an internal bridge with the given subnet unless the lab made it already."""
    for existing in client.networks.list(names=[network.name]):
        if existing.attrs["Labels"].get(LABEL) != "network":
            raise RuntimeError(
                f"a network named {network.name} exists and the lab did not create it; "
                "remove it or set LAB_SUBNET_PREFIX / rename"
            )
        subnets = [c["Subnet"] for c in existing.attrs["IPAM"]["Config"]]
        if subnets == [network.subnet]:
            return
        raise RuntimeError(
            f"lab network {network.name} has subnet {subnets}, wanted {network.subnet}; "
            "run `scripts/lab down` first"
        )
    client.networks.create(
        network.name,
        driver="bridge",
        # Internal: the hosts reach the lab machine (gateway) and each other, nothing else.
        internal=True,
        ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=network.subnet, gateway=network.gateway)]),
        labels={LABEL: "network"},
    )


def put_private_files(container, directory: str, files: Mapping[str, str | bytes]) -> None:
    """``files`` (name: content) into ``directory`` of a host, mode 0600, as a tar archive
    through the engine: no command line ever holds their content. ``directory`` must exist
    and not be a tmpfs (/run): the engine's archive API writes beneath the mount."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            member = tarfile.TarInfo(name)
            member.size, member.mode = len(data), 0o600
            tar.addfile(member, io.BytesIO(data))
    container.put_archive(directory, archive.getvalue())


def lab_containers(client: docker.DockerClient, kind: str = "host") -> list:
    """The lab's containers of one kind: ``host`` (the shape's), ``all-in-one``, a test's."""
    return client.containers.list(all=True, filters={"label": f"{LABEL}={kind}"})


def ensure_host(
    client: docker.DockerClient, layout: Layout, host: Host, images: Mapping[str, str]
) -> bool:
    """Create and start the host's container from the image of its release (``images``: tag
    by release) on its datacenter's network and the WAN if needed; True when it was created."""
    wan = layout.networks["wan"] if host.wan_address else None
    return ensure_container(
        client, host, images[host.release], layout.networks[host.datacenter], wan
    )


def ensure_container(
    client: docker.DockerClient,
    host: Host,
    image: str,
    lan: Network,
    wan: Network | None = None,
    name: str | None = None,
    kind: str = "host",
    shared: tuple[str, ...] = (),
) -> bool:
    """The container of ``host`` (named ``name``, default the host's, labelled ``kind``) from
    ``image``, with the host's address on ``lan`` (and its WAN address on ``wan``), created
    and started if needed; True when it was created. ``shared``: directories of this machine
    the container sees at the same path."""
    name = name or host.name
    image_id = client.images.get(image).id
    authorized_key = LAB_DIR / "ssh" / "id_ed25519.pub"
    # The names it resolves through /etc/hosts: the mirror, and the salt-master a minion has.
    extra_hosts = {MIRROR_HOSTNAME: lan.gateway, MASTER_HOSTNAME: lan.master_address}
    # What the container was made from: another checkout (another key), image, release,
    # address or names means a new container, not a reused one.
    fingerprint = hashlib.sha256(
        f"{image} {authorized_key} {authorized_key.read_text()} {host} {extra_hosts} "
        f"{shared}".encode()
    ).hexdigest()[:16]
    existing = client.containers.list(all=True, filters={"name": f"^{name}$"})
    if existing:
        container = existing[0]
        if container.labels.get(LABEL) != kind:
            raise RuntimeError(f"a container named {name} exists and is not the lab's {kind}")
        # The image's id too: an image rebuilt under the same tag is another image.
        made_from = (container.labels.get(f"{LABEL}.fingerprint"), container.attrs["Image"])
        if made_from == (fingerprint, image_id):
            if container.status != "running":
                container.start()
            return False
        container.remove(force=True, v=True)
    api = client.api
    # The host's own resolv.conf, as a real host has: the engine would rewrite its managed
    # copy at every start and undo what the dns state wrote. It starts as the engine's would.
    resolv_conf = LAB_DIR / "hosts" / name / "resolv.conf"
    resolv_conf.parent.mkdir(parents=True, exist_ok=True)
    resolv_conf.write_text(f"nameserver {ENGINE_DNS}\noptions ndots:0\n")
    binds = {
        "/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
        str(authorized_key): {"bind": "/root/.ssh/authorized_keys", "mode": "ro"},
        str(resolv_conf): {"bind": "/etc/resolv.conf", "mode": "rw"},
    }
    volumes = ["/sys/fs/cgroup", "/root/.ssh/authorized_keys", "/etc/resolv.conf"]
    for directory in shared:
        binds[directory] = {"bind": directory, "mode": "rw"}
        volumes.append(directory)
    if "compute" in host.roles:
        # Compute hosts run their own Docker engine.
        binds["/lib/modules"] = {"bind": "/lib/modules", "mode": "ro"}
        volumes += ["/lib/modules", "/var/lib/docker"]
    host_config = api.create_host_config(
        binds=binds,
        cap_add=["ALL"],
        cap_drop=["SYS_RESOURCE"],
        security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        device_cgroup_rules=["a *:* rwm"],
        cgroupns="host",
        tmpfs={"/run": "rw,exec,mode=755", "/run/lock": "rw,mode=1777"},
        extra_hosts=extra_hosts,
        network_mode=lan.name,
    )
    # systempaths=unconfined, which this engine's security-opt parser refuses by that name.
    host_config["MaskedPaths"] = []
    host_config["ReadonlyPaths"] = []
    created = api.create_container(
        image,
        name=name,
        hostname=host.name,
        detach=True,
        volumes=volumes,
        host_config=host_config,
        stop_signal="SIGRTMIN+3",
        labels={
            LABEL: kind,
            f"{LABEL}.datacenter": host.datacenter,
            f"{LABEL}.release": host.release,
            f"{LABEL}.roles": ",".join(host.roles),
            f"{LABEL}.fingerprint": fingerprint,
        },
        networking_config=api.create_networking_config(
            {lan.name: api.create_endpoint_config(ipv4_address=host.address)}
        ),
    )
    if wan:
        api.connect_container_to_network(created["Id"], wan.name, ipv4_address=host.wan_address)
    api.start(created["Id"])
    return True


def fresh_hosts(
    client: docker.DockerClient, kind: str, network: Network, nodes: Mapping[str, Host],
    image: str,
) -> None:
    """Hosts apart from the shape's: every container of ``kind`` removed, then one per entry
    of ``nodes`` (container name: host) made anew from ``image`` on ``network``, booted."""
    for container in lab_containers(client, kind):
        container.remove(force=True, v=True)
    ensure_network(client, network)
    for name, node in nodes.items():
        ensure_container(client, node, image, network, name=name, kind=kind)
    wait_until_booted(client, list(nodes))


def wait_until_booted(client: docker.DockerClient, names: list[str]) -> None:
    """Wait (bounded) until systemd runs and sshd listens on every named host."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    pending = list(names)
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            container = client.containers.get(name)
            check = container.exec_run(["systemctl", "is-active", "ssh.service"])
            if check.exit_code == 0:
                pending.remove(name)
        if pending:
            time.sleep(1)
    if pending:
        raise RuntimeError(
            f"hosts did not boot within {BOOT_TIMEOUT} s: {', '.join(pending)}; "
            "see `docker logs NAME`"
        )


def remove_lab(client: docker.DockerClient) -> list[str]:
    """Remove the lab's containers (with their anonymous volumes) and networks, nothing else."""
    removed = []
    # Every kind: the shape's hosts, the all-in-one host, a test's own hosts.
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        container.remove(force=True, v=True)
        removed.append(container.name)
    for network in client.networks.list(filters={"label": f"{LABEL}=network"}):
        network.remove()
        removed.append(network.name)
    return removed
