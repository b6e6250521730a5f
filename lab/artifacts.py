"""Files the lab's mirror serves under ``/files`` for the docker and registrator formulas.

- ``wheels/``: the py-consul wheel the registrator installs (in no Debian release), fetched
  with pip as a site's operator would put it on their mirror;
- ``wheelhouse/``: the operator's toolchain (requirements.txt: Salt and py-consul, with their
  dependencies) as wheels for the hosts' Pythons (3.11 and 3.13), and an ``index.html`` of them for pip's
  ``--find-links``: a host without PyPI installs Salt from there (the all-in-one host);
- ``images/``: a tiny image for tests and examples, as no registry is reachable: busybox from
  Debian's ``busybox-static`` package, a ``docker import``-able root filesystem with a page in
  ``/www`` for ``httpd -f -p 80 -h /www``.

Each file has a ``<file>.sha256`` beside it (``sha256sum`` format) computed from the file,
and ``site_pillar`` gives the pillar that points the formulas at them.
"""

import hashlib
import html
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .debian import _apt_download
from .mirror import FILES_DIR
from .paths import REPO

PY_CONSUL_VERSION = "1.8.0"
WHEELS_DIR = FILES_DIR / "wheels"
WHEELHOUSE_DIR = FILES_DIR / "wheelhouse"
# pip on a host: PIP_FIND_LINKS=<mirror>/files/WHEELHOUSE_INDEX with PIP_NO_INDEX=1.
WHEELHOUSE_INDEX = "wheelhouse/index.html"
IMAGES_DIR = FILES_DIR / "images"
# The test image's name on the hosts' engines (pillar docker:images).
TEST_IMAGE = "lab/busybox"
TEST_IMAGE_CHANGES = ['CMD ["/bin/httpd", "-f", "-p", "80", "-h", "/www"]']
INDEX_PAGE = "<html><body>lab/busybox: OK</body></html>\n"


def _write_digest(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return digest


def _digest(path: Path) -> str:
    return path.with_name(path.name + ".sha256").read_text().split()[0]


def _cached(directory: Path, pattern: str) -> Path | None:
    """The newest file matching ``pattern`` that has its digest beside it."""
    found = sorted(
        path for path in directory.glob(pattern)
        if path.with_name(path.name + ".sha256").is_file()
    )
    return found[-1] if found else None


def ensure_wheel(say) -> Path:
    """The py-consul wheel, downloaded once with pip (no dependencies: the hosts take requests
    from Debian)."""
    pattern = f"py_consul-{PY_CONSUL_VERSION}-*.whl"
    wheel = _cached(WHEELS_DIR, pattern)
    if wheel:
        return wheel
    say(f"downloading the py-consul {PY_CONSUL_VERSION} wheel")
    WHEELS_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--only-binary=:all:", "--dest", str(WHEELS_DIR),
            f"py-consul=={PY_CONSUL_VERSION}",
        ],
        check=True,
    )
    (wheel,) = WHEELS_DIR.glob(pattern)
    _write_digest(wheel)
    return wheel


def host_pythons() -> list[str]:
    """This machine's interpreters of the hosts' Pythons: its own (bookworm's 3.11) and a
    3.13 (trixie's), on PATH or pyenv's, if it has one."""
    candidates = [shutil.which("python3.13"),
                  *map(str, sorted(Path.home().glob(".pyenv/versions/3.13*/bin/python3.13")))]
    trixie = next(
        (python for python in candidates if python and subprocess.run(
            [python, "-m", "pip", "--version"], capture_output=True).returncode == 0),
        None,
    )
    return [sys.executable, *([trixie] if trixie else [])]


def ensure_wheelhouse(say) -> Path:
    """The wheels of requirements.txt for the hosts' Pythons (host_pythons: Debian 13's only
    if this machine has a Python 3.13), built once per requirements.txt with pip, and their
    index page."""
    requirements = REPO / "requirements.txt"
    index = FILES_DIR / WHEELHOUSE_INDEX
    stamp = WHEELHOUSE_DIR / ".requirements.sha256"
    pythons = host_pythons()
    wanted = hashlib.sha256(requirements.read_bytes() + " ".join(pythons).encode()).hexdigest()
    if index.is_file() and stamp.is_file() and stamp.read_text() == wanted:
        return index
    if len(pythons) == 1:
        say("no Python 3.13 here: the wheelhouse serves Debian 12's Python only, and Debian "
            "13 hosts cannot install Salt from it (salt.minion, lab master)")
    WHEELHOUSE_DIR.mkdir(parents=True, exist_ok=True)
    for python in pythons:
        say(f"building the wheelhouse of requirements.txt (Salt and py-consul) with {python}")
        built = subprocess.run(
            [
                python, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                "--wheel-dir", str(WHEELHOUSE_DIR), "--find-links", str(WHEELHOUSE_DIR),
                "-r", str(requirements),
            ],
            capture_output=True, text=True, check=False,
        )
        if built.returncode != 0:
            raise RuntimeError(
                f"{python} -m pip wheel -r {requirements} failed:\n{built.stderr[-3000:]}"
            )
    links = "".join(
        f'<a href="{html.escape(wheel.name)}">{html.escape(wheel.name)}</a>\n'
        for wheel in sorted(WHEELHOUSE_DIR.glob("*.whl"))
    )
    index.write_text(f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n")
    stamp.write_text(wanted)
    return index


def _busybox_rootfs(deb: Path, rootfs: Path) -> None:
    """busybox and a link per applet in /bin, /tmp, and /www/index.html."""
    with tempfile.TemporaryDirectory(prefix="lab-busybox-deb-") as unpacked:
        subprocess.run(["dpkg-deb", "-x", str(deb), unpacked], check=True)
        binary = Path(unpacked) / "bin" / "busybox"
        (rootfs / "bin").mkdir(parents=True)
        (rootfs / "bin" / "busybox").write_bytes(binary.read_bytes())
    (rootfs / "bin" / "busybox").chmod(0o755)
    applets = subprocess.run(
        [str(rootfs / "bin" / "busybox"), "--list"], check=True, capture_output=True, text=True
    ).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "tmp").mkdir(mode=0o1777)
    (rootfs / "tmp").chmod(0o1777)
    (rootfs / "www").mkdir()
    (rootfs / "www" / "index.html").write_text(INDEX_PAGE)
    (rootfs / "etc").mkdir()
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/:/bin/sh\n")
    (rootfs / "etc" / "group").write_text("root:x:0:\n")


def _reproducible(member: tarfile.TarInfo) -> tarfile.TarInfo:
    member.uid = member.gid = 0
    member.uname = member.gname = "root"
    member.mtime = 0
    return member


def ensure_test_image(say) -> Path:
    """The busybox root filesystem as a tarball for ``docker import``, made once."""
    image = _cached(IMAGES_DIR, "busybox-*.tar")
    if image:
        return image
    say("building the busybox test image from Debian's busybox-static")
    with tempfile.TemporaryDirectory(prefix="lab-busybox-") as tmp:
        (deb,) = _apt_download(["busybox-static"], "bookworm", Path(tmp) / "deb")
        # apt names the file NAME_EPOCH%3aVERSION_ARCH.deb; the epoch has no place in a URL.
        version = deb.name.split("_")[1].split("%3a")[-1]
        rootfs = Path(tmp) / "rootfs"
        _busybox_rootfs(deb, rootfs)
        IMAGES_DIR.mkdir(parents=True, exist_ok=True)
        image = IMAGES_DIR / f"busybox-{version}.tar"
        partial = image.with_name(image.name + ".part")
        with tarfile.open(partial, "w", format=tarfile.GNU_FORMAT) as tar:
            for path in sorted(rootfs.rglob("*")):
                tar.add(path, arcname=str(path.relative_to(rootfs)), recursive=False,
                        filter=_reproducible)
        partial.replace(image)
    _write_digest(image)
    return image


def ensure_artifacts(say) -> None:
    """Make sure the mirror has the wheels and the test image (cached in ``.cache/files``)."""
    wheel = ensure_wheel(say)
    image = ensure_test_image(say)
    wheelhouse = ensure_wheelhouse(say)
    say(f"mirror files: {wheel.name}, {image.name}, {wheelhouse.relative_to(FILES_DIR)}")


def site_pillar(mirror: str) -> dict:
    """Pillar for the lab's site file: the formulas take these files from the mirror."""
    wheel = _cached(WHEELS_DIR, f"py_consul-{PY_CONSUL_VERSION}-*.whl")
    image = _cached(IMAGES_DIR, "busybox-*.tar")
    if not (wheel and image):
        raise RuntimeError("the lab's files are missing: run artifacts.ensure_artifacts first")
    return {
        "docker": {
            "images": {
                TEST_IMAGE: {
                    "source": f"{mirror}/files/images/{image.name}",
                    "source_hash": f"sha256={_digest(image)}",
                    "changes": TEST_IMAGE_CHANGES,
                },
            },
        },
        "registrator": {
            "py_consul": {
                "wheel": wheel.name,
                "base_url": f"{mirror}/files/wheels",
                "source_hash": f"sha256={_digest(wheel)}",
            },
        },
    }
