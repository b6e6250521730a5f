"""The HTTP health function, against a real HTTP server on loopback."""

import http.server
import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestshellutils.utils.ports import get_unused_localhost_port
from salt.exceptions import CommandExecutionError, SaltInvocationError

MODULE_PATH = Path(__file__).resolve().parents[2] / "_modules" / "http_probe.py"
_spec = importlib.util.spec_from_file_location("http_probe", MODULE_PATH)
http_probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(http_probe)


class Endpoints(http.server.BaseHTTPRequestHandler):
    """``/health`` answers 200, ``/ping`` 503, everything else 404."""

    STATUSES = {"/health": 200, "/ping": 503}

    def do_GET(self) -> None:  # noqa: N802 (the handler's name is http.server's)
        self.send_response(self.STATUSES.get(self.path, 404))
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoints) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
        httpd.shutdown()


def test_a_2xx_answer_is_healthy(server):
    assert http_probe.ok(f"{server}/health") is True


def test_an_error_status_fails_with_the_status(server):
    with pytest.raises(CommandExecutionError, match=r"/ping answered 503"):
        http_probe.ok(f"{server}/ping")


def test_a_closed_port_fails_with_the_transports_error():
    url = f"http://127.0.0.1:{get_unused_localhost_port()}/health"
    with pytest.raises(CommandExecutionError, match="Connection refused"):
        http_probe.ok(url, timeout=2)


def test_proxies_from_the_environment_are_not_used(monkeypatch, server):
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{get_unused_localhost_port()}")
    for variable in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    assert http_probe.ok(f"{server}/health") is True


def test_timeout_must_be_positive():
    with pytest.raises(SaltInvocationError, match="timeout must be positive"):
        http_probe.ok("http://127.0.0.1/health", timeout=0)
