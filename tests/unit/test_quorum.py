"""Quorum math and plan validation of _modules/quorum.py."""

import importlib.util
import re
from pathlib import Path
from unittest.mock import patch

import pytest
from salt.exceptions import SaltInvocationError

MODULE_PATH = Path(__file__).resolve().parents[2] / "_modules" / "quorum.py"
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


COMPUTE_GRAINS = grains("dc1-compute-1", roles=["compute"])


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


def test_plan_uses_given_zookeeper_ports():
    plan = quorum._plan(
        plan_of(dc1=1), grains(), client_port=12181, peer_port=12888, election_port=13888
    )

    assert plan["zookeeper_servers"] == ["server.1=10.0.1.11:12888:13888"]
    assert plan["zookeeper_connect"] == "10.0.1.11:12181"
    assert plan["mesos_zk_url"] == "zk://10.0.1.11:12181/mesos"


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
    return {quorum: {"__pillar__": {"datacenters": TWO_DATACENTERS}, "__grains__": grains()}}


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
    assert quorum.zookeeper_connect(datacenter="dc2", client_port=12181) == "10.0.2.11:12181"
    assert quorum.zookeeper_servers(datacenter="dc2", peer_port=1, election_port=2) == [
        "server.1=10.0.2.11:1:2"
    ]
    plan = quorum.plan(datacenter="dc2")
    assert (plan["datacenter"], plan["is_control"], plan["zookeeper_id"]) == ("dc2", False, None)


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
        "zookeeper_servers",
        "zookeeper_connect",
        "mesos_zk_url",
        "marathon_zk_url",
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
