"""The registrator's container-to-service rules (``salt/registrator/files/registrator``)."""

import pytest

from registrator import mapping

HOST = mapping.Settings(hostname="dc1-compute-1", address="10.231.1.101")


def container(
    *,
    name: str = "web1",
    image: str = "team/web:1.2",
    env: list[str] | None = None,
    labels: dict[str, str] | None = None,
    published: dict | None = None,
    exposed: list[str] | None = None,
    address: str = "172.17.0.2",
    networks: dict | None = None,
    network_mode: str = "default",
    port_bindings: dict | None = None,
    running: bool = True,
    container_id: str = "c0ffee",
) -> dict:
    """What ``docker inspect`` says about a container, reduced to what the rules read."""
    return {
        "Id": container_id,
        "Name": f"/{name}",
        "State": {"Running": running},
        "Config": {
            "Image": image,
            "Env": env or [],
            "Labels": labels or {},
            "ExposedPorts": {key: {} for key in exposed or []},
        },
        "HostConfig": {"NetworkMode": network_mode, "PortBindings": port_bindings or {}},
        "NetworkSettings": {
            "IPAddress": address,
            "Ports": published or {},
            "Networks": networks or {},
        },
    }


def bound(host_port: int, host_ip: str = "0.0.0.0") -> list[dict[str, str]]:
    return [{"HostIp": host_ip, "HostPort": str(host_port)}]


WEB = {"80/tcp": bound(8080)}


# Which ports become services


def test_one_service_per_published_port_at_the_host_address_and_published_port():
    (service,) = mapping.services(container(published=WEB), HOST)
    assert (service.address, service.port) == ("10.231.1.101", 8080)


def test_exposed_but_unpublished_ports_are_not_services():
    found = mapping.services(container(published={**WEB, "443/tcp": None}), HOST)
    assert [service.port for service in found] == [8080]


def test_a_port_bound_to_one_address_is_registered_at_that_address():
    (service,) = mapping.services(container(published={"80/tcp": bound(81, "10.9.0.5")}), HOST)
    assert (service.address, service.port) == ("10.9.0.5", 81)


def test_a_port_published_on_loopback_only_is_not_a_service():
    assert mapping.services(container(published={"80/tcp": bound(81, "127.0.0.1")}), HOST) == []


def test_a_port_published_on_ipv4_and_ipv6_is_one_service():
    bindings = bound(8080) + bound(8080, "::")
    assert len(mapping.services(container(published={"80/tcp": bindings}), HOST)) == 1


def test_host_network_uses_the_port_bindings_asked_for():
    found = mapping.services(
        container(network_mode="host", address="", port_bindings={"9000/tcp": bound(9000, "")}),
        HOST,
    )
    assert [(service.address, service.port) for service in found] == [("10.231.1.101", 9000)]


def test_internal_mode_registers_exposed_ports_at_the_container_address():
    internal = mapping.Settings(hostname="h", address="10.231.1.101", internal=True)
    found = mapping.services(container(exposed=["80/tcp"]), internal)
    assert [(service.address, service.port) for service in found] == [("172.17.0.2", 80)]


def test_internal_mode_takes_the_address_of_a_user_defined_network():
    internal = mapping.Settings(hostname="h", address="10.231.1.101", internal=True)
    networks = {"backend": {"IPAddress": "172.20.0.7"}, "zfront": {"IPAddress": "172.21.0.3"}}
    found = mapping.services(container(exposed=["80/tcp"], address="", networks=networks),
                             internal)
    assert [service.address for service in found] == ["172.20.0.7"]


def test_internal_mode_without_any_container_address_gives_nothing():
    internal = mapping.Settings(hostname="h", address="10.231.1.101", internal=True)
    assert mapping.services(container(exposed=["80/tcp"], address=""), internal) == []


def test_a_container_that_is_not_running_has_no_services():
    assert mapping.services(container(published=WEB, running=False), HOST) == []


# Names


@pytest.mark.parametrize(
    ("image", "name"),
    [
        ("redis", "redis"),
        ("team/web:1.2", "web"),
        ("registry.example:5000/team/web:1.2", "web"),
        ("team/web@sha256:0123abcd", "web"),
    ],
)
def test_the_default_name_is_the_image_base_name_without_tag(image, name):
    (service,) = mapping.services(container(image=image, published=WEB), HOST)
    assert service.name == name


def test_service_name_from_the_environment():
    (service,) = mapping.services(container(env=["SERVICE_NAME=api"], published=WEB), HOST)
    assert service.name == "api"


def test_a_label_overrides_the_environment():
    found = mapping.services(
        container(env=["SERVICE_NAME=api"], labels={"SERVICE_NAME": "front"}, published=WEB),
        HOST,
    )
    assert [service.name for service in found] == ["front"]


def test_several_ports_get_the_exposed_port_after_the_name():
    published = {"80/tcp": bound(8080), "443/tcp": bound(8443)}
    found = mapping.services(container(published=published), HOST)
    assert [(service.name, service.port) for service in found] == [
        ("web-80", 8080), ("web-443", 8443),
    ]


def test_several_ports_with_service_name_still_get_the_port_suffix():
    published = {"80/tcp": bound(8080), "443/tcp": bound(8443)}
    found = mapping.services(container(env=["SERVICE_NAME=site"], published=published), HOST)
    assert [service.name for service in found] == ["site-80", "site-443"]


def test_a_port_with_its_own_name_gets_no_suffix():
    published = {"80/tcp": bound(8080), "443/tcp": bound(8443)}
    found = mapping.services(
        container(env=["SERVICE_443_NAME=https", "SERVICE_NAME=site"], published=published),
        HOST,
    )
    assert [service.name for service in found] == ["site-80", "https"]


def test_a_port_setting_applies_to_that_port_only():
    published = {"80/tcp": bound(8080), "443/tcp": bound(8443)}
    found = mapping.services(container(env=["SERVICE_80_TAGS=plain"], published=published),
                             HOST)
    assert [service.tags for service in found] == [("plain",), ()]


# Ids


def test_the_id_is_host_container_and_exposed_port():
    (service,) = mapping.services(container(name="web1", published=WEB), HOST)
    assert service.id == "dc1-compute-1:web1:80"


def test_udp_ports_have_their_own_id():
    published = {"53/tcp": bound(5353), "53/udp": bound(5353)}
    found = mapping.services(container(name="dns", published=published), HOST)
    assert [service.id for service in found] == ["dc1-compute-1:dns:53", "dc1-compute-1:dns:53:udp"]


def test_two_containers_of_one_name_have_different_ids():
    first = mapping.services(container(name="web1", published=WEB), HOST)
    second = mapping.services(container(name="web2", published={"80/tcp": bound(8081)}), HOST)
    assert first[0].name == second[0].name and first[0].id != second[0].id


# Tags


def test_tags_are_a_comma_separated_list():
    (service,) = mapping.services(container(env=["SERVICE_TAGS=a, b,,c"], published=WEB), HOST)
    assert service.tags == ("a", "b", "c")


def test_an_escaped_comma_stays_in_the_tag():
    (service,) = mapping.services(container(env=["SERVICE_TAGS=x\\,y,z"], published=WEB), HOST)
    assert service.tags == ("x,y", "z")


def test_the_registrator_tags_follow_the_container_tags_once():
    tagged = mapping.Settings(hostname="h", address="10.0.0.1", tags=("docker", "a"))
    (service,) = mapping.services(container(env=["SERVICE_TAGS=a,b"], published=WEB), tagged)
    assert service.tags == ("a", "b", "docker")


# Ignore and explicit


@pytest.mark.parametrize("value", ["true", "1", "yes", "anything"])
def test_service_ignore_skips_the_container(value):
    assert mapping.services(container(env=[f"SERVICE_IGNORE={value}"], published=WEB), HOST) == []


@pytest.mark.parametrize("value", ["", "false", "0", "no", "off"])
def test_service_ignore_false_does_not_skip(value):
    found = mapping.services(container(env=[f"SERVICE_IGNORE={value}"], published=WEB), HOST)
    assert len(found) == 1


def test_ignore_as_a_label():
    found = mapping.services(container(labels={"SERVICE_IGNORE": "true"}, published=WEB), HOST)
    assert found == []


def test_a_port_can_be_ignored_alone_and_keeps_the_suffix_rule():
    published = {"80/tcp": bound(8080), "443/tcp": bound(8443)}
    found = mapping.services(container(env=["SERVICE_443_IGNORE=true"], published=published),
                             HOST)
    assert [service.name for service in found] == ["web-80"]


def test_explicit_mode_registers_only_named_containers():
    explicit = mapping.Settings(hostname="h", address="10.0.0.1", explicit=True)
    assert mapping.services(container(published=WEB), explicit) == []
    named = mapping.services(container(env=["SERVICE_NAME=api"], published=WEB), explicit)
    assert [service.name for service in named] == ["api"]


def test_other_variables_and_labels_are_not_settings():
    found = mapping.services(
        container(env=["PATH=/bin", "SERVICE_=x", "NAME=x"], labels={"maintainer": "me"},
                  published=WEB),
        HOST,
    )
    assert [(service.name, service.tags, service.check) for service in found] == [
        ("web", (), None)
    ]


# Checks


def test_http_check_on_the_service_address_with_the_default_interval():
    (service,) = mapping.services(container(env=["SERVICE_CHECK_HTTP=/health"], published=WEB),
                                  HOST)
    assert service.check == {"HTTP": "http://10.231.1.101:8080/health", "Interval": "10s"}


def test_http_check_interval_timeout_and_initial_status():
    env = ["SERVICE_CHECK_HTTP=health", "SERVICE_CHECK_INTERVAL=2s",
           "SERVICE_CHECK_TIMEOUT=1s", "SERVICE_CHECK_INITIAL_STATUS=passing"]
    (service,) = mapping.services(container(env=env, published=WEB), HOST)
    assert service.check == {
        "HTTP": "http://10.231.1.101:8080/health", "Interval": "2s", "Timeout": "1s",
        "Status": "passing",
    }


def test_tcp_check():
    env = ["SERVICE_CHECK_TCP=true", "SERVICE_CHECK_TIMEOUT=3s"]
    (service,) = mapping.services(container(env=env, published=WEB), HOST)
    assert service.check == {"TCP": "10.231.1.101:8080", "Interval": "10s", "Timeout": "3s"}


def test_tcp_check_false_is_no_check():
    (service,) = mapping.services(container(env=["SERVICE_CHECK_TCP=false"], published=WEB),
                                  HOST)
    assert service.check is None


def test_http_wins_over_tcp():
    env = ["SERVICE_CHECK_TCP=true", "SERVICE_CHECK_HTTP=/"]
    (service,) = mapping.services(container(env=env, published=WEB), HOST)
    assert set(service.check) == {"HTTP", "Interval"}


def test_a_check_per_port():
    published = {"80/tcp": bound(8080), "443/tcp": bound(8443)}
    env = ["SERVICE_443_CHECK_TCP=true"]
    found = mapping.services(container(env=env, published=published), HOST)
    assert [service.check for service in found] == [
        None, {"TCP": "10.231.1.101:8443", "Interval": "10s"},
    ]


def test_check_addresses_in_ipv6_are_bracketed():
    assert mapping.check({"check_tcp": "1"}, "fd00::5", 80)["TCP"] == "[fd00::5]:80"


# Registration and marking


def test_registration_marks_the_service_with_its_container():
    (service,) = mapping.services(container(env=["SERVICE_NAME=web"], published=WEB), HOST)
    assert service.registration() == {
        "name": "web",
        "service_id": "dc1-compute-1:web1:80",
        "address": "10.231.1.101",
        "port": 8080,
        "tags": [],
        "meta": {"managed-by": "platform-registrator", "container-id": "c0ffee",
                 "container-name": "web1"},
        "check": None,
    }


# Reconciliation


def registered(service: mapping.Service, **changes) -> dict:
    """The agent's ``/v1/agent/services`` entry of a registered service."""
    entry = {
        "ID": service.id, "Service": service.name, "Tags": list(service.tags),
        "Meta": service.meta, "Port": service.port, "Address": service.address,
    }
    entry.update(changes)
    return entry


def services_of(*containers: dict) -> list[mapping.Service]:
    return [service for item in containers for service in mapping.services(item, HOST)]


FIRST = container(name="web1", container_id="aaa", published=WEB)
SECOND = container(name="web2", container_id="bbb", published={"80/tcp": bound(8081)})
FOREIGN = {"ID": "consul-ui", "Service": "ui", "Tags": [], "Meta": {}, "Port": 80,
           "Address": ""}


def test_reconcile_registers_what_is_missing():
    plan = mapping.reconcile(services_of(FIRST, SECOND), {})
    assert [service.id for service in plan.register] == [
        "dc1-compute-1:web1:80", "dc1-compute-1:web2:80",
    ]
    assert plan.deregister == ()


def test_reconcile_of_what_is_registered_changes_nothing():
    desired = services_of(FIRST)
    plan = mapping.reconcile(desired, {desired[0].id: registered(desired[0])})
    assert plan == mapping.Plan()


def test_reconcile_re_registers_a_service_that_differs():
    desired = services_of(FIRST)
    plan = mapping.reconcile(desired, {desired[0].id: registered(desired[0], Port=1)})
    assert plan.register == tuple(desired)


def test_reconcile_removes_its_services_of_gone_containers():
    gone = services_of(SECOND)[0]
    plan = mapping.reconcile(services_of(FIRST), {gone.id: registered(gone)})
    assert plan.deregister == (gone.id,)


def test_reconcile_never_touches_services_it_did_not_create():
    plan = mapping.reconcile([], {"consul-ui": FOREIGN})
    assert plan == mapping.Plan()


def test_reconcile_does_not_overwrite_a_foreign_service_of_the_same_id():
    desired = services_of(FIRST)
    plan = mapping.reconcile(desired, {desired[0].id: {**FOREIGN, "ID": desired[0].id}})
    assert (plan.register, plan.conflicts) == ((), (desired[0].id,))


def test_reconcile_for_one_container_leaves_the_others_alone():
    first, second = services_of(FIRST, SECOND)
    agent = {first.id: registered(first), second.id: registered(second)}
    plan = mapping.reconcile([], agent, container_ids=["aaa"])
    assert plan.deregister == (first.id,)
