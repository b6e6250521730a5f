"""Debian archives as this machine's apt is configured to reach them.

No host name is written down here: the archive addresses come from the machine's own apt
configuration, so the lab works wherever apt works.
"""

import hashlib
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from .paths import CONSUL_DIR, ZOOKEEPER_DIR

ZOOKEEPER_SUITE = "bookworm"  # the lab hosts' release: ZooKeeper 3.8
# The packages of the jars a standalone ZooKeeper server needs, and those jars.
ZOOKEEPER_PACKAGES = ["libzookeeper-java", "libslf4j-java", "libdropwizard-metrics-java",
                      "libsnappy-java"]
ZOOKEEPER_JARS = ["zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-simple.jar",
                  "metrics-core.jar", "snappy-java.jar"]
CONSUL_SUITE = "bullseye"  # the last Debian release that ships Consul (1.8.7)
# The archives by the Label of their Release file, and the path the lab's mirror serves each
# under.
ARCHIVE_LABELS = {"Debian": "debian", "Debian-Security": "debian-security"}


def archives() -> dict[str, str]:
    """The Debian archive and its security archive as this machine's apt reaches them:
    ``{"debian": URI, "debian-security": URI}`` (the latter when apt has one).

    An archive holds every release, so the ones apt uses for this machine's own release serve
    the lab's bookworm and trixie hosts (and bullseye's Consul) alike.
    """
    listing = subprocess.run(
        ["apt-get", "indextargets", "--format", "$(LABEL) $(REPO_URI)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found: dict[str, str] = {}
    for line in listing.splitlines():
        label, _, uri = line.partition(" ")
        if label in ARCHIVE_LABELS and uri:
            found.setdefault(ARCHIVE_LABELS[label], uri.rstrip("/"))
    if "debian" not in found:
        raise RuntimeError(
            "apt on this machine reaches no Debian archive (apt-get indextargets lists no "
            "index labelled Debian); configure one and run apt-get update first"
        )
    return found


def _apt_download(packages: list[str], suite: str, dest: Path) -> list[Path]:
    """Download packages of a suite with a private apt state (the host is untouched)."""
    uri = archives()["debian"]
    with tempfile.TemporaryDirectory(prefix="lab-apt-") as tmp:
        root = Path(tmp)
        (root / "lists" / "partial").mkdir(parents=True)
        (root / "sources.list").write_text(f"deb {uri} {suite} main\n")
        options = [
            "-o", f"Dir::Etc::SourceList={root / 'sources.list'}",
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={root / 'lists'}",
            "-o", f"Dir::Cache={root}",
            "-o", "APT::Get::List-Cleanup=0",
            "-o", "APT::Sandbox::User=root",
        ]
        subprocess.run(["apt-get", *options, "-qq", "update"], check=True)
        subprocess.run(
            ["apt-get", *options, "-qq", "download", *packages], check=True, cwd=root
        )
        dest.mkdir(parents=True, exist_ok=True)
        return [
            Path(shutil.copy2(deb, dest / deb.name))
            for package in packages
            for deb in root.glob(f"{package}_*.deb")
        ]


def consul_release() -> tuple[str, Path]:
    """Consul from Debian bullseye, packed like a HashiCorp release.

    Returns the version and the directory ``.cache/consul/releases/<v>/`` holding
    ``consul_<v>_linux_amd64.zip`` and ``consul_<v>_SHA256SUMS`` (the checksum computed here
    from the archive itself), laid out as HashiCorp's release site is, and leaves the binary
    at ``.cache/consul/consul`` for the functional tests. Cached.
    """
    existing = sorted(CONSUL_DIR.glob("releases/*/consul_*_SHA256SUMS"))
    if existing and (CONSUL_DIR / "consul").exists():
        version = existing[-1].name.split("_")[1]
        return version, existing[-1].parent
    (deb,) = _apt_download(["consul"], CONSUL_SUITE, CONSUL_DIR / "deb")
    version = deb.name.split("_")[1].split("+")[0].split("-")[0]
    with tempfile.TemporaryDirectory(prefix="lab-consul-") as tmp:
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        binary = CONSUL_DIR / "consul"
        shutil.copy2(Path(tmp) / "usr" / "bin" / "consul", binary)
    dist = CONSUL_DIR / "releases" / version
    dist.mkdir(parents=True, exist_ok=True)
    archive = dist / f"consul_{version}_linux_amd64.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.write(binary, "consul")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    (dist / f"consul_{version}_SHA256SUMS").write_text(f"{digest}  {archive.name}\n")
    return version, dist


def consul_rerelease(version: str, directory: Path) -> None:
    """The lab's Consul binary packed again as release ``version`` under ``directory``
    (``<version>/consul_<version>_linux_amd64.zip``, stored rather than deflated: another
    archive with another hash, and its SHA256SUMS): the version path of an upgrade, on a lab
    that has one Consul release."""
    consul_release()
    dist = directory / version
    dist.mkdir(parents=True, exist_ok=True)
    archive = dist / f"consul_{version}_linux_amd64.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as bundle:
        bundle.write(CONSUL_DIR / "consul", "consul")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    (dist / f"consul_{version}_SHA256SUMS").write_text(f"{digest}  {archive.name}\n")


def zookeeper_jars() -> Path:
    """The jars of Debian's ZooKeeper (the lab hosts' release) that run a standalone server
    for the functional tests (``java -cp <dir>/* org.apache.zookeeper.server.ZooKeeperServerMain``),
    in ``.cache/zookeeper/java/``. Cached."""
    java = ZOOKEEPER_DIR / "java"
    if all((java / jar).is_file() for jar in ZOOKEEPER_JARS):
        return java
    debs = _apt_download(ZOOKEEPER_PACKAGES, ZOOKEEPER_SUITE, ZOOKEEPER_DIR / "deb")
    with tempfile.TemporaryDirectory(prefix="lab-zookeeper-") as tmp:
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        java.mkdir(parents=True, exist_ok=True)
        for jar in ZOOKEEPER_JARS:
            shutil.copy2(Path(tmp) / "usr" / "share" / "java" / jar, java / jar)
    return java
