"""The edge for real, without the lab: a Consul 1.8.7 agent with ACLs (default deny, the
anonymous token with the platform's DNS policy, as on a secured site), a small HTTP server on
loopback registered as the Consul service `web`, and the real `haproxy` binary run in
master-worker mode (as Debian's unit runs it) on haproxy.cfg as the formula's template writes
it for that service. A request through HAProxy's frontend reaches the server; the stats page
wants the site's login; a reload drops no request; a deregistered service answers 503.

Everything listens on 127.0.0.1, every wait is bounded, and only the processes started here
are stopped, by their pid.
"""

import base64
import http.server
import json
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import salt._logging
import yaml
from pytestshellutils.utils.ports import get_unused_localhost_port

from tests.functional.conftest import MANAGEMENT_TOKEN, ConsulAgent, salt_with
from tests.functional.harness import (
    REPO,
    SHAPES,
    STOP_TIMEOUT,
    Minion,
    haproxy_binary,
    site_secrets,
    stop_process,
)

ANONYMOUS = "00000000-0000-0000-0000-000000000002"
SERVICE = "web"
SERVICE_ID = "web-1"
BODY = b"served by the web backend\n"
# Seconds the backend takes to answer /slow: long enough to reload HAProxy during it (a
# reload takes a fraction of a second).
SLOW_ANSWER = 3.0
# Bounds of every wait: HAProxy asks Consul every second (resolvers timeout resolve 1s) and
# keeps a vanished answer 1 s (hold nx, obsolete); HAProxy starts in well under a second.
SERVE_TIMEOUT = 30
DRAIN_TIMEOUT = 30
REQUEST_TIMEOUT = 10


class Backend(http.server.BaseHTTPRequestHandler):
    """The service's one instance: BODY on every path, after SLOW_ANSWER seconds on /slow."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/slow":
            time.sleep(SLOW_ANSWER)
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass


@dataclass(frozen=True)
class Edge:
    """HAProxy running on the formula's haproxy.cfg: its ports, its log and its master."""

    frontend_port: int
    stats_port: int
    login: dict[str, str]
    process: subprocess.Popen
    log_path: Path

    def get(
        self, port: int, path: str = "/", login: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """(status, body) of GET http://127.0.0.1:<port><path>."""
        headers = {}
        if login:
            credentials = f"{login['user']}:{login['password']}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=REQUEST_TIMEOUT) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_for(self, what: str, done: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"haproxy exited with {self.process.returncode}:\n{self.log_tail()}",
                    pytrace=False,
                )
            try:
                if done():
                    return
            except OSError:
                pass  # the listener is not up yet
            time.sleep(0.2)
        pytest.fail(f"{what} not within {timeout}s; haproxy's log:\n{self.log_tail()}")

    def serves_the_backend(self) -> bool:
        return self.get(self.frontend_port) == (200, BODY)

    def wait_until_serving(self) -> None:
        self.wait_for("the frontend serving the backend", self.serves_the_backend, SERVE_TIMEOUT)


@pytest.fixture(autouse=True, scope="module")
def hand_over_salt_log_records() -> Iterator[None]:
    yield
    # Salt defers log records to a handler it flushes at exit, to a stderr pytest has closed
    # by then; hand them over now instead.
    salt._logging.shutdown_temp_handler()


def consul_put(agent: ConsulAgent, path: str, body: dict[str, Any] | None = None) -> None:
    request = urllib.request.Request(
        f"{agent.url}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method="PUT",
        headers={"X-Consul-Token": MANAGEMENT_TOKEN},
    )
    urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT).close()


@pytest.fixture
def dns_for_anonymous(minion_opts, tmp_path, acl_agent) -> ConsulAgent:
    """``acl_agent`` whose anonymous token may read what DNS answers: the consul formula's
    platform-dns policy, given by the platform's own ACL states, as on a secured site."""
    policies = yaml.safe_load((REPO / "salt" / "consul" / "defaults.yaml").read_text())
    rules = policies["acl"]["policies"]["platform-dns"]["rules"]
    pillar = {"secrets": {"consul": {"acl": {"management": {"secret_id": MANAGEMENT_TOKEN}}}}}
    with salt_with(minion_opts, tmp_path, {"url": acl_agent.url}, pillar) as salt:
        states = salt.states.consul_acl
        assert states.policy_present(name="platform-dns", rules=rules).result is True
        assert states.token_present(
            name="Anonymous Token", accessor_id=ANONYMOUS, policies=["platform-dns"]
        ).result is True
    return acl_agent


@pytest.fixture
def backend() -> Iterator[int]:
    """The port of the service's instance on 127.0.0.1."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=STOP_TIMEOUT)


@pytest.fixture
def registered(dns_for_anonymous: ConsulAgent, backend: int) -> ConsulAgent:
    consul_put(
        dns_for_anonymous,
        "/v1/agent/service/register",
        {"Name": SERVICE, "ID": SERVICE_ID, "Address": "127.0.0.1", "Port": backend},
    )
    return dns_for_anonymous


def edge_pillar(agent: ConsulAgent, frontend_port: int, stats_port: int) -> dict[str, Any]:
    """Pillar haproxy for a process of this test: loopback ports, the agent's DNS port, quick
    resolvers, and a global section without the package's chroot, user and admin socket."""
    return {
        "global": ["log stderr local0 info"],
        "bind_address": "127.0.0.1",
        "consul": {"dns_port": agent.dns_port},
        "resolvers": {"hold": {"valid": "1s", "nx": "1s", "obsolete": "1s"}},
        "services": {
            SERVICE: {"port": frontend_port, "check": {"path": "/", "inter": "1s", "rise": 1}}
        },
        "stats": {"bind_address": "127.0.0.1", "port": stats_port},
    }


@pytest.fixture
def edge(tmp_path, minion: Callable[..., Minion], registered: ConsulAgent) -> Iterator[Edge]:
    """haproxy -W (master-worker, as Debian's unit runs it with -Ws) on the haproxy.cfg the
    formula renders for an edge host of a one-datacenter plan, with the site's secrets."""
    binary = haproxy_binary()
    frontend_port, stats_port = (get_unused_localhost_port() for _ in range(2))
    host = minion(
        "dc1-edge-1",
        ["edge"],
        datacenters=SHAPES["one-dc"],
        site={"haproxy": edge_pillar(registered, frontend_port, stats_port)},
    )
    config_file = tmp_path / "haproxy.cfg"
    host.render_managed_file(
        host.show_sls("haproxy.config"), "haproxy-config-file-file-managed", config_file
    )
    log_path = tmp_path / "haproxy.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [binary, "-W", "-db", "-f", str(config_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    login = yaml.safe_load(site_secrets())["secrets"]["haproxy"]["stats"]
    try:
        yield Edge(frontend_port, stats_port, login, process, log_path)
    finally:
        # HAProxy's master stops its workers.
        stop_process(process)


def test_a_request_through_the_frontend_reaches_the_consul_service(edge):
    edge.wait_until_serving()

    status, body = edge.get(edge.frontend_port, "/any/path")

    assert (status, body) == (200, BODY)


def test_the_stats_page_wants_the_sites_login_and_the_monitor_uri_none(edge):
    edge.wait_for(
        "the monitor URI", lambda: edge.get(edge.stats_port, "/healthz")[0] == 200, SERVE_TIMEOUT
    )
    wrong = {"user": edge.login["user"], "password": "not-the-password"}

    anonymous, _ = edge.get(edge.stats_port)
    refused, _ = edge.get(edge.stats_port, login=wrong)
    status, page = edge.get(edge.stats_port, login=edge.login)

    assert (anonymous, refused) == (401, 401)
    assert status == 200
    assert b"Statistics Report" in page
    # The service's backend, with its server-template slots.
    assert f'name="{SERVICE}/{SERVICE}8"'.encode() in page


def test_a_reload_drops_no_request_in_flight(edge):
    """SIGUSR2 to the master is what `systemctl reload haproxy` sends after its check: new
    workers take the listeners, the old one finishes what it serves."""
    edge.wait_until_serving()
    loads = edge.log_path.read_text().count("Loading success")

    with ThreadPoolExecutor(max_workers=1) as pool:
        in_flight = pool.submit(edge.get, edge.frontend_port, "/slow")
        time.sleep(SLOW_ANSWER / 6)
        edge.process.send_signal(signal.SIGUSR2)
        edge.wait_for(
            "the reload",
            lambda: edge.log_path.read_text().count("Loading success") > loads,
            SERVE_TIMEOUT,
        )
        assert not in_flight.done(), "the slow request ended before the reload"
        status, body = in_flight.result(timeout=SERVE_TIMEOUT)

    assert (status, body) == (200, BODY)
    edge.wait_until_serving()


def test_a_deregistered_service_answers_503_within_a_bounded_wait(edge, registered):
    edge.wait_until_serving()

    consul_put(registered, f"/v1/agent/service/deregister/{SERVICE_ID}")

    edge.wait_for(
        "503 after the deregistration",
        lambda: edge.get(edge.frontend_port)[0] == 503,
        DRAIN_TIMEOUT,
    )
