"""Quorum math and plan validation of _modules/quorum.py."""

import base64
import importlib.util
import json
import re
from pathlib import Path
from unittest.mock import Mock, patch

import pytest
import salt.config
import salt.loader
import yaml
from salt.exceptions import CommandExecutionError, SaltInvocationError, SaltReqTimeoutError

REPO = Path(__file__).resolve().parents[2]
MODULE_PATH = REPO / "_modules" / "quorum.py"
_spec = importlib.util.spec_from_file_location("quorum", MODULE_PATH)
quorum = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(quorum)


def control_nodes(datacenter: str, size: int) -> list[dict]:
    number = datacenter.removeprefix("dc")
    return [
        {"id": f"{datacenter}-control-{index}", "address": f"10.0.{number}.{10 + index}"}
        for index in range(1, size + 1)
    ]


def plan_of(**sizes: int) -> dict:
    """A datacenters pillar: ``plan_of(dc1=3, dc2=1)``."""
    return {name: {"control_nodes": control_nodes(name, size)} for name, size in sizes.items()}


def grains(minion_id: str = "dc1-control-1", datacenter: str = "dc1", roles=("control",)) -> dict:
    return {"id": minion_id, "datacenter": datacenter, "roles": roles}


# A compute host's routes as grain platform_routes has them (_grains/platform.py): its LAN,
# docker0 and a default route on another network.
COMPUTE_ROUTES = [
    {"destination": "default", "source": "192.0.2.21", "family": 4},
    {"destination": "10.0.0.0/8", "source": "10.9.9.21", "family": 4},
    {"destination": "10.0.1.0/24", "source": "10.0.1.21", "family": 4},
    {"destination": "172.17.0.0/16", "source": "172.17.0.1", "family": 4},
    {"destination": "default", "source": "fd00::21", "family": 6},
]
COMPUTE_GRAINS = {**grains("dc1-compute-1", roles=["compute"]), "platform_routes": COMPUTE_ROUTES}


@pytest.mark.parametrize(
    ("size", "majority", "fault_tolerance"),
    [(1, 1, 0), (3, 2, 1), (5, 3, 2), (7, 4, 3)],
)
def test_plan_computes_quorum_of_odd_sizes(size, majority, fault_tolerance):
    plan = quorum._plan(plan_of(dc1=size), grains())

    addresses = [f"10.0.1.{10 + index}" for index in range(1, size + 1)]
    connect = ",".join(f"{address}:2181" for address in addresses)
    assert plan["size"] == size
    assert plan["majority"] == majority
    assert plan["fault_tolerance"] == fault_tolerance
    assert plan["bootstrap_expect"] == size
    assert [member["zk_id"] for member in plan["members"]] == list(range(1, size + 1))
    assert plan["lan_peers"] == addresses
    assert plan["zookeeper_servers"] == [
        f"server.{index}={address}:2888:3888" for index, address in enumerate(addresses, 1)
    ]
    assert plan["zookeeper_ensemble"] == {
        str(index): f"{address}:2888:3888" for index, address in enumerate(addresses, 1)
    }
    assert plan["zookeeper_connect"] == connect
    assert plan["mesos_zk_url"] == f"zk://{connect}/mesos"
    assert plan["marathon_zk_url"] == f"zk://{connect}/marathon"
    assert plan["is_control"] is True
    assert plan["zookeeper_id"] == 1
    assert plan["wan_peers"] == []


def test_plan_of_compute_host_has_no_zookeeper_id():
    plan = quorum._plan(plan_of(dc1=3), COMPUTE_GRAINS)

    assert plan["is_control"] is False
    assert plan["zookeeper_id"] is None


def test_plan_places_host_by_its_position_in_the_list():
    plan = quorum._plan(plan_of(dc1=5), grains("dc1-control-4"))

    assert plan["zookeeper_id"] == 4


def test_plan_uses_the_zookeeper_ports_of_pillar():
    ports = {"client": 12181, "peer": 12888, "election": 13888}

    plan = quorum._plan(plan_of(dc1=1), grains(), zookeeper_ports=ports)

    assert plan["zookeeper_ports"] == ports
    assert plan["zookeeper_servers"] == ["server.1=10.0.1.11:12888:13888"]
    assert plan["zookeeper_connect"] == "10.0.1.11:12181"
    assert plan["mesos_zk_url"] == "zk://10.0.1.11:12181/mesos"
    assert plan["marathon_zk_url"] == "zk://10.0.1.11:12181/marathon"


def test_zookeeper_ports_default_to_the_modules_constants_one_by_one():
    plan = quorum._plan(plan_of(dc1=1), grains(), zookeeper_ports={"client": 12181})

    assert plan["zookeeper_ports"] == {"client": 12181, "peer": 2888, "election": 3888}
    assert quorum._plan(plan_of(dc1=1), grains())["zookeeper_ports"] == quorum.ZOOKEEPER_PORTS


def test_members_default_wan_address_to_address():
    datacenters = plan_of(dc1=3)
    datacenters["dc1"]["control_nodes"][1]["wan_address"] = "192.0.2.12"

    members = quorum._members(datacenters, "dc1")

    assert [member["wan_address"] for member in members] == [
        "10.0.1.11",
        "192.0.2.12",
        "10.0.1.13",
    ]


def test_even_control_nodes_are_accepted_when_allowed():
    datacenters = plan_of(dc1=2)
    datacenters["dc1"]["allow_even_control_nodes"] = True

    plan = quorum._plan(datacenters, grains())

    assert (plan["majority"], plan["fault_tolerance"]) == (2, 0)


def test_roles_grain_may_be_one_role_name():
    assert quorum._plan(plan_of(dc1=1), grains(roles="control"))["is_control"] is True


def test_a_host_may_be_control_and_compute():
    assert quorum._validated(plan_of(dc1=1), grains(roles=["control", "compute"])) == "dc1"


def with_node(datacenters: dict, datacenter: str, index: int, **fields) -> dict:
    datacenters[datacenter]["control_nodes"][index].update(fields)
    return datacenters


def without_field(datacenters: dict, field: str) -> dict:
    del datacenters["dc1"]["control_nodes"][1][field]
    return datacenters


def with_settings(datacenters: dict, **settings) -> dict:
    datacenters["dc1"].update(settings)
    return datacenters


BAD_PLANS = {
    "no datacenters pillar": (None, grains(), "pillar datacenters is missing"),
    "empty datacenters pillar": ({}, grains(), "pillar datacenters is missing"),
    "datacenters is a list": ([{"dc1": {}}], grains(), "pillar datacenters is a list"),
    "datacenter grain missing": (
        plan_of(dc1=3),
        {"id": "dc1-control-1", "roles": ["control"]},
        "grain datacenter is not set",
    ),
    "datacenter without pillar file": (
        plan_of(dc1=3),
        grains("dc3-control-1", "dc3"),
        "pillar datacenters:dc3 (from grain datacenter",
    ),
    "no control nodes": (
        {"dc1": {"control_nodes": []}},
        COMPUTE_GRAINS,
        "pillar datacenters:dc1:control_nodes is missing",
    ),
    "control_nodes key absent": (
        {"dc1": {}},
        COMPUTE_GRAINS,
        "pillar datacenters:dc1:control_nodes is missing",
    ),
    "node without id": (
        without_field(plan_of(dc1=3), "id"),
        grains(),
        "pillar datacenters:dc1:control_nodes:1 has no id",
    ),
    "node without address": (
        without_field(plan_of(dc1=3), "address"),
        grains(),
        "pillar datacenters:dc1:control_nodes:1 has no address",
    ),
    "wan_address not a string": (
        with_node(plan_of(dc1=3), "dc1", 0, wan_address=["10.0.0.11"]),
        grains(),
        "pillar datacenters:dc1:control_nodes:0 has no wan_address",
    ),
    "duplicate id": (
        with_node(plan_of(dc1=3), "dc1", 2, id="dc1-control-1"),
        grains(),
        "pillar datacenters:dc1:control_nodes:2 repeats id dc1-control-1",
    ),
    "duplicate id across datacenters": (
        with_node(plan_of(dc1=3, dc2=1), "dc2", 0, id="dc1-control-2"),
        grains(),
        "pillar datacenters:dc2:control_nodes:0 repeats id dc1-control-2",
    ),
    "duplicate address": (
        with_node(plan_of(dc1=3), "dc1", 2, address="10.0.1.11"),
        grains(),
        "pillar datacenters:dc1:control_nodes:2:address (dc1-control-3) is 10.0.1.11",
    ),
    "wan_address used as another node's address": (
        with_node(plan_of(dc1=3), "dc1", 0, wan_address="10.0.1.13"),
        grains(),
        "pillar datacenters:dc1:control_nodes:2:address (dc1-control-3) is 10.0.1.13",
    ),
    "duplicate wan_address across datacenters": (
        with_node(
            with_node(plan_of(dc1=3, dc2=1), "dc1", 0, wan_address="192.0.2.1"),
            "dc2",
            0,
            wan_address="192.0.2.1",
        ),
        grains(),
        "pillar datacenters:dc2:control_nodes:0:wan_address (dc2-control-1) is 192.0.2.1",
    ),
    "even number of control nodes": (
        plan_of(dc1=4),
        grains(),
        "pillar datacenters:dc1:control_nodes has 4 members; an even number",
    ),
    "even number, allow flag not true": (
        with_settings(plan_of(dc1=2), allow_even_control_nodes="yes"),
        grains(),
        "or set datacenters:dc1:allow_even_control_nodes: true",
    ),
    "more than seven control nodes": (
        plan_of(dc1=9),
        grains(),
        "pillar datacenters:dc1:control_nodes has 9 members; more than 7",
    ),
    "eight control nodes, even allowed": (
        with_settings(plan_of(dc1=8), allow_even_control_nodes=True),
        grains(),
        "pillar datacenters:dc1:control_nodes has 8 members; more than 7",
    ),
    "unknown role": (plan_of(dc1=3), grains(roles=["contrl"]), "grain roles of dc1-control-1"),
    "roles grain of wrong type": (
        plan_of(dc1=3),
        {**grains(), "roles": {"control": True}},
        "grain roles of dc1-control-1",
    ),
    "control host not listed": (
        plan_of(dc1=3),
        grains("dc1-control-9"),
        "host dc1-control-9 has role control (grain roles) but is not listed in pillar "
        "datacenters:dc1:control_nodes",
    ),
    "listed host without control role": (
        plan_of(dc1=3),
        grains("dc1-control-2", roles=["compute"]),
        "host dc1-control-2 is listed in pillar datacenters:dc1:control_nodes but its grain "
        "roles lacks control",
    ),
}


@pytest.mark.parametrize(
    ("datacenters", "host_grains", "message"), BAD_PLANS.values(), ids=BAD_PLANS.keys()
)
def test_bad_plan_is_rejected_naming_the_key(datacenters, host_grains, message):
    with pytest.raises(SaltInvocationError, match=re.escape(message)):
        quorum._plan(datacenters, host_grains)


def test_unknown_role_message_names_the_allowed_roles():
    with pytest.raises(SaltInvocationError, match="unknown role 'contrl': allowed roles are"):
        quorum._validated(plan_of(dc1=3), grains(roles=["control", "contrl"]))


def test_wan_peers_validate_the_other_datacenters():
    datacenters = plan_of(dc1=3, dc2=2)

    with pytest.raises(SaltInvocationError, match="pillar datacenters:dc2:control_nodes has 2"):
        quorum._wan_peers(datacenters, "dc1")


def test_malformed_other_datacenter_fails_only_what_reads_it():
    datacenters = with_node(plan_of(dc1=3, dc2=1), "dc2", 0, id=["dc2-control-1"])

    assert quorum._validated(datacenters, grains()) == "dc1"
    with pytest.raises(SaltInvocationError, match="datacenters:dc2:control_nodes:0 has no id"):
        quorum._plan(datacenters, grains())


def test_wan_peers_of_two_datacenters_are_the_other_control_nodes():
    datacenters = with_node(plan_of(dc1=3, dc2=1), "dc1", 1, wan_address="192.0.2.12")

    assert quorum._wan_peers(datacenters, "dc1") == ["10.0.2.11"]
    assert quorum._wan_peers(datacenters, "dc2") == ["10.0.1.11", "192.0.2.12", "10.0.1.13"]


def test_wan_peers_of_three_datacenters_are_ordered_by_datacenter_name():
    # Written out of order on purpose: the result follows the names, not the pillar's order.
    datacenters = plan_of(dc3=3, dc1=1, dc2=3)
    with_node(datacenters, "dc3", 0, wan_address="192.0.2.31")

    assert quorum._wan_peers(datacenters, "dc1") == [
        "10.0.2.11",
        "10.0.2.12",
        "10.0.2.13",
        "192.0.2.31",
        "10.0.3.12",
        "10.0.3.13",
    ]
    assert quorum._wan_peers(datacenters, "dc2") == [
        "10.0.1.11",
        "192.0.2.31",
        "10.0.3.12",
        "10.0.3.13",
    ]


# The loader-facing functions, with __pillar__ and __grains__ as Salt's loader gives them.

TWO_DATACENTERS = plan_of(dc1=3, dc2=1)


@pytest.fixture
def configure_loader_modules():
    # A site with its secrets, as scripts/secrets init makes them: 32 bytes of gossip key.
    pillar = {"datacenters": TWO_DATACENTERS, **site_secrets(base64.b64encode(bytes(32)).decode())}
    return {quorum: {"__pillar__": pillar, "__grains__": grains()}}


def test_loader_functions_report_on_the_hosts_datacenter():
    assert quorum.validate() is True
    assert [member["id"] for member in quorum.members()] == [
        "dc1-control-1",
        "dc1-control-2",
        "dc1-control-3",
    ]
    assert quorum.majority() == 2
    assert quorum.fault_tolerance() == 1
    assert quorum.bootstrap_expect() == 3
    assert quorum.is_control() is True
    assert quorum.zookeeper_id() == 1
    assert quorum.lan_peers() == ["10.0.1.11", "10.0.1.12", "10.0.1.13"]
    assert quorum.wan_peers() == ["10.0.2.11"]
    assert quorum.zookeeper_servers()[2] == "server.3=10.0.1.13:2888:3888"
    assert quorum.zookeeper_connect() == "10.0.1.11:2181,10.0.1.12:2181,10.0.1.13:2181"
    assert quorum.zk_url("/mesos") == "zk://10.0.1.11:2181,10.0.1.12:2181,10.0.1.13:2181/mesos"
    assert quorum.zk_url("marathon").endswith(":2181/marathon")


def test_loader_functions_report_on_another_datacenter():
    assert quorum.validate(datacenter="dc2") is True
    assert quorum.bootstrap_expect(datacenter="dc2") == 1
    assert quorum.majority(datacenter="dc2") == 1
    assert quorum.fault_tolerance(datacenter="dc2") == 0
    assert quorum.wan_peers(datacenter="dc2") == ["10.0.1.11", "10.0.1.12", "10.0.1.13"]
    assert quorum.zookeeper_connect(datacenter="dc2") == "10.0.2.11:2181"
    assert quorum.zookeeper_servers(datacenter="dc2") == ["server.1=10.0.2.11:2888:3888"]
    plan = quorum.plan(datacenter="dc2")
    assert (plan["datacenter"], plan["is_control"], plan["zookeeper_id"]) == ("dc2", False, None)
    # The host's entry is about the host, in its own datacenter.
    assert (plan["host"]["datacenter"], plan["host"]["is_control"]) == ("dc1", True)


def test_loader_functions_take_zookeeper_ports_from_pillar():
    ports = {"client": 12181, "peer": 1, "election": 2}

    with patch.dict(quorum.__pillar__, {"zookeeper": {"ports": ports}}):
        assert quorum.zookeeper_connect(datacenter="dc2") == "10.0.2.11:12181"
        assert quorum.zookeeper_servers(datacenter="dc2") == ["server.1=10.0.2.11:1:2"]
        assert quorum.zk_url("/mesos", datacenter="dc2") == "zk://10.0.2.11:12181/mesos"
        assert quorum.plan()["zookeeper_ports"] == ports


def test_loader_functions_locate_other_minions():
    assert quorum.zookeeper_id("dc1-control-3") == 3
    assert quorum.zookeeper_id("dc2-control-1") == 1
    assert quorum.is_control("dc2-control-1") is True
    assert quorum.is_control("dc1-compute-1") is False
    assert quorum.zookeeper_id("dc1-compute-1") is None


def test_loader_plan_holds_every_key():
    assert set(quorum.plan()) == {
        "datacenter",
        "members",
        "size",
        "majority",
        "fault_tolerance",
        "bootstrap_expect",
        "lan_peers",
        "wan_peers",
        "is_control",
        "zookeeper_id",
        "host",
        "zookeeper_ports",
        "zookeeper_servers",
        "zookeeper_ensemble",
        "zookeeper_connect",
        "mesos_zk_url",
        "marathon_zk_url",
        "security",
        "primary_datacenter",
        "agents",
    }
    assert quorum.plan()["security"] == {
        "open": False,
        "stage": "secure",
        "stages_reached": ["accept", "verify", "secure"],
        "gossip_key_pillar": "secrets:consul:gossip_key",
        "tls": True,
        "acl_default_policy": "deny",
        "tokens_in_use": True,
        "verify_outgoing": True,
        "verify_incoming": True,
    }
    assert quorum.plan()["primary_datacenter"] == "dc1"
    assert set(quorum.plan()["host"]) == {
        "id",
        "datacenter",
        "roles",
        "is_control",
        "is_compute",
        "address",
        "wan_address",
    }


PUBLIC_CALLS = {
    "validate": lambda: quorum.validate(),
    "members": lambda: quorum.members(),
    "majority": lambda: quorum.majority(),
    "fault_tolerance": lambda: quorum.fault_tolerance(),
    "bootstrap_expect": lambda: quorum.bootstrap_expect(),
    "is_control": lambda: quorum.is_control(),
    "is_control of another minion": lambda: quorum.is_control("dc1-control-2"),
    "lan_peers": lambda: quorum.lan_peers(),
    "wan_peers": lambda: quorum.wan_peers(),
    "zookeeper_id": lambda: quorum.zookeeper_id(),
    "zookeeper_servers": lambda: quorum.zookeeper_servers(),
    "zookeeper_connect": lambda: quorum.zookeeper_connect(),
    "zk_url": lambda: quorum.zk_url("/mesos"),
    "plan": lambda: quorum.plan(),
}


@pytest.mark.parametrize("call", PUBLIC_CALLS.values(), ids=PUBLIC_CALLS.keys())
def test_every_loader_function_validates_the_plan(call):
    with patch.dict(quorum.__pillar__, {"datacenters": plan_of(dc1=4)}):
        with pytest.raises(SaltInvocationError, match="datacenters:dc1:control_nodes has 4"):
            call()


# The host's own entry: its facts in one place, its address without asking the host.


def test_host_entry_of_a_control_node_holds_its_pillar_addresses():
    datacenters = with_node(plan_of(dc1=3), "dc1", 1, wan_address="192.0.2.12")

    host = quorum._plan(datacenters, grains("dc1-control-2"))["host"]

    assert host == {
        "id": "dc1-control-2",
        "datacenter": "dc1",
        "roles": ["control"],
        "is_control": True,
        "is_compute": False,
        "address": "10.0.1.12",
        "wan_address": "192.0.2.12",
    }


def test_host_entry_of_a_compute_node_takes_the_most_specific_route_to_the_first_peer():
    host = quorum._plan(plan_of(dc1=3), COMPUTE_GRAINS)["host"]

    assert host == {
        "id": "dc1-compute-1",
        "datacenter": "dc1",
        "roles": ["compute"],
        "is_control": False,
        "is_compute": True,
        "address": "10.0.1.21",
        "wan_address": "10.0.1.21",
    }


def test_host_on_both_roles_is_control_and_compute():
    host = quorum._plan(plan_of(dc1=1), grains(roles=["control", "compute"]))["host"]

    assert (host["is_control"], host["is_compute"], host["address"]) == (True, True, "10.0.1.11")


def test_an_edge_host_is_a_client_of_its_datacenter_at_its_routed_address():
    edge = {**COMPUTE_GRAINS, "id": "dc1-edge-1", "roles": ["edge"]}

    plan = quorum._plan(plan_of(dc1=3), edge)

    assert (plan["is_control"], plan["zookeeper_id"]) == (False, None)
    assert plan["host"]["roles"] == ["edge"]
    assert (plan["host"]["is_compute"], plan["host"]["address"]) == (False, "10.0.1.21")


def test_host_address_falls_back_to_the_default_route_of_the_peers_family():
    routes = [route for route in COMPUTE_ROUTES if route["destination"] != "10.0.0.0/8"]
    datacenters = with_node(plan_of(dc1=1), "dc1", 0, address="10.7.0.11")

    host = quorum._plan(datacenters, {**COMPUTE_GRAINS, "platform_routes": routes})["host"]

    assert host["address"] == "192.0.2.21"


def test_host_address_towards_an_ipv6_peer_comes_from_an_ipv6_route():
    datacenters = with_node(plan_of(dc1=1), "dc1", 0, address="fd00:1::11")
    routes = [*COMPUTE_ROUTES, {"destination": "fd00:1::/64", "source": "fd00:1::21", "family": 6}]

    host = quorum._plan(datacenters, {**COMPUTE_GRAINS, "platform_routes": routes})["host"]

    assert host["address"] == "fd00:1::21"


def test_host_address_towards_a_peer_named_by_host_name_is_the_ipv4_default_routes():
    datacenters = with_node(plan_of(dc1=1), "dc1", 0, address="control-1.dc1.example")

    assert quorum._plan(datacenters, COMPUTE_GRAINS)["host"]["address"] == "192.0.2.21"


def test_grain_platform_address_overrides_the_routes_of_a_compute_node():
    host_grains = {**COMPUTE_GRAINS, "platform_address": "10.0.1.99"}

    host = quorum._plan(plan_of(dc1=3), host_grains)["host"]

    assert (host["address"], host["wan_address"]) == ("10.0.1.99", "10.0.1.99")


def test_pillar_address_of_a_control_node_wins_over_grain_platform_address():
    host_grains = {**grains(), "platform_address": "10.0.1.99"}

    assert quorum._plan(plan_of(dc1=3), host_grains)["host"]["address"] == "10.0.1.11"


def test_malformed_routes_are_skipped():
    routes = ["10.0.1.0/24", {"destination": "10.0.1.0/33", "source": "10.0.1.5", "family": 4}]

    assert quorum._route_source([*routes, *COMPUTE_ROUTES], "10.0.1.11") == "10.0.1.21"
    assert quorum._route_source("not a list", "10.0.1.11") is None


@pytest.mark.parametrize(
    "host_grains",
    [
        {**COMPUTE_GRAINS, "platform_routes": []},
        {**grains("dc1-compute-1", roles=["compute"])},
        {**COMPUTE_GRAINS, "platform_routes": [COMPUTE_ROUTES[-1]]},
    ],
    ids=["no routes", "no grain platform_routes", "IPv6 routes only"],
)
def test_host_without_a_route_to_its_peers_is_told_to_set_platform_address(host_grains):
    with pytest.raises(SaltInvocationError) as error:
        quorum._plan(plan_of(dc1=3), host_grains)

    assert "host dc1-compute-1 has no route towards 10.0.1.11" in str(error.value)
    assert "set grain platform_address" in str(error.value)


def test_malformed_platform_address_is_rejected():
    with pytest.raises(SaltInvocationError, match="grain platform_address of dc1-compute-1 is"):
        quorum._plan(plan_of(dc1=3), {**COMPUTE_GRAINS, "platform_address": "10.0.1.300"})


# What the programs would reject, caught by the plan with the key and the fix.

REJECTED = {
    "datacenter name with capitals": (
        {"DC1": plan_of(dc1=3)["dc1"]},
        grains(datacenter="DC1"),
        "pillar datacenters:DC1 is not a datacenter name Consul accepts",
        "lowercase letters, digits, '-' and '_'",
    ),
    "datacenter name with a dot": (
        {"dc.1": plan_of(dc1=3)["dc1"]},
        grains(datacenter="dc.1"),
        "pillar datacenters:dc.1 is not a datacenter name",
        "lowercase letters",
    ),
    "another datacenter's name": (
        {**plan_of(dc1=3), "Dc2": plan_of(dc2=1)["dc2"]},
        grains(),
        "pillar datacenters:Dc2 is not a datacenter name",
        "lowercase letters",
    ),
    "node id with an underscore": (
        with_node(plan_of(dc1=3), "dc1", 1, id="dc1_control_2"),
        grains(),
        "pillar datacenters:dc1:control_nodes:1:id is 'dc1_control_2'",
        "letters, digits and '-' only, at most 63 characters",
    ),
    "node id with dots": (
        with_node(plan_of(dc1=3), "dc1", 1, id="control-2.example.com"),
        grains(),
        "pillar datacenters:dc1:control_nodes:1:id is 'control-2.example.com'",
        "at most 63 characters",
    ),
    "node id of 64 characters": (
        with_node(plan_of(dc1=3), "dc1", 1, id="c" * 64),
        grains(),
        "pillar datacenters:dc1:control_nodes:1:id is",
        "at most 63 characters",
    ),
    "host's own minion id": (
        plan_of(dc1=3),
        {**COMPUTE_GRAINS, "id": "compute_1"},
        "grain id (the minion id) is 'compute_1'",
        "rename the host (its roster entry, or /etc/salt/minion_id)",
    ),
    **{
        f"{field} {address}": (
            with_node(plan_of(dc1=3), "dc1", 2, **{field: address}),
            grains(),
            f"pillar datacenters:dc1:control_nodes:2:{field} is {address!r}, neither an IP "
            "address nor a host name",
            "write an IPv4 address (10.0.1.11), an IPv6 address (fd00::11) or a host name",
        )
        for field in ("address", "wan_address")
        for address in ("10.0.1.300", "10.0.1", "host_name", "fe80:::1", "-host", "a..b")
    },
}


@pytest.mark.parametrize(
    ("datacenters", "host_grains", "message", "fix"), REJECTED.values(), ids=REJECTED.keys()
)
def test_value_a_program_would_reject_fails_the_plan_naming_key_and_fix(
    datacenters, host_grains, message, fix
):
    with pytest.raises(SaltInvocationError) as error:
        quorum._plan(datacenters, host_grains)

    assert message in str(error.value)
    assert fix in str(error.value)


@pytest.mark.parametrize(
    ("field", "address"),
    [
        ("address", "fd00:1::11"),
        ("address", "control-1.dc1.example"),
        ("address", "control-1"),
        ("wan_address", "2001:db8::11"),
        ("wan_address", "wan-1.example.com"),
    ],
)
def test_ip_addresses_of_both_families_and_host_names_are_accepted(field, address):
    datacenters = with_node(plan_of(dc1=3), "dc1", 0, **{field: address})

    assert quorum._plan(datacenters, grains())["members"][0][field] == address


def test_valid_datacenter_and_node_names_are_accepted():
    datacenters = {"eu-west_2": {"control_nodes": [{"id": "A-1", "address": "10.0.1.11"}]}}

    plan = quorum._plan(datacenters, grains("A-1", "eu-west_2"))

    assert (plan["datacenter"], plan["host"]["id"]) == ("eu-west_2", "A-1")


# Settings of the programs in pillar: gossip key, versions, ports.


def gossip_key(size: int) -> str:
    return base64.b64encode(bytes(range(size))).decode()


def site_secrets(gossip: str | None) -> dict:
    """Pillar ``secrets`` of a secured site, with ``gossip`` as its gossip key (none if None)."""
    tree: dict = {}
    for key in quorum.SECURED_SITE_PILLAR:
        *path, leaf = key.split(":")
        branch = tree
        for name in path:
            branch = branch.setdefault(name, {})
        branch[leaf] = f"value of {key}"
    if gossip is not None:
        tree["secrets"]["consul"]["gossip_key"] = gossip
    return tree


# A site with its secrets (scripts/secrets init): the other checks run behind this one.
SECURED = site_secrets(gossip_key(32))
# The secrets of a site that kept its gossip key where earlier trees read it (consul:encrypt).
SECURED_ELSEWHERE = site_secrets(None)


def secured(pillar: dict) -> dict:
    return {**SECURED, **pillar}


REJECTED_SETTINGS = {
    "no gossip key anywhere": (
        {"consul": {"encrypt": ""}},
        "pillar secrets:consul:gossip_key is missing",
        "scripts/secrets init pillar",
    ),
    "security:open as a word": (
        {"security": {"open": "yes"}},
        "pillar security:open is 'yes'",
        "set it to true",
    ),
    "placeholder in the site's secrets": (
        {"secrets": {"consul": {"gossip_key": "PLACEHOLDER"}}},
        "pillar secrets:consul:gossip_key is not a gossip key",
        "scripts/secrets init pillar",
    ),
    "placeholder gossip key": (
        {"consul": {"encrypt": "PLACEHOLDER-NOT-A-KEY-run-consul-keygen"}},
        "pillar consul:encrypt is not a gossip key",
        "base64.b64encode(os.urandom(32))",
    ),
    "gossip key of 20 bytes": (
        {"consul": {"encrypt": gossip_key(20)}},
        "pillar consul:encrypt is not a gossip key",
        "16, 24 or 32 random bytes in base64",
    ),
    "gossip key without its padding": (
        {"consul": {"encrypt": gossip_key(16).rstrip("=")}},
        "pillar consul:encrypt is not a gossip key",
        "consul keygen",
    ),
    "gossip key that is a number": (
        {"consul": {"encrypt": 12345}},
        "pillar consul:encrypt is not a gossip key",
        "consul keygen",
    ),
    "consul version that is a word": (
        secured({"consul": {"version": "latest"}}),
        "pillar consul:version is 'latest', not a release version",
        "write it quoted, as digits and dots",
    ),
    "consul version YAML read as a number": (
        secured({"consul": {"version": 1.1}}),
        "pillar consul:version is 1.1, not a release version",
        "YAML reads 1.10 as the number 1.1",
    ),
    "zookeeper version without dots": (
        secured({"zookeeper": {"install": {"archive": {"version": "3"}}}}),
        "pillar zookeeper:install:archive:version is '3'",
        "digits and dots",
    ),
    "marathon version with a v": (
        secured({"marathon": {"install": {"archive": {"version": "v1.10.17"}}}}),
        "pillar marathon:install:archive:version is 'v1.10.17'",
        "digits and dots",
    ),
    "consul port 0": (
        secured({"consul": {"config": {"ports": {"grpc": 0}}}}),
        "pillar consul:config:ports:grpc is 0",
        "an integer from 1 to 65535, or -1 to turn the listener off",
    ),
    "consul port above 65535": (
        secured({"consul": {"config": {"ports": {"dns": 86000}}}}),
        "pillar consul:config:ports:dns is 86000",
        "an integer from 1 to 65535",
    ),
    "consul port as text": (
        secured({"consul": {"config": {"ports": {"http": "8500"}}}}),
        "pillar consul:config:ports:http is '8500'",
        "an integer from 1 to 65535",
    ),
    "consul ports not a mapping": (
        secured({"consul": {"config": {"ports": [8500]}}}),
        "pillar consul:config:ports is a list",
        "map Consul's listeners",
    ),
    "zookeeper client port as true": (
        secured({"zookeeper": {"ports": {"client": True}}}),
        "pillar zookeeper:ports:client is True",
        "an integer from 1 to 65535",
    ),
    "zookeeper port -1": (
        secured({"zookeeper": {"ports": {"peer": -1}}}),
        "pillar zookeeper:ports:peer is -1",
        "an integer from 1 to 65535",
    ),
    "zookeeper election port equal to the peer port": (
        secured({"zookeeper": {"ports": {"election": 2888}}}),
        "pillar zookeeper:ports:election is 2888, as is zookeeper:ports:peer",
        "three different ports",
    ),
    "zookeeper ports not a mapping": (
        secured({"zookeeper": {"ports": 2181}}),
        "pillar zookeeper:ports is a int",
        "map client, peer and election to port numbers",
    ),
    "mesos master port": (
        secured({"mesos": {"master": {"port": 70000}}}),
        "pillar mesos:master:port is 70000",
        "an integer from 1 to 65535",
    ),
    "mesos agent port": (
        secured({"mesos": {"agent": {"port": "5051"}}}),
        "pillar mesos:agent:port is '5051'",
        "an integer from 1 to 65535",
    ),
    "marathon http port": (
        secured({"marathon": {"http_port": -1}}),
        "pillar marathon:http_port is -1",
        "an integer from 1 to 65535",
    ),
}


@pytest.mark.parametrize(
    ("pillar", "message", "fix"), REJECTED_SETTINGS.values(), ids=REJECTED_SETTINGS.keys()
)
def test_setting_a_program_would_reject_is_named_with_its_fix(pillar, message, fix):
    with pytest.raises(SaltInvocationError) as error:
        quorum._check_settings(pillar)

    assert message in str(error.value)
    assert fix in str(error.value)


def test_gossip_key_is_never_shown_in_the_message():
    key = gossip_key(20)

    with pytest.raises(SaltInvocationError) as error:
        quorum._check_settings({"consul": {"encrypt": key}})

    assert key not in str(error.value)


ACCEPTED_SETTINGS = {
    "the site's secrets and nothing else": SECURED,
    "gossip key of 16 bytes": {**SECURED_ELSEWHERE, "consul": {"encrypt": gossip_key(16)}},
    "gossip key of 24 bytes": {**SECURED_ELSEWHERE, "consul": {"encrypt": gossip_key(24)}},
    "gossip key of 32 bytes": {**SECURED_ELSEWHERE, "consul": {"encrypt": gossip_key(32)}},
    "a plaintext site on purpose": {"consul": {"encrypt": ""}, "security": {"open": True}},
    "versions with and without suffixes": {
        **SECURED,
        "consul": {"version": "1.20.6+ent"},
        "zookeeper": {"install": {"archive": {"version": "3.8.4"}}},
        "marathon": {"install": {"archive": {"version": "1.10.17-rc1"}}},
    },
    "consul port turned off with -1": secured(
        {"consul": {"config": {"ports": {"grpc": -1, "dns": 53}}}}
    ),
    "ports of every program": {
        **SECURED,
        "zookeeper": {"ports": {"client": 12181, "peer": 12888, "election": 13888}},
        "mesos": {"master": {"port": 5050}, "agent": {"port": 5051}},
        "marathon": {"http_port": 8080},
    },
}


@pytest.mark.parametrize("pillar", ACCEPTED_SETTINGS.values(), ids=ACCEPTED_SETTINGS.keys())
def test_settings_the_programs_accept_pass(pillar):
    quorum._check_settings(pillar)


def test_the_sites_secrets_hold_the_gossip_key_before_the_older_place():
    both = {**SECURED, "consul": {"encrypt": gossip_key(16)}}

    assert quorum._security(both)["gossip_key_pillar"] == "secrets:consul:gossip_key"
    elsewhere = {**SECURED_ELSEWHERE, "consul": {"encrypt": gossip_key(16)}}
    assert quorum._security(elsewhere)["gossip_key_pillar"] == "consul:encrypt"
    assert quorum._security({"security": {"open": True}}) == {
        "open": True,
        "stage": "open",
        "stages_reached": [],
        "gossip_key_pillar": None,
        "tls": False,
        "acl_default_policy": None,
        "tokens_in_use": False,
        "verify_outgoing": False,
        "verify_incoming": False,
    }


@pytest.mark.parametrize("call", [quorum.validate, quorum.plan], ids=["validate", "plan"])
def test_validate_and_plan_check_the_settings_in_pillar(call):
    placeholder = {"consul": {"gossip_key": "PLACEHOLDER-NOT-A-KEY"}}

    with patch.dict(quorum.__pillar__, {"secrets": placeholder}):
        with pytest.raises(
            SaltInvocationError, match="pillar secrets:consul:gossip_key is not a gossip key"
        ):
            call()
        # Membership alone does not depend on them.
        assert quorum.bootstrap_expect() == 3


def test_validate_checks_the_hosts_address_in_any_datacenter():
    with patch.dict(quorum.__grains__, COMPUTE_GRAINS | {"platform_routes": []}):
        with pytest.raises(SaltInvocationError, match="set grain platform_address"):
            quorum.validate(datacenter="dc2")


# Roles against the datacenter pillar across the site's hosts.


def site(**hosts: dict) -> "quorum.Site":
    """The roster's hosts: ``site(dc1_compute_1={...})`` names dc1-compute-1."""
    return quorum.Site("roster", {name.replace("_", "-"): grains for name, grains in hosts.items()})


SHIPPED_SITE = site(
    dc1_control_1={"roles": ["control"], "datacenter": "dc1"},
    dc1_control_2={"roles": ["control"], "datacenter": "dc1"},
    dc1_control_3={"roles": ["control"], "datacenter": "dc1"},
    dc1_compute_1={"roles": ["compute"], "datacenter": "dc1"},
    dc2_control_1={"roles": ["control"], "datacenter": "dc2"},
    dc2_compute_1={"roles": ["compute"], "datacenter": "dc2"},
)
DC1_HOSTS = [grains(f"dc1-control-{index}") for index in (1, 2, 3)] + [COMPUTE_GRAINS]


def with_site_host(minion_id: str, **host_grains) -> "quorum.Site":
    return quorum.Site("roster", {**SHIPPED_SITE.hosts, minion_id: host_grains})


def test_a_consistent_site_passes_on_every_host():
    for host_grains in DC1_HOSTS:
        assert quorum._validated(TWO_DATACENTERS, host_grains, site=SHIPPED_SITE) == "dc1"


@pytest.mark.parametrize("host_grains", DC1_HOSTS, ids=lambda host_grains: host_grains["id"])
def test_unlisted_control_host_fails_every_host_of_its_datacenter(host_grains):
    bad_site = with_site_host("dc1-compute-2", roles=["control"], datacenter="dc1")

    with pytest.raises(SaltInvocationError) as error:
        quorum._validated(TWO_DATACENTERS, host_grains, site=bad_site)

    assert str(error.value).startswith(
        "host dc1-compute-2 (in the roster) has role control (grain roles) but is not listed in "
        "pillar datacenters:dc1:control_nodes: add it there"
    )


def test_listed_host_without_control_role_fails_the_other_hosts():
    bad_site = with_site_host("dc1-control-3", roles=["compute"], datacenter="dc1")

    with pytest.raises(
        SaltInvocationError,
        match=re.escape(
            "host dc1-control-3 (in the roster) is listed in pillar datacenters:dc1:control_nodes but "
            "its grain roles lacks control"
        ),
    ):
        quorum._validated(TWO_DATACENTERS, COMPUTE_GRAINS, site=bad_site)


def test_listed_host_in_another_datacenter_fails_the_listing_datacenters_hosts():
    bad_site = with_site_host("dc1-control-3", roles=["control"], datacenter="dc2")

    with pytest.raises(
        SaltInvocationError,
        match=re.escape(
            "host dc1-control-3 (in the roster) is listed in pillar datacenters:dc1:control_nodes but "
            "its grain datacenter is 'dc2': set it to dc1"
        ),
    ):
        quorum._validated(TWO_DATACENTERS, grains(), site=bad_site)


def test_a_bad_host_of_another_datacenter_does_not_fail_this_one():
    bad_site = with_site_host("dc2-compute-2", roles=["control"], datacenter="dc2")

    assert quorum._validated(TWO_DATACENTERS, grains(), site=bad_site) == "dc1"
    with pytest.raises(SaltInvocationError, match="host dc2-compute-2 \\(in the roster\\)"):
        quorum._validated(TWO_DATACENTERS, grains("dc2-control-1", "dc2"), site=bad_site)


def test_the_hosts_own_grains_win_over_its_roster_entry():
    stale_site = with_site_host("dc1-compute-1", roles=["control"], datacenter="dc1")

    assert quorum._validated(TWO_DATACENTERS, COMPUTE_GRAINS, site=stale_site) == "dc1"


def test_without_a_site_only_the_host_itself_is_checked():
    assert quorum._validated(TWO_DATACENTERS, COMPUTE_GRAINS, site=None) == "dc1"


def test_roster_grains_come_from_minion_opts_then_the_entry():
    entry = {
        "host": "10.0.1.21",
        "minion_opts": {"grains": {"roles": ["compute"], "datacenter": "dc1"}},
        "grains": {"roles": ["control"]},
    }

    assert quorum._roster_grains(entry) == {"roles": ["control"], "datacenter": "dc1"}
    assert quorum._roster_grains("10.0.1.21") == {}
    assert quorum._roster_grains({"minion_opts": {"grains": None}}) == {}


# The roster as salt-ssh's wrapper modules see it: salt-ssh's options in __master_opts__.

SHIPPED_ROSTER = REPO / "inventory" / "2-datacenter" / "roster"


def write_roster(directory: Path, **changes: dict) -> Path:
    """The shipped two-datacenter roster, with some hosts' grains replaced."""
    roster = yaml.safe_load(SHIPPED_ROSTER.read_text())
    for minion_id, host_grains in changes.items():
        roster.setdefault(minion_id, {"host": "10.0.1.99"})["minion_opts"] = {"grains": host_grains}
    path = directory / "roster"
    path.write_text(yaml.safe_dump(roster))
    return path


def salt_ssh_master_opts(directory: Path, roster: Path) -> dict:
    """salt-ssh's options as it reads them from etc/salt/master and the Saltfile."""
    config = directory / "master"
    config.write_text(json.dumps({"root_dir": str(directory), "roster_file": str(roster)}))
    return salt.config.master_config(str(config))


def test_roster_site_reads_the_shipped_roster_with_salts_roster_code(tmp_path):
    master_opts = salt_ssh_master_opts(tmp_path, SHIPPED_ROSTER)

    assert quorum._roster_site(master_opts) == SHIPPED_SITE


def test_loader_functions_check_the_roster_under_salt_ssh(tmp_path):
    roster = write_roster(
        tmp_path, **{"dc1-compute-1": {"roles": ["control"], "datacenter": "dc1"}}
    )
    master_opts = salt_ssh_master_opts(tmp_path, roster)

    with patch.dict(quorum.__opts__, {"__master_opts__": master_opts}):
        with pytest.raises(SaltInvocationError, match="host dc1-compute-1 \\(in the roster\\)"):
            quorum.validate()
        assert quorum.__context__[quorum.SITE_CONTEXT_KEY].source == "roster"
        # Read once per render: later calls use what the first one read.
        with patch.object(quorum.salt.roster, "Roster", side_effect=AssertionError("read again")):
            with pytest.raises(SaltInvocationError, match="host dc1-compute-1 \\(in the roster\\)"):
                quorum.plan()


def test_wrapper_module_checks_the_roster_as_salt_ssh_loads_it(tmp_path):
    roster = write_roster(
        tmp_path, **{"dc1-compute-2": {"roles": ["control"], "datacenter": "dc1"}}
    )
    master_opts = salt_ssh_master_opts(tmp_path, roster)
    config = tmp_path / "minion"
    config.write_text(json.dumps({"root_dir": str(tmp_path), "module_dirs": [str(REPO)]}))
    # What salt-ssh's Single.run_wfunc hands the wrapper loader: the host's options with its
    # grains, the compiled pillar and salt-ssh's own options; its context holds master_opts.
    opts = {
        **salt.config.minion_config(str(config)),
        "id": "dc1-control-1",
        "grains": grains(),
        "pillar": {"datacenters": TWO_DATACENTERS},
        "__master_opts__": master_opts,
    }
    context = {"master_opts": master_opts}
    wrappers = salt.loader.ssh_wrapper(opts, {}, context)

    with pytest.raises(
        SaltInvocationError, match="host dc1-compute-2 \\(in the roster\\) has role"
    ):
        wrappers["quorum.validate"]()
    assert context[quorum.SITE_CONTEXT_KEY].hosts["dc1-compute-2"]["roles"] == ["control"]


# The site's hosts under a salt-master: the Salt mine, as the salt formula makes minions
# publish it.

# mine.get's answer on a site that agrees with TWO_DATACENTERS: what every minion published.
MINED_SITE = {minion_id: dict(host_grains) for minion_id, host_grains in SHIPPED_SITE.hosts.items()}


def mined(**changes: dict) -> dict:
    """MINED_SITE with some hosts' grains replaced or added."""
    return {**MINED_SITE, **changes}


def minion_of_a_master(answer) -> Mock:
    """Makes this host a minion of a master (the loader's options as Salt sets them) whose
    mine.get returns ``answer``, or raises it; returns mine.get. The loader's dunders are
    the test's own: nothing outlives it."""
    mine_get = (
        Mock(side_effect=answer) if isinstance(answer, Exception) else Mock(return_value=answer)
    )
    quorum.__opts__.update({"__role": "minion", "file_client": "remote"})
    quorum.__salt__["mine.get"] = mine_get
    return mine_get


def test_the_salt_formula_publishes_the_mine_function_the_quorum_module_reads():
    defaults = yaml.safe_load((REPO / "salt" / "salt" / "defaults.yaml").read_text())

    assert defaults["salt_minion"]["mine_functions"][quorum.MINE_FUNCTION] == [
        {"mine_function": "grains.item"},
        "roles",
        "datacenter",
    ]


def test_a_minion_of_a_master_reads_the_site_from_the_mine_once_per_render():
    mine_get = minion_of_a_master(MINED_SITE)

    assert quorum.validate() is True
    agents = quorum.plan()["agents"]

    mine_get.assert_called_once_with("*", quorum.MINE_FUNCTION)
    assert quorum.__context__[quorum.SITE_CONTEXT_KEY] == quorum.Site("mine", MINED_SITE)
    assert {"id": "dc1-compute-1", "datacenter": "dc1"} in agents


def test_salt_call_local_reads_no_mine():
    mine_get = minion_of_a_master(MINED_SITE)
    quorum.__opts__["file_client"] = "local"

    assert quorum.validate() is True
    assert quorum.__context__[quorum.SITE_CONTEXT_KEY] is None
    mine_get.assert_not_called()


def test_a_listed_host_whose_mined_roles_lack_control_fails_another_host_of_its_datacenter():
    minion_of_a_master(mined(**{"dc1-control-3": {"roles": ["compute"], "datacenter": "dc1"}}))

    with pytest.raises(SaltInvocationError) as error:
        quorum.validate()

    assert str(error.value) == (
        "host dc1-control-3 (in the Salt mine) is listed in pillar "
        "datacenters:dc1:control_nodes but its grain roles lacks control: add the role (the "
        "mine holds the grains the minion last published: correct the minion's grains "
        "(salt.minion writes the roster's into its configuration), then run "
        "`salt dc1-control-3 mine.update`; a host gone for good leaves the mine with "
        "`salt-key -d dc1-control-3`), or remove it from the list (every listed node counts "
        "in the quorum)"
    )


def test_a_listed_host_whose_mined_datacenter_pillar_lacks_fails_its_listed_datacenter():
    moved = quorum.Site(
        "mine", mined(**{"dc1-control-3": {"roles": ["control"], "datacenter": "dc9"}})
    )

    with pytest.raises(
        SaltInvocationError,
        match=re.escape(
            "host dc1-control-3 (in the Salt mine) is listed in pillar "
            "datacenters:dc1:control_nodes but its grain datacenter is 'dc9': set it to dc1 "
            "(the mine holds the grains the minion last published"
        ),
    ):
        quorum._validated(TWO_DATACENTERS, COMPUTE_GRAINS, site=moved)


def test_an_unlisted_host_of_a_datacenter_pillar_lacks_fails_only_its_own_render():
    stray = {"roles": ["compute"], "datacenter": "dc9"}
    stray_site = quorum.Site("mine", mined(**{"dc9-compute-1": stray}))

    assert quorum._validated(TWO_DATACENTERS, grains(), site=stray_site) == "dc1"
    with pytest.raises(SaltInvocationError, match="pillar datacenters:dc9 .* does not exist"):
        quorum._validated(TWO_DATACENTERS, {**stray, "id": "dc9-compute-1"}, site=stray_site)
    # Nor is a token made for an agent of a datacenter that does not exist.
    agents = quorum._agents(TWO_DATACENTERS, grains(), stray_site)
    assert "dc9-compute-1" not in [agent["id"] for agent in agents]


def test_agents_include_the_compute_hosts_of_the_mine():
    mine_site = quorum.Site(
        "mine", mined(**{"dc1-compute-2": {"roles": "compute", "datacenter": "dc1"}})
    )

    agents = quorum._agents(TWO_DATACENTERS, grains(), mine_site)

    assert agents == [
        {"id": minion_id, "datacenter": minion_id.split("-")[0]}
        for minion_id in sorted({*MINED_SITE, "dc1-compute-2"})
    ]


WITHOUT_THIS_HOST = {
    minion_id: host_grains
    for minion_id, host_grains in MINED_SITE.items()
    if minion_id != "dc1-control-1"
}


@pytest.mark.parametrize(
    "answer", [{}, WITHOUT_THIS_HOST, ""], ids=["empty", "without this host", "not a mapping"]
)
def test_a_mine_without_this_host_fails_its_render_naming_the_fix(answer):
    minion_of_a_master(answer)

    with pytest.raises(SaltInvocationError) as error:
        quorum.plan()

    assert str(error.value) == (
        "the Salt mine holds no platform_host of dc1-control-1, so the other hosts cannot "
        "check it against the plan nor the first control node make its Consul token: give the "
        "minion the mine_functions platform_host (salt.minion writes it, "
        "salt_minion:mine_functions), then run `salt dc1-control-1 mine.update`"
    )


def test_a_mine_that_does_not_answer_fails_the_render_with_salts_error():
    minion_of_a_master(SaltReqTimeoutError("Message timed out"))

    with pytest.raises(CommandExecutionError) as error:
        quorum.validate()

    assert str(error.value).startswith(
        "the Salt mine did not answer (mine.get '*' platform_host: Message timed out)"
    )
    assert isinstance(error.value.__cause__, SaltReqTimeoutError)


# The stages of a site's security (docs/security.md).


@pytest.mark.parametrize(
    ("stage", "switched_on"),
    [
        (
            "accept",
            {
                "tls": True,
                "acl_default_policy": "allow",
                "tokens_in_use": False,
                "verify_outgoing": False,
                "verify_incoming": False,
            },
        ),
        (
            "verify",
            {
                "tls": True,
                "acl_default_policy": "allow",
                "tokens_in_use": True,
                "verify_outgoing": True,
                "verify_incoming": False,
                "stages_reached": ["accept", "verify"],
            },
        ),
        (
            "secure",
            {
                "tls": True,
                "acl_default_policy": "deny",
                "tokens_in_use": True,
                "verify_outgoing": True,
                "verify_incoming": True,
            },
        ),
    ],
)
def test_each_security_stage_switches_on_its_settings(stage, switched_on):
    security = quorum._security(secured({"security": {"stage": stage}}))

    assert security["stage"] == stage
    assert {key: security[key] for key in switched_on} == switched_on


def test_a_site_without_a_stage_is_secure():
    assert quorum._security(SECURED)["stage"] == "secure"


@pytest.mark.parametrize("stage", ["accept", "verify", "secure"])
def test_a_new_host_may_start_at_any_stage(stage):
    host = {"id": "dc1-control-1"}
    assert quorum._security(secured({"security": {"stage": stage}}), host)["stage"] == stage


@pytest.mark.parametrize(
    ("running", "asked", "next_stage"),
    [("open", "secure", "accept"), ("open", "verify", "accept"), ("secure", "accept", "verify")],
)
def test_a_running_agent_is_refused_a_jump_of_more_than_one_stage(running, asked, next_stage):
    pillar = secured({"security": {"stage": asked}})
    host = {"id": "dc1-compute-1", "consul_security_stage": running}

    with pytest.raises(SaltInvocationError) as error:
        quorum._security(pillar, host)

    message = str(error.value)
    assert f"dc1-compute-1 runs at security stage '{running}'" in message
    assert f"security:stage to '{next_stage}'" in message


@pytest.mark.parametrize(
    ("running", "asked"),
    [
        ("open", "accept"),
        ("accept", "verify"),
        ("verify", "secure"),
        ("secure", "secure"),
        ("secure", "verify"),
    ],
)
def test_a_running_agent_moves_one_stage_at_a_time(running, asked):
    host = {"id": "dc1-compute-1", "consul_security_stage": running}
    assert quorum._security(secured({"security": {"stage": asked}}), host)["stage"] == asked


def test_an_open_site_going_open_again_is_not_a_jump():
    host = {"id": "dc1-compute-1", "consul_security_stage": "open"}
    assert quorum._security({"security": {"open": True}}, host)["stage"] == "open"


@pytest.mark.parametrize(
    ("security", "message"),
    [
        ({"stage": "tls"}, "pillar security:stage is 'tls': set it to one of accept, verify"),
        ({"stage": "open"}, "pillar security:stage is 'open'"),
        ({"open": True, "stage": "accept"}, "remove security:open to secure the site"),
    ],
)
def test_a_stage_that_does_not_exist_is_refused(security, message):
    with pytest.raises(SaltInvocationError, match=message):
        quorum._security(secured({"security": security}))


def test_a_secured_site_needs_every_secret_and_is_told_the_command():
    secrets = site_secrets(gossip_key(32))
    del secrets["secrets"]["consul"]["acl"]["tokens"]["registrator"]["secret_id"]

    with pytest.raises(SaltInvocationError) as error:
        quorum._security(secrets)

    assert "secrets:consul:acl:tokens:registrator:secret_id is missing" in str(error.value)
    assert "scripts/secrets init pillar" in str(error.value)


def test_the_primary_datacenter_is_the_first_by_name_unless_pillar_names_one():
    assert quorum._primary_datacenter(TWO_DATACENTERS, {}) == "dc1"
    named = {"consul": {"primary_datacenter": "dc2"}}
    assert quorum._primary_datacenter(TWO_DATACENTERS, named) == "dc2"
    with pytest.raises(SaltInvocationError, match="consul:primary_datacenter is 'dc9'"):
        quorum._primary_datacenter(TWO_DATACENTERS, {"consul": {"primary_datacenter": "dc9"}})


# Every Consul agent of the site, for the agents' own tokens.


def test_agents_are_the_control_nodes_the_roster_hosts_and_this_host():
    datacenters = {
        "dc1": {"control_nodes": control_nodes("dc1", 3)},
        "dc2": {"control_nodes": control_nodes("dc2", 1)},
    }
    site = quorum.Site(
        "roster",
        {
            "dc1-control-1": {"datacenter": "dc1"},
            "dc1-compute-1": {"datacenter": "dc1"},
            "dc2-compute-1": {"datacenter": "dc2"},
        },
    )
    grains = {"id": "dc1-compute-2", "datacenter": "dc1"}

    assert quorum._agents(datacenters, grains, site) == [
        {"id": "dc1-compute-1", "datacenter": "dc1"},
        {"id": "dc1-compute-2", "datacenter": "dc1"},
        *({"id": node["id"], "datacenter": "dc1"} for node in control_nodes("dc1", 3)),
        {"id": "dc2-compute-1", "datacenter": "dc2"},
        {"id": control_nodes("dc2", 1)[0]["id"], "datacenter": "dc2"},
    ]
    # Without a site (masterless): the control nodes and this host.
    assert [agent["id"] for agent in quorum._agents(datacenters, grains, None)] == sorted(
        [node["id"] for name in ("dc1", "dc2") for node in datacenters[name]["control_nodes"]]
        + ["dc1-compute-2"]
    )


# Consul's upgrade path from the release a host runs (grain consul_version).


def consul_host(running: str | None) -> dict:
    return {"id": "dc1-control-1", "consul_version": running}


def consul_pillar(version: str) -> dict:
    return secured({"consul": {"version": version}})


@pytest.mark.parametrize("running", [None, "", "not a version"])
def test_a_host_without_a_known_consul_release_may_take_any_version(running):
    quorum._check_settings(consul_pillar("1.21.0"), consul_host(running))


@pytest.mark.parametrize(
    ("running", "asked"),
    [
        ("1.8.7", "1.8.7"),
        ("1.20.6", "1.20.6+ent"),
        ("1.8.7", "1.8.19"),
        ("1.8.7", "1.10.3"),
        ("1.20.6", "1.22.0"),
        ("1.9.5", "1.10.12"),
        ("1.2.4", "1.6.10"),
    ],
    ids=[
        "same release",
        "same release, other build",
        "patch",
        "two minor releases",
        "two minor releases of 1.2x",
        "one minor release",
        "a dedicated path",
    ],
)
def test_a_running_consul_takes_a_step_its_upgrade_instructions_document(running, asked):
    quorum._check_settings(consul_pillar(asked), consul_host(running))


@pytest.mark.parametrize(("running", "asked"), [("1.10.12", "1.8.7"), ("1.20.6", "1.20.5")])
def test_a_running_consul_is_refused_a_downgrade(running, asked):
    with pytest.raises(SaltInvocationError) as error:
        quorum._check_settings(consul_pillar(asked), consul_host(running))

    message = str(error.value)
    assert f"pillar consul:version is {asked} but dc1-control-1 runs Consul {running}" in message
    assert "does not support downgrades" in message
    assert f"Set consul:version to {running} or later" in message


def test_a_running_consul_is_refused_a_jump_and_told_the_supported_path():
    with pytest.raises(SaltInvocationError) as error:
        quorum._check_settings(consul_pillar("1.21.0"), consul_host("1.8.7"))

    message = str(error.value)
    assert "pillar consul:version is 1.21.0 but dc1-control-1 runs Consul 1.8.7" in message
    assert "at most 2 minor releases at a time" in message
    assert quorum.CONSUL_UPGRADE_DOCS in message
    assert "Set consul:version to 1.10.12, converge every host" in message
    assert "1.8.7 -> 1.10.12 -> 1.12.x -> 1.14.x -> 1.16.x -> 1.18.x -> 1.20.x -> 1.21.0" in message


@pytest.mark.parametrize(
    ("running", "target", "path"),
    [
        ("1.12.0", "1.15.0", ["1.14.x", "1.15.0"]),
        ("1.3.1", "1.12.0", ["1.6.10", "1.8.19", "1.10.12", "1.12.0"]),
    ],
    ids=["1.12 to 1.15", "1.3.1 to 1.12"],
)
def test_the_upgrade_path_is_the_one_of_hashicorps_examples(running, target, path):
    assert quorum._consul_upgrade_path(running, target) == path


def test_a_new_major_version_without_a_documented_path_is_refused():
    with pytest.raises(SaltInvocationError) as error:
        quorum._check_settings(consul_pillar("2.0.0"), consul_host("1.21.3"))

    assert "Consul documents no upgrade from 1.21.3 to a release of major version 2" in str(
        error.value
    )


def running_ensemble(size: int, number: str = "1") -> dict[str, str]:
    """Grain zookeeper_servers of a member whose zoo.cfg lists ``size`` servers."""
    return {str(index): f"10.0.{number}.{10 + index}:2888:3888" for index in range(1, size + 1)}


def with_even_allowed(datacenters: dict) -> dict:
    for settings in datacenters.values():
        settings["allow_even_control_nodes"] = True
    return datacenters


@pytest.mark.parametrize(("running", "planned"), [(3, 3), (3, 4), (4, 5), (5, 4), (4, 3)])
def test_a_running_ensemble_may_gain_or_lose_one_member(running, planned):
    member = {**grains(), "zookeeper_servers": running_ensemble(running)}

    plan = quorum._plan(with_even_allowed(plan_of(dc1=planned)), member)

    assert len(plan["zookeeper_servers"]) == planned


@pytest.mark.parametrize(
    ("running", "planned", "named"),
    [
        (3, 5, "dc1-control-4 (server.4), dc1-control-5 (server.5)"),
        (5, 3, "server.4, server.5"),
    ],
)
def test_two_members_more_or_fewer_at_once_are_refused_naming_them_and_the_fix(
    running, planned, named
):
    member = {**grains(), "zookeeper_servers": running_ensemble(running)}

    with pytest.raises(SaltInvocationError) as refused:
        quorum._plan(plan_of(dc1=planned), member)

    message = str(refused.value)
    assert message.startswith(
        f"pillar datacenters:dc1:control_nodes changes 2 servers of the ZooKeeper ensemble at "
        f"once ({named}; zoo.cfg of dc1-control-1 lists {running})"
    )
    assert "Add or remove one control node, converge, then the next" in message


def test_a_member_moved_to_another_address_counts_as_a_change():
    moved = plan_of(dc1=3)
    moved["dc1"]["control_nodes"][1]["address"] = "10.0.1.22"
    moved["dc1"]["control_nodes"][2]["address"] = "10.0.1.23"
    member = {**grains(), "zookeeper_servers": running_ensemble(3)}

    with pytest.raises(SaltInvocationError, match=r"changes 2 servers .*\(dc1-control-2 "):
        quorum._plan(moved, member)


def test_a_new_control_node_and_a_compute_host_are_not_asked_about_the_ensemble():
    # No zoo.cfg yet (grain None), or a compute host that runs no member: nothing to compare.
    new = {**grains("dc1-control-5"), "zookeeper_servers": None}
    compute = {**COMPUTE_GRAINS, "zookeeper_servers": running_ensemble(3)}

    assert quorum._plan(plan_of(dc1=5), new)["zookeeper_id"] == 5
    assert quorum._plan(plan_of(dc1=5), compute)["zookeeper_id"] is None
