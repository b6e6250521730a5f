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

from .paths import CONSUL_DIR

CONSUL_SUITE = "bullseye"  # the last Debian release that ships Consul (1.8.7)


def archive_uris() -> dict[str, str]:
    """Map each configured suite (bookworm, bookworm-security, ...) to its archive URI."""
    listing = subprocess.run(
        ["apt-get", "indextargets", "--format", "$(RELEASE) $(REPO_URI)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    uris: dict[str, str] = {}
    for line in listing.splitlines():
        suite, _, uri = line.partition(" ")
        if suite and uri:
            uris.setdefault(suite, uri.rstrip("/"))
    if "bookworm" not in uris:
        raise RuntimeError(
            "apt on this machine has no bookworm archive configured "
            "(apt-get indextargets lists none); run apt-get update first"
        )
    return uris


def _apt_download(package: str, suite: str, dest: Path) -> Path:
    """Download one package of another suite with a private apt state (the host is untouched)."""
    uri = archive_uris()["bookworm"]
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
            ["apt-get", *options, "-qq", "download", package], check=True, cwd=root
        )
        (deb,) = root.glob(f"{package}_*.deb")
        dest.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy2(deb, dest / deb.name))


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
    deb = _apt_download("consul", CONSUL_SUITE, CONSUL_DIR / "deb")
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
