"""Containers find each other: Docker on the compute nodes, the registrator, Consul DNS.

Each test runs containers of the lab's busybox image (pillar docker:images) on a compute
host the way a user would (``docker run`` / ``docker stop``), asks DNS from other hosts and
from containers, and removes its containers in ``finally``. DNS questions go to the host's
own resolver (dnsmasq on 127.0.0.1:53, which forwards ``.consul`` to the Consul agent),
through a small DNS client run with the host's python3 (``dig`` is not installed).
"""

import pytest

from lab.artifacts import TEST_IMAGE

# Seconds a registration or removal may take to show in DNS, anywhere.
PROPAGATION_TIMEOUT = 30
# The registrator's full reconciliation period (pillar registrator:config:resync), plus margin.
RESYNC_TIMEOUT = 30 + 20


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
        lab.remove_test_containers(compute)
    return {
        "compute_dc1": compute_dc1,
        "compute_dc2": compute_dc2,
        "observer_dc1": lab.hosts_with("control", "dc1")[0],
        "observer_dc2": lab.hosts_with("control", "dc2")[0],
    }


@pytest.fixture(scope="module")
def web(lab, hosts):
    """``docker run -d -p 8080:80 -e SERVICE_NAME=web`` on the dc1 compute host."""
    with lab.container(hosts["compute_dc1"], f"web-{lab.suffix()}", "-p", "8080:80",
                 "-e", "SERVICE_NAME=web") as container_id:
        yield container_id


def test_web_answers_with_the_compute_host_address_and_port_in_dc1(lab, hosts, web):
    expected = [(hosts["compute_dc1"].address, 8080)]
    lab.wait_for(
        "web.service.consul from another dc1 host",
        lambda: lab.srv(hosts["observer_dc1"], "web.service.consul") == expected,
        timeout=PROPAGATION_TIMEOUT,
    )


def test_web_answers_from_the_other_datacenter(lab, hosts, web):
    expected = [(hosts["compute_dc1"].address, 8080)]
    lab.wait_for(
        "web.service.dc1.consul from a dc2 host",
        lambda: lab.srv(hosts["observer_dc2"], "web.service.dc1.consul") == expected,
        timeout=PROPAGATION_TIMEOUT,
    )


def test_a_container_in_dc2_resolves_web_in_dc1(lab, hosts, web):
    address = hosts["compute_dc1"].address

    def resolves() -> bool:
        code, output = lab.run(
            hosts["compute_dc2"], "docker", "run", "--rm", "--label", lab.TEST_LABEL, TEST_IMAGE,
            "nslookup", "web.service.dc1.consul",
        )
        return code == 0 and f"Address: {address}" in output

    lab.wait_for("web.service.dc1.consul inside a dc2 container", resolves,
                 timeout=PROPAGATION_TIMEOUT)


def test_a_container_resolves_a_short_name_through_the_search_domain(lab, hosts, web):
    address = hosts["compute_dc1"].address

    def resolves() -> bool:
        code, output = lab.run(
            hosts["compute_dc1"], "docker", "run", "--rm", "--label", lab.TEST_LABEL, TEST_IMAGE,
            "nslookup", "web",
        )
        return code == 0 and f"Address: {address}" in output

    lab.wait_for("`web` inside a dc1 container", resolves, timeout=PROPAGATION_TIMEOUT)


def test_stopping_the_container_removes_its_name(lab, hosts):
    name = f"stop-{lab.suffix()}"
    compute, observer = hosts["compute_dc1"], hosts["observer_dc1"]
    with lab.container(compute, name, "-p", "8081:80", "-e", f"SERVICE_NAME={name}"):
        lab.wait_for(f"{name} registered",
                     lambda: lab.srv(observer, f"{name}.service.consul"),
                     timeout=PROPAGATION_TIMEOUT)
        code, output = lab.run(compute, "docker", "stop", name)
        assert code == 0, output
        lab.wait_for(f"{name} gone after docker stop",
                     lambda: lab.srv(observer, f"{name}.service.consul") == [],
                     timeout=PROPAGATION_TIMEOUT)


def test_two_containers_of_one_name_give_two_srv_records(lab, hosts):
    name = f"pair-{lab.suffix()}"
    compute = hosts["compute_dc1"]
    expected = [(compute.address, 8082), (compute.address, 8083)]
    with lab.container(compute, f"{name}-a", "-p", "8082:80", "-e", f"SERVICE_NAME={name}"), \
            lab.container(compute, f"{name}-b", "-p", "8083:80", "-e", f"SERVICE_NAME={name}"):
        lab.wait_for(
            f"two SRV records for {name}",
            lambda: lab.srv(hosts["observer_dc1"], f"{name}.service.consul") == expected,
            timeout=PROPAGATION_TIMEOUT,
        )


def test_restarting_the_registrator_leaves_no_duplicate(lab, hosts):
    name = f"again-{lab.suffix()}"
    compute, observer = hosts["compute_dc1"], hosts["observer_dc1"]
    expected = [(compute.address, 8084)]
    with lab.container(compute, name, "-p", "8084:80", "-e", f"SERVICE_NAME={name}") as cid:
        lab.wait_for(f"{name} registered",
                     lambda: lab.srv(observer, f"{name}.service.consul") == expected,
                     timeout=PROPAGATION_TIMEOUT)
        code, output = lab.run(compute, "systemctl", "restart", "registrator")
        assert code == 0, output
        assert managed_services(lab, compute, cid) == [f"{compute.name}:{name}:80"]
        assert lab.srv(observer, f"{name}.service.consul") == expected


def test_services_come_back_after_the_consul_agent_restarts(lab, hosts):
    name = f"agent-{lab.suffix()}"
    compute, observer = hosts["compute_dc1"], hosts["observer_dc1"]
    expected = [(compute.address, 8085)]
    with lab.container(compute, name, "-p", "8085:80", "-e", f"SERVICE_NAME={name}"):
        lab.wait_for(f"{name} registered",
                     lambda: lab.srv(observer, f"{name}.service.consul") == expected,
                     timeout=PROPAGATION_TIMEOUT)
        code, output = lab.run(compute, "systemctl", "restart", "consul", timeout=120)
        assert code == 0, output
        lab.wait_for(f"{name} back after the agent restarted",
                     lambda: lab.srv(observer, f"{name}.service.consul") == expected,
                     timeout=RESYNC_TIMEOUT)


def test_a_container_started_while_the_agent_is_down_is_registered_when_it_is_back(
    lab, hosts
):
    name = f"late-{lab.suffix()}"
    compute, observer = hosts["compute_dc1"], hosts["observer_dc1"]
    code, output = lab.run(compute, "systemctl", "stop", "consul", timeout=60)
    try:
        assert code == 0, output
        with lab.container(compute, name, "-p", "8090:80", "-e", f"SERVICE_NAME={name}"):
            code, output = lab.run(compute, "systemctl", "start", "consul", timeout=120)
            assert code == 0, output
            lab.wait_for(f"{name} registered once the agent is back",
                         lambda: lab.srv(observer, f"{name}.service.consul"),
                         timeout=RESYNC_TIMEOUT)
    finally:
        lab.run(compute, "systemctl", "start", "consul", timeout=120)


def test_the_registrator_follows_containers_after_the_engine_restarts(lab, hosts):
    name = f"engine-{lab.suffix()}"
    compute, observer = hosts["compute_dc1"], hosts["observer_dc1"]
    code, output = lab.run(compute, "systemctl", "restart", "docker", timeout=120)
    assert code == 0, output
    with lab.container(compute, name, "-p", "8086:80", "-e", f"SERVICE_NAME={name}"):
        lab.wait_for(f"{name}, started after the engine restarted, registered",
                     lambda: lab.srv(observer, f"{name}.service.consul"),
                     timeout=RESYNC_TIMEOUT)


def test_resync_restores_a_service_removed_behind_its_back(lab, hosts):
    name = f"resync-{lab.suffix()}"
    compute, observer = hosts["compute_dc1"], hosts["observer_dc1"]
    with lab.container(compute, name, "-p", "8087:80", "-e", f"SERVICE_NAME={name}") as cid:
        lab.wait_for(f"{name} registered", lambda: managed_services(lab, compute, cid),
                     timeout=PROPAGATION_TIMEOUT)
        (service_id,) = managed_services(lab, compute, cid)
        status, body = lab.http(compute, f"/v1/agent/service/deregister/{lab.quote(service_id)}",
                                method="PUT")
        assert status == 200, body
        lab.wait_for(f"{name} registered again by the next resync",
                     lambda: lab.srv(observer, f"{name}.service.consul"),
                     timeout=RESYNC_TIMEOUT)


def test_a_service_failing_its_http_check_is_not_returned_by_dns(lab, hosts):
    name = f"checked-{lab.suffix()}"
    compute, observer = hosts["compute_dc1"], hosts["observer_dc1"]
    check = ["-e", f"SERVICE_NAME={name}", "-e", "SERVICE_CHECK_INTERVAL=1s"]
    with lab.container(compute, f"{name}-ok", "-p", "8088:80", *check,
                 "-e", "SERVICE_CHECK_HTTP=/index.html"), \
            lab.container(compute, f"{name}-bad", "-p", "8089:80", *check,
                    "-e", "SERVICE_CHECK_HTTP=/missing") as bad:
        lab.wait_for(f"the healthy {name} in DNS",
                     lambda: lab.srv(observer, f"{name}.service.consul"),
                     timeout=PROPAGATION_TIMEOUT)
        (bad_service,) = managed_services(lab, compute, bad)
        checks = lab.consul(compute, f"health/service/{name}") or []
        statuses = {
            entry["Service"]["ID"]: [check["Status"] for check in entry["Checks"]]
            for entry in checks
        }
        assert "critical" in statuses[bad_service], statuses
        assert lab.srv(observer, f"{name}.service.consul") == [(compute.address, 8088)]


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
    name = f"reboot-{lab.suffix()}"
    with lab.container(compute, name, "-p", "8081:80", "-e", f"SERVICE_NAME={name}"):
        lab.wait_for(
            f"{name}.service.consul from another dc2 host",
            lambda: lab.srv(observer, f"{name}.service.consul") == [(compute.address, 8081)],
            timeout=PROPAGATION_TIMEOUT,
        )

        def resolves_inside_a_container() -> bool:
            code, output = lab.run(
                compute, "docker", "run", "--rm", "--label", lab.TEST_LABEL, TEST_IMAGE,
                "nslookup", f"{name}.service.consul",
            )
            return code == 0 and f"Address: {compute.address}" in output

        lab.wait_for(f"{name}.service.consul inside a container on {compute.name}",
                     resolves_inside_a_container, timeout=PROPAGATION_TIMEOUT)
