"""The HTTP health function, against a real HTTP server on loopback."""

import base64
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


LOGIN_PILLAR = "secrets:marathon:http"
LOGIN = {"user": "operator", "password": "0123abcd"}


class Endpoints(http.server.BaseHTTPRequestHandler):
    """``/health`` answers 200, ``/ping`` 503, ``/private`` 200 with LOGIN and 401 without it
    (as Marathon's API with --http_credentials), everything else 404."""

    STATUSES = {"/health": 200, "/ping": 503}
    AUTHORIZATION = "Basic " + base64.b64encode(
        f"{LOGIN['user']}:{LOGIN['password']}".encode()
    ).decode()

    def do_GET(self) -> None:  # noqa: N802 (the handler's name is http.server's)
        if self.path == "/private":
            granted = self.headers.get("Authorization") == self.AUTHORIZATION
            self.send_response(200 if granted else 401)
        else:
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


@pytest.fixture
def login_in_pillar(monkeypatch) -> dict[str, str]:
    """The pillar of a host that holds LOGIN under LOGIN_PILLAR, as config.get reads it."""
    pillar = {f"{LOGIN_PILLAR}:{part}": value for part, value in LOGIN.items()}
    monkeypatch.setattr(http_probe, "__salt__", {"config.get": pillar.get}, raising=False)
    return pillar


def test_an_endpoint_that_asks_for_a_login_gets_the_one_the_pillar_key_names(
    server, login_in_pillar
):
    with pytest.raises(CommandExecutionError, match=r"/private answered 401"):
        http_probe.ok(f"{server}/private")
    assert http_probe.ok(f"{server}/private", credentials_pillar=LOGIN_PILLAR) is True


def test_a_login_missing_from_pillar_fails_naming_the_key(server, login_in_pillar):
    del login_in_pillar[f"{LOGIN_PILLAR}:password"]

    with pytest.raises(SaltInvocationError, match=f"pillar {LOGIN_PILLAR}:password holds nothing"):
        http_probe.ok(f"{server}/private", credentials_pillar=LOGIN_PILLAR)
