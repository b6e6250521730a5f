"""The lab's host images: one per Debian release (bookworm, trixie), each minbase + systemd,
sshd and python3 from debootstrap.

No image registry is reachable, so an image is built from Debian packages and imported.
Its apt sources point at the lab's mirror (``mirror.lab``), which every host resolves to its
network's gateway, as a site's hosts point at the site's own mirror.
"""

import hashlib
import subprocess
import tempfile
import time
from pathlib import Path

import docker

from .debian import archives
from .naming import IMAGE_REPOSITORY, LABEL, MIRROR_PORT

PACKAGES = [
    "systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "iproute2", "procps",
    "ca-certificates", "less",
]
# What a release needs besides PACKAGES, as debootstrap installs no recommended package.
RELEASE_PACKAGES = {
    "bookworm": [],
    # trixie's systemd dlopens libkmod, which it only recommends, and ships the link
    # /etc/modules-load.d/modules.conf (kmod's until bookworm): systemd-modules-load runs at
    # every boot (the hosts hold CAP_SYS_MODULE) and without libkmod fails ("Failed to
    # initialize libkmod context"), the host "degraded".
    "trixie": ["libkmod2"],
}
# Units that cannot work in a container, or would fight the engine over the network.
MASKED_UNITS = [
    "getty.target", "console-getty.service", "systemd-udevd.service",
    "systemd-udev-trigger.service", "systemd-networkd-wait-online.service",
]
APT_SOURCES = f"""\
Types: deb
URIs: http://mirror.lab:{MIRROR_PORT}/debian
Suites: {{release}} {{release}}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.lab:{MIRROR_PORT}/debian-security
Suites: {{release}}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
# sshd refuses to start without host keys; each host makes its own at first boot, so that no
# two hosts share a key baked into the image.
# The image's own unit: a host makes its SSH host keys at its first boot.
HOST_KEYS_UNIT_PATH = "/etc/systemd/system/ssh-host-keys.service"
HOST_KEYS_UNIT = """\
[Unit]
Description=Generate this host's SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
"""


def packages(release: str) -> list[str]:
    """What debootstrap installs for the release's image."""
    return PACKAGES + RELEASE_PACKAGES[release]


def apt_sources(release: str) -> str:
    """The image's apt sources: the release's suites on the lab's mirror."""
    return APT_SOURCES.format(release=release)


def recipe_digest(release: str) -> str:
    """A short digest of everything that goes into the image: a change makes a new tag."""
    recipe = "\n".join([*packages(release), *MASKED_UNITS, apt_sources(release), HOST_KEYS_UNIT])
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def image_tag(release: str) -> str:
    return f"{IMAGE_REPOSITORY}-{release}:{recipe_digest(release)}"


def ensure_images(client: docker.DockerClient, releases: list[str], say) -> dict[str, str]:
    """Build the host image of each release unless one of the same recipe exists; return the
    tag of each release's image."""
    return {release: _ensure_image(client, release, say) for release in releases}


def _ensure_image(client: docker.DockerClient, release: str, say) -> str:
    tag = image_tag(release)
    try:
        client.images.get(tag)
        say(f"image {tag} exists")
        return tag
    except docker.errors.ImageNotFound:
        pass
    say(f"building image {tag} with debootstrap (a few minutes, once)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lab-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            [
                "debootstrap", "--variant=minbase", f"--include={','.join(packages(release))}",
                release, str(rootfs), archives()["debian"],
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        _prepare_rootfs(rootfs, release)
        tarball = Path(tmp) / "rootfs.tar"
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."], check=True
        )
        repository, _, version = tag.partition(":")
        client.api.import_image_from_file(
            str(tarball),
            repository=repository,
            tag=version,
            changes=[
                'CMD ["/sbin/init"]',
                f"LABEL {LABEL}=image",
            ],
        )
    say(f"image {tag} built in {time.monotonic() - started:.0f} s")
    return tag


def _prepare_rootfs(rootfs: Path, release: str) -> None:
    """Make the tree boot as a host under the engine and use the lab's mirror."""
    for unit in MASKED_UNITS:
        link = rootfs / "etc/systemd/system" / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    (rootfs / "etc/apt/sources.list.d/debian.sources").write_text(apt_sources(release))
    (rootfs / "etc/apt/apt.conf.d/80lab-retries").write_text('Acquire::Retries "3";\n')
    for key in (rootfs / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (rootfs / HOST_KEYS_UNIT_PATH.lstrip("/")).write_text(HOST_KEYS_UNIT)
    wants = rootfs / "etc/systemd/system/multi-user.target.wants/ssh-host-keys.service"
    wants.symlink_to(HOST_KEYS_UNIT_PATH)
    # systemd makes a fresh machine id on each host's first boot.
    (rootfs / "etc/machine-id").write_text("")
    (rootfs / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    for cached in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        cached.unlink()
