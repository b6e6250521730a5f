"""Containers find each other: Docker on the compute nodes, the registrator, Consul DNS.

Each test runs containers of the lab's busybox image (pillar docker:images) on a compute
host the way a user would (``docker run`` / ``docker stop``), asks DNS from other hosts and
from containers, and removes its containers in ``finally``. DNS questions go to the host's
own resolver (dnsmasq on 127.0.0.1:53, which forwards ``.consul`` to the Consul agent),
through a small DNS client run with the host's python3 (``dig`` is not installed).
"""

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from lab.artifacts import TEST_IMAGE

TEST_LABEL = "io.saltplatform.test=service-discovery"
# Seconds a registration or removal may take to show in DNS, anywhere.
PROPAGATION_TIMEOUT = 30
# The registrator's full reconciliation period (pillar registrator:config:resync), plus margin.
RESYNC_TIMEOUT = 30 + 20

# A DNS client for SRV questions: prints {"rcode", "srv": [{"port", "target", "address"}]},
# the address taken from the A records of the additional section.
SRV_PROBE = r"""
import json, random, socket, struct, sys
name, server = sys.argv[1], sys.argv[2]

def read_name(message, offset):
    labels = []
    while True:
        length = message[offset]
        if length >= 0xC0:
            pointer = struct.unpack("!H", message[offset:offset + 2])[0] & 0x3FFF
            labels.append(read_name(message, pointer)[0])
            return ".".join(label for label in labels if label), offset + 2
        offset += 1
        if length == 0:
            return ".".join(labels), offset
        labels.append(message[offset:offset + length].decode())
        offset += length

question = b"".join(bytes([len(part)]) + part.encode() for part in name.split(".")) + b"\0"
query = struct.pack("!6H", random.randrange(65536), 0x0100, 1, 0, 0, 0) + question
query += struct.pack("!2H", 33, 1)
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    sock.settimeout(5)
    sock.sendto(query, (server, 53))
    message = sock.recv(65535)
_, flags, questions, answers, authorities, additionals = struct.unpack("!6H", message[:12])
offset = 12
for _ in range(questions):
    offset = read_name(message, offset)[1] + 4
services, addresses = [], {}
for _ in range(answers + authorities + additionals):
    owner, offset = read_name(message, offset)
    kind, _, _, length = struct.unpack("!2HIH", message[offset:offset + 10])
    offset += 10
    if kind == 33:
        port = struct.unpack("!3H", message[offset:offset + 6])[2]
        services.append((port, read_name(message, offset + 6)[0]))
    elif kind == 1:
        addresses[owner.lower()] = socket.inet_ntoa(message[offset:offset + 4])
    offset += length
print(json.dumps({"rcode": flags & 0xF, "srv": [
    {"port": port, "target": target, "address": addresses.get(target.lower())}
    for port, target in services
]}))
"""


def srv(lab, host, name: str) -> list[tuple[str, int]]:
    """The (address, port) pairs of the SRV answer for ``name`` from the host's resolver."""
    code, output = lab.run(host, "python3", "-c", SRV_PROBE, name, "127.0.0.1", timeout=10)
    assert code == 0, f"DNS probe on {host}: {output}"
    return sorted((record["address"], record["port"]) for record in json.loads(output)["srv"])


def suffix() -> str:
    return uuid.uuid4().hex[:6]


@contextmanager
def running(lab, host, name: str, *options: str, command: tuple[str, ...] = ()) -> Iterator[str]:
    """A container of the test image on a compute host, removed afterwards; yields its id."""
    code, output = lab.run(
        host, "docker", "run", "-d", "--init", "--name", name, "--label", TEST_LABEL,
        *options, TEST_IMAGE, *command,
    )
    try:
        assert code == 0, f"docker run {name} on {host}: {output}"
        yield output.strip().splitlines()[-1]
    finally:
        lab.run(host, "docker", "rm", "-f", name)


def managed_services(lab, host, container_id: str) -> list[str]:
    """Ids of the agent's services that the registrator made for one container."""
    services = lab.consul(host, "agent/services") or {}
    return sorted(
        service_id for service_id, entry in services.items()
        if (entry.get("Meta") or {}).get("container-id") == container_id
    )


@pytest.fixture(scope="module")
def hosts(lab):
    """The compute hosts of dc1 and dc2, another dc1 host and a dc2 host to ask DNS from."""
    compute_dc1 = lab.hosts_with("compute", "dc1")[0]
    compute_dc2 = lab.hosts_with("compute", "dc2")[0]
    for compute in (compute_dc1, compute_dc2):
        code, output = lab.run(compute, "systemctl", "is-active", "docker", "registrator")
        assert code == 0, (
            f"{compute.name}: docker and registrator are not running ({output.split()}): "
            "converge the compute role"
        )
        # Leftovers of an interrupted run of these tests (and only those) would hold port 8080.
        _, leftovers = lab.run(compute, "docker", "ps", "-aq", "--filter", f"label={TEST_LABEL}")
        if leftovers.split():
            lab.run(compute, "docker", "rm", "-f", *leftovers.split())
    return {
        "compute_dc1": compute_dc1,
        "compute_dc2": compute_dc2,
        "observer_dc1": lab.hosts_with("control", "dc1")[0],
        "observer_dc2": lab.hosts_with("control", "dc2")[0],
    }


@pytest.fixture(scope="module")
def web(lab, hosts):
    """``docker run -d -p 8080:80 -e SERVICE_NAME=web`` on the dc1 compute host."""
    with running(lab, hosts["compute_dc1"], f"web-{suffix()}", "-p", "8080:80",
                 "-e", "SERVICE_NAME=web") as container_id:
        yield container_id


def test_web_answers_with_the_compute_host_address_and_port_in_dc1(lab, hosts, web):
    expected = [(hosts["compute_dc1"].address, 8080)]
    lab.wait_for(
        "web.service.consul from another dc1 host",
        lambda: srv(lab, hosts["observer_dc1"], "web.service.consul") == expected,
        timeout=PROPAGATION_TIMEOUT,
    )


def test_web_answers_from_the_other_datacenter(lab, hosts, web):
    expected = [(hosts["compute_dc1"].address, 8080)]
    lab.wait_for(
        "web.service.dc1.consul from a dc2 host",
        lambda: srv(lab, hosts["observer_dc2"], "web.service.dc1.consul") == expected,
        timeout=PROPAGATION_TIMEOUT,
    )


def test_a_container_in_dc2_resolves_web_in_dc1(lab, hosts, web):
    address = hosts["compute_dc1"].address

    def resolves() -> bool:
        code, output = lab.run(
            hosts["compute_dc2"], "docker", "run", "--rm", "--label", TEST_LABEL, TEST_IMAGE,
            "nslookup", "web.service.dc1.consul",
        )
        return code == 0 and f"Address: {address}" in output

    lab.wait_for("web.service.dc1.consul inside a dc2 container", resolves,
                 timeout=PROPAGATION_TIMEOUT)


def test_a_container_resolves_a_short_name_through_the_search_domain(lab, hosts, web):
    address = hosts["compute_dc1"].address

    def resolves() -> bool:
        code, output = lab.run(
            hosts["compute_dc1"], "docker", "run", "--rm", "--label", TEST_LABEL, TEST_IMAGE,
            "nslookup", "web",
        )
        return code == 0 and f"Address: {address}" in output

    lab.wait_for("`web` inside a dc1 container", resolves, timeout=PROPAGATION_TIMEOUT)


def test_stopping_the_container_removes_its_name(lab, hosts):
    name = f"stop-{suffix()}"
    compute, observer = hosts["compute_dc1"], hosts["observer_dc1"]
    with running(lab, compute, name, "-p", "8081:80", "-e", f"SERVICE_NAME={name}"):
        lab.wait_for(f"{name} registered",
                     lambda: srv(lab, observer, f"{name}.service.consul"),
                     timeout=PROPAGATION_TIMEOUT)
        code, output = lab.run(compute, "docker", "stop", name)
        assert code == 0, output
        lab.wait_for(f"{name} gone after docker stop",
                     lambda: srv(lab, observer, f"{name}.service.consul") == [],
                     timeout=PROPAGATION_TIMEOUT)


def test_two_containers_of_one_name_give_two_srv_records(lab, hosts):
    name = f"pair-{suffix()}"
    compute = hosts["compute_dc1"]
    expected = [(compute.address, 8082), (compute.address, 8083)]
    with running(lab, compute, f"{name}-a", "-p", "8082:80", "-e", f"SERVICE_NAME={name}"), \
            running(lab, compute, f"{name}-b", "-p", "8083:80", "-e", f"SERVICE_NAME={name}"):
        lab.wait_for(
            f"two SRV records for {name}",
            lambda: srv(lab, hosts["observer_dc1"], f"{name}.service.consul") == expected,
            timeout=PROPAGATION_TIMEOUT,
        )


def test_restarting_the_registrator_leaves_no_duplicate(lab, hosts):
    name = f"again-{suffix()}"
    compute, observer = hosts["compute_dc1"], hosts["observer_dc1"]
    expected = [(compute.address, 8084)]
    with running(lab, compute, name, "-p", "8084:80", "-e", f"SERVICE_NAME={name}") as cid:
        lab.wait_for(f"{name} registered",
                     lambda: srv(lab, observer, f"{name}.service.consul") == expected,
                     timeout=PROPAGATION_TIMEOUT)
        code, output = lab.run(compute, "systemctl", "restart", "registrator")
        assert code == 0, output
        assert managed_services(lab, compute, cid) == [f"{compute.name}:{name}:80"]
        assert srv(lab, observer, f"{name}.service.consul") == expected


def test_services_come_back_after_the_consul_agent_restarts(lab, hosts):
    name = f"agent-{suffix()}"
    compute, observer = hosts["compute_dc1"], hosts["observer_dc1"]
    expected = [(compute.address, 8085)]
    with running(lab, compute, name, "-p", "8085:80", "-e", f"SERVICE_NAME={name}"):
        lab.wait_for(f"{name} registered",
                     lambda: srv(lab, observer, f"{name}.service.consul") == expected,
                     timeout=PROPAGATION_TIMEOUT)
        code, output = lab.run(compute, "systemctl", "restart", "consul", timeout=120)
        assert code == 0, output
        lab.wait_for(f"{name} back after the agent restarted",
                     lambda: srv(lab, observer, f"{name}.service.consul") == expected,
                     timeout=RESYNC_TIMEOUT)


def test_a_container_started_while_the_agent_is_down_is_registered_when_it_is_back(
    lab, hosts
):
    name = f"late-{suffix()}"
    compute, observer = hosts["compute_dc1"], hosts["observer_dc1"]
    code, output = lab.run(compute, "systemctl", "stop", "consul", timeout=60)
    try:
        assert code == 0, output
        with running(lab, compute, name, "-p", "8090:80", "-e", f"SERVICE_NAME={name}"):
            code, output = lab.run(compute, "systemctl", "start", "consul", timeout=120)
            assert code == 0, output
            lab.wait_for(f"{name} registered once the agent is back",
                         lambda: srv(lab, observer, f"{name}.service.consul"),
                         timeout=RESYNC_TIMEOUT)
    finally:
        lab.run(compute, "systemctl", "start", "consul", timeout=120)


def test_the_registrator_follows_containers_after_the_engine_restarts(lab, hosts):
    name = f"engine-{suffix()}"
    compute, observer = hosts["compute_dc1"], hosts["observer_dc1"]
    code, output = lab.run(compute, "systemctl", "restart", "docker", timeout=120)
    assert code == 0, output
    with running(lab, compute, name, "-p", "8086:80", "-e", f"SERVICE_NAME={name}"):
        lab.wait_for(f"{name}, started after the engine restarted, registered",
                     lambda: srv(lab, observer, f"{name}.service.consul"),
                     timeout=RESYNC_TIMEOUT)


def test_resync_restores_a_service_removed_behind_its_back(lab, hosts):
    name = f"resync-{suffix()}"
    compute, observer = hosts["compute_dc1"], hosts["observer_dc1"]
    with running(lab, compute, name, "-p", "8087:80", "-e", f"SERVICE_NAME={name}") as cid:
        lab.wait_for(f"{name} registered", lambda: managed_services(lab, compute, cid),
                     timeout=PROPAGATION_TIMEOUT)
        (service_id,) = managed_services(lab, compute, cid)
        status, body = lab.http(compute, f"/v1/agent/service/deregister/{lab.quote(service_id)}",
                                method="PUT")
        assert status == 200, body
        lab.wait_for(f"{name} registered again by the next resync",
                     lambda: srv(lab, observer, f"{name}.service.consul"),
                     timeout=RESYNC_TIMEOUT)


def test_a_service_failing_its_http_check_is_not_returned_by_dns(lab, hosts):
    name = f"checked-{suffix()}"
    compute, observer = hosts["compute_dc1"], hosts["observer_dc1"]
    check = ["-e", f"SERVICE_NAME={name}", "-e", "SERVICE_CHECK_INTERVAL=1s"]
    with running(lab, compute, f"{name}-ok", "-p", "8088:80", *check,
                 "-e", "SERVICE_CHECK_HTTP=/index.html"), \
            running(lab, compute, f"{name}-bad", "-p", "8089:80", *check,
                    "-e", "SERVICE_CHECK_HTTP=/missing") as bad:
        lab.wait_for(f"the healthy {name} in DNS",
                     lambda: srv(lab, observer, f"{name}.service.consul"),
                     timeout=PROPAGATION_TIMEOUT)
        (bad_service,) = managed_services(lab, compute, bad)
        checks = lab.consul(compute, f"health/service/{name}") or []
        statuses = {
            entry["Service"]["ID"]: [check["Status"] for check in entry["Checks"]]
            for entry in checks
        }
        assert "critical" in statuses[bad_service], statuses
        assert srv(lab, observer, f"{name}.service.consul") == [(compute.address, 8088)]


def test_a_compute_host_serves_and_resolves_containers_again_after_a_reboot(lab, hosts):
    """After a boot nothing is converged by hand: the engine, dnsmasq (which must bind the
    Docker bridge address once the engine creates it), the agent and the registrator come
    back by themselves, register new containers and answer DNS inside containers."""
    compute, observer = hosts["compute_dc2"], hosts["observer_dc2"]
    lab.stop(compute)
    lab.start(compute)
    services = ("docker", "dnsmasq", "consul", "registrator")
    lab.wait_for(
        f"{', '.join(services)} active on {compute.name} after its boot",
        lambda: lab.run(compute, "systemctl", "is-active", *services)[0] == 0,
        timeout=120,
    )
    name = f"reboot-{suffix()}"
    with running(lab, compute, name, "-p", "8081:80", "-e", f"SERVICE_NAME={name}"):
        lab.wait_for(
            f"{name}.service.consul from another dc2 host",
            lambda: srv(lab, observer, f"{name}.service.consul") == [(compute.address, 8081)],
            timeout=PROPAGATION_TIMEOUT,
        )

        def resolves_inside_a_container() -> bool:
            code, output = lab.run(
                compute, "docker", "run", "--rm", "--label", TEST_LABEL, TEST_IMAGE,
                "nslookup", f"{name}.service.consul",
            )
            return code == 0 and f"Address: {compute.address}" in output

        lab.wait_for(f"{name}.service.consul inside a container on {compute.name}",
                     resolves_inside_a_container, timeout=PROPAGATION_TIMEOUT)
