"""The lab's shape: names, roles and addresses of its hosts and networks."""

import pytest

from lab.naming import Layout, parse_shape


def test_default_shape_has_the_hosts_of_the_issue():
    layout = Layout("dc1=3+1,dc2=1+1")
    assert [(host.name, host.roles) for host in layout.hosts] == [
        ("dc1-control-1", ("control",)),
        ("dc1-control-2", ("control",)),
        ("dc1-control-3", ("control",)),
        ("dc1-compute-1", ("compute",)),
        ("dc2-control-1", ("control",)),
        ("dc2-compute-1", ("compute",)),
    ]


def test_every_address_is_unique_and_inside_its_network():
    layout = Layout("dc1=5+2,dc2=3+1,dc3=1+0")
    lan = [host.address for host in layout.hosts]
    wan = [host.wan_address for host in layout.hosts if host.wan_address]
    assert len(set(lan)) == len(lan) and len(set(wan)) == len(wan)
    for host in layout.hosts:
        prefix = layout.networks[host.datacenter].subnet.rsplit(".", 1)[0]
        assert host.address.startswith(prefix + ".")
    assert all(address.startswith("10.231.0.") for address in wan)


def test_only_control_nodes_are_on_the_wan():
    layout = Layout("dc1=3+2")
    assert {host.name for host in layout.hosts if host.wan_address} == {
        "dc1-control-1", "dc1-control-2", "dc1-control-3",
    }


def test_subnet_prefix_moves_every_network():
    layout = Layout("dc1=1+1", subnet_prefix="10.99")
    assert {network.subnet for network in layout.networks.values()} == {
        "10.99.0.0/24", "10.99.1.0/24",
    }
    assert layout.networks["dc1"].gateway == "10.99.1.1"


@pytest.mark.parametrize(
    "shape, message",
    [
        ("dc1=3", r"NAME=CONTROL\+COMPUTE"),
        ("dc1=0+1", "1-7 control"),
        ("dc1=8+1", "1-7 control"),
        ("dc1=3+1,dc1=1+1", "appears twice"),
    ],
)
def test_bad_shapes_are_refused_with_the_rule(shape, message):
    with pytest.raises(ValueError, match=message):
        parse_shape(shape)
