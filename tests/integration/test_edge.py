"""The edge host of dc1 (role edge: HAProxy fed by Consul DNS) in front of containers on a
compute host, asked from the lab machine as a client outside the platform would.

The containers are the lab's test image run as the service the lab's pillar puts behind the
edge (lab.inventory.EDGE_SERVICES: `demo` on port 8000), each serving its own name at
/who; the registrator puts them into Consul and HAProxy finds them through the edge's own
agent (SRV records). Containers are removed in ``finally``; every wait is bounded.
"""

import base64
import time
import urllib.error
import urllib.request
from collections import Counter
from contextlib import ExitStack

import pytest

from lab.inventory import EDGE_SERVICES, read_secrets

SERVICE = "demo"
PORT = EDGE_SERVICES[SERVICE]["port"]
STATS_PORT = 8404
REQUEST_TIMEOUT = 5
# Seconds an instance may take to join or leave the edge's pool: the registrator (events),
# Consul, HAProxy's resolver (every second, a vanished answer held 5 s) and its health check
# (every 2 s, 2 to rise, 3 to fall). The seconds it took are printed.
POOL_TIMEOUT = 60


def request(url: str, auth: tuple[str, str] | None = None) -> tuple[int, str]:
    """GET ``url``: the status and body; the status of an HTTP error too."""
    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=REQUEST_TIMEOUT
        ) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


@pytest.fixture(scope="module")
def edge(lab):
    edges = lab.hosts_with("edge", "dc1")
    if not edges:
        pytest.skip("this lab shape has no edge host in dc1 (the default shape has one)")
    code, output = lab.run(edges[0], "systemctl", "is-active", "haproxy")
    assert code == 0, f"{edges[0].name}: haproxy is {output.strip()}: converge the edge role"
    return edges[0]


@pytest.fixture(scope="module")
def compute(lab):
    host = lab.hosts_with("compute", "dc1")[0]
    lab.remove_test_containers(host)
    return host


def instance(lab, host, name: str, port: int):
    """A container of the service SERVICE on ``port`` of the host, serving ``name`` at /who."""
    return lab.container(
        host, name, "-p", f"{port}:80", "-e", f"SERVICE_NAME={SERVICE}",
        command=("sh", "-c", f"echo {name} > /www/who && exec httpd -f -p 80 -h /www"),
    )


# Asks the edge's HAProxy over its admin socket for one backend's servers: one line each,
# "... srv_name srv_addr srv_op_state ... srv_port ..." (`show servers state`, format 1).
SERVERS_STATE = """
import socket, sys
with socket.socket(socket.AF_UNIX) as admin:
    admin.settimeout(5)
    admin.connect("/run/haproxy/admin.sock")
    admin.sendall(f"show servers state {sys.argv[1]}\\n".encode())
    print(b"".join(iter(lambda: admin.recv(65536), b"")).decode())
"""
# `show servers state` columns (0-based) and srv_op_state's value of a server that is UP.
COLUMN_ADDRESS, COLUMN_STATE, COLUMN_PORT, STATE_UP = 4, 5, 18, "2"


def pool(lab, edge) -> set[int]:
    """The ports of the instances HAProxy sends requests to: its servers that are UP."""
    code, output = lab.run(edge, "python3", "-c", SERVERS_STATE, SERVICE, timeout=10)
    assert code == 0, output
    servers = [line.split() for line in output.splitlines()[1:] if line and line[0] != "#"]
    return {int(server[COLUMN_PORT]) for server in servers
            if server[COLUMN_ADDRESS] != "-" and server[COLUMN_STATE] == STATE_UP}


def answering(edge, rounds: int = 12) -> Counter:
    """Which instances answered ``rounds`` requests for /who through the edge; every other
    answer is counted by its status."""
    seen = Counter()
    for _ in range(rounds):
        status, body = request(f"http://{edge.address}:{PORT}/who")
        seen[body.strip() if status == 200 else status] += 1
    return seen


def seconds_until(what: str, condition, timeout: float = POOL_TIMEOUT) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            elapsed = time.monotonic() - started
            print(f"{what}: {elapsed:.1f} s")
            return elapsed
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout} s")


def test_the_edge_is_a_passing_consul_service(lab, edge):
    entries = lab.wait_for(
        "the edge's Consul service passing",
        lambda: lab.consul(edge, "health/service/edge?passing=true"),
        timeout=60,
    )
    assert [entry["Node"]["Node"] for entry in entries] == [edge.name]


def test_a_service_without_instances_answers_503_at_once(edge):
    started = time.monotonic()
    status, _ = request(f"http://{edge.address}:{PORT}/")
    assert status == 503
    assert time.monotonic() - started < REQUEST_TIMEOUT


def test_requests_reach_every_instance_and_the_pool_follows_the_containers(lab, edge, compute):
    names = {letter: f"{SERVICE}-{letter}-{lab.suffix()}" for letter in "abc"}
    with ExitStack() as containers:
        for port, letter in enumerate("ab", 18001):
            containers.enter_context(instance(lab, compute, names[letter], port))
        seconds_until("both instances answer through the edge",
                      lambda: set(answering(edge)) == {names["a"], names["b"]})

        # Each answer is 200 from one of the two: a round of requests shares between them.
        seen = answering(edge, rounds=20)
        assert set(seen) == {names["a"], names["b"]}, seen
        assert min(seen.values()) >= 5, seen

        containers.enter_context(instance(lab, compute, names["c"], 18003))
        seconds_until("a third container joins the pool", lambda: 18003 in pool(lab, edge))
        assert names["c"] in answering(edge)

        code, output = lab.run(compute, "docker", "stop", names["a"])
        assert code == 0, output
        # Meanwhile no request fails: one sent to the stopped instance goes to another.
        assert set(answering(edge, rounds=20)) == {names["b"], names["c"]}
        seconds_until("a stopped container leaves the pool", lambda: 18001 not in pool(lab, edge))
        assert set(answering(edge, rounds=20)) == {names["b"], names["c"]}


def test_an_unknown_path_is_the_services_own_404(lab, edge, compute):
    with instance(lab, compute, f"{SERVICE}-p-{lab.suffix()}", 18004):
        seconds_until("the instance answers", lambda: answering(edge, rounds=1)[503] == 0)
        status, _ = request(f"http://{edge.address}:{PORT}/no-such-page")
        assert status == 404


def test_the_stats_page_wants_the_sites_login(edge):
    url = f"http://{edge.address}:{STATS_PORT}/"
    assert request(url)[0] == 401
    login = read_secrets()["haproxy"]["stats"]
    status, body = request(url, auth=(login["user"], login["password"]))
    assert status == 200 and SERVICE in body
    assert request(f"http://{edge.address}:{STATS_PORT}/healthz")[0] == 200
