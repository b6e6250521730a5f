"""The lab's mirror: what the hosts would fetch from outside, served from the lab machine.

The hosts' networks are internal, so their only way out is this server on each network's
gateway (``mirror.lab``):

- ``/debian/...`` and ``/debian-security/...``: a caching pass-through to the Debian archives
  this machine's apt uses, which hold every release (the hosts' bookworm and trixie alike:
  the suite is in the path). apt on the hosts checks the archive's signatures as usual;
  package files are kept in ``.cache/mirror`` and served from there afterwards, index files
  are refreshed and fall back to the cached copy when the archive cannot be reached.
- ``/consul/<version>/...``: the Consul release archive and its SHA256SUMS (``debian.py``).
- ``/files/...``: other artefacts the lab provides (``.cache/files``).
"""

import http.server
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from .debian import archives
from .naming import MIRROR_PORT
from .paths import CACHE_DIR, CONSUL_DIR, LAB_DIR, MIRROR_CACHE_DIR, REPO

PID_FILE = LAB_DIR / "mirror.pid"
LOG_FILE = LAB_DIR / "mirror.log"
FILES_DIR = CACHE_DIR / "files"
UPSTREAM_TIMEOUT = 60


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    upstreams: dict[str, str] = {}
    static_roots: dict[str, Path] = {}

    def do_GET(self) -> None:  # noqa: N802 (the handler's protocol names it)
        prefix, _, rest = self.path.lstrip("/").partition("/")
        rest = rest.split("?", 1)[0]
        if ".." in rest.split("/"):
            self.send_error(400, "no parent paths")
        elif prefix in self.static_roots:
            self._send_file(self.static_roots[prefix] / rest)
        elif prefix in self.upstreams:
            self._send_mirrored(prefix, rest)
        else:
            self.send_error(404, f"nothing is mirrored under /{prefix}")

    def _send_mirrored(self, prefix: str, rest: str) -> None:
        cached = MIRROR_CACHE_DIR / prefix / rest
        immutable = rest.startswith("pool/") or "/by-hash/" in rest
        if not (immutable and cached.is_file()):
            try:
                self._fetch(f"{self.upstreams[prefix]}/{rest}", cached)
            except urllib.error.HTTPError as error:
                self.send_error(error.code, str(error.reason))
                return
            except OSError as error:
                if not cached.is_file():
                    self.send_error(502, f"archive unreachable and nothing cached: {error}")
                    return
        self._send_file(cached)

    @staticmethod
    def _fetch(url: str, cached: Path) -> None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f".{cached.name}.{threading.get_ident()}.part")
        with urllib.request.urlopen(url, timeout=UPSTREAM_TIMEOUT) as answer:
            with partial.open("wb") as out:
                shutil.copyfileobj(answer, out)
        partial.replace(cached)

    def _send_file(self, path: Path) -> None:
        if not path.is_file():
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(path.stat().st_size))
        # An index page is HTML (pip's --find-links reads only text/html); the rest is bytes.
        html_page = path.suffix == ".html"
        self.send_header("Content-Type", "text/html" if html_page else "application/octet-stream")
        self.end_headers()
        with path.open("rb") as content:
            shutil.copyfileobj(content, self.wfile)

    def log_message(self, fmt: str, *args) -> None:
        sys.stderr.write(f"{self.address_string()} {fmt % args}\n")


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(addresses: list[str], port: int = MIRROR_PORT) -> None:
    """Serve on each address until SIGTERM (the foreground half of ``start``)."""
    MirrorHandler.upstreams = archives()
    MirrorHandler.static_roots = {"consul": CONSUL_DIR / "releases", "files": FILES_DIR}
    servers = [ThreadingServer((address, port), MirrorHandler) for address in addresses]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()


def running_pid() -> int | None:
    try:
        pid = int(PID_FILE.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"serve-mirror" in cmdline else None


def start(addresses: list[str]) -> None:
    """Start the mirror in the background on the gateways, restarting it if they changed."""
    wanted = ",".join(sorted(addresses))
    pid = running_pid()
    if pid and (LAB_DIR / "mirror.addresses").read_text() == wanted:
        return
    stop()
    FILES_DIR.mkdir(parents=True, exist_ok=True)
    with LOG_FILE.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "lab", "serve-mirror", wanted],
            cwd=REPO, stdout=log, stderr=log, start_new_session=True,
        )
    PID_FILE.write_text(str(process.pid))
    (LAB_DIR / "mirror.addresses").write_text(wanted)
    time.sleep(1)
    if process.poll() is not None:
        raise RuntimeError(f"the mirror did not start; see {LOG_FILE}")


def _local(address: str) -> bool:
    """Whether ``address`` is one of this machine's (a network a test made may be gone)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((address, 0))
    except OSError:
        return False
    return True


def add_address(address: str) -> None:
    """Serve on ``address`` too (the gateway of a network apart from the shape's), keeping
    the others that still exist."""
    served = (LAB_DIR / "mirror.addresses").read_text().split(",") if running_pid() else []
    start(sorted({served_address for served_address in served if served_address
                  and _local(served_address)} | {address}))


def stop() -> None:
    pid = running_pid()
    if pid:
        os.kill(pid, signal.SIGTERM)
    PID_FILE.unlink(missing_ok=True)
