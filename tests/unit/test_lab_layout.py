"""The lab's shape: names, roles, Debian releases and addresses of its hosts and networks,
and the host image of each release."""

import pytest

from lab import allinone, image
from lab.naming import DEFAULT_SHAPE, RELEASES, Layout, parse_shape


def test_default_shape_has_the_hosts_of_the_issue():
    layout = Layout(DEFAULT_SHAPE)
    assert [(host.name, host.roles) for host in layout.hosts] == [
        ("dc1-control-1", ("control",)),
        ("dc1-control-2", ("control",)),
        ("dc1-control-3", ("control",)),
        ("dc1-compute-1", ("compute",)),
        ("dc1-edge-1", ("edge",)),
        ("dc2-control-1", ("control",)),
        ("dc2-compute-1", ("compute",)),
    ]


def test_default_shape_runs_every_release_the_lab_builds():
    layout = Layout(DEFAULT_SHAPE)
    assert {host.datacenter: host.release for host in layout.hosts} == {
        "dc1": "bookworm",
        "dc2": "trixie",
    }
    assert layout.releases == list(RELEASES)


def test_a_datacenter_without_release_runs_bookworm():
    assert parse_shape("dc1=3+1") == [("dc1", 3, 1, "bookworm", 0)]


def test_a_third_count_gives_a_datacenter_edge_hosts_on_its_lan_only():
    assert parse_shape("dc1=3+1+2@trixie") == [("dc1", 3, 1, "trixie", 2)]
    edges = [host for host in Layout("dc1=1+0+2").hosts if "edge" in host.roles]
    assert [(host.name, host.address, host.wan_address) for host in edges] == [
        ("dc1-edge-1", "10.231.1.201", None), ("dc1-edge-2", "10.231.1.202", None),
    ]


def test_release_suffix_sets_the_release_of_every_host_of_its_datacenter():
    layout = Layout("dc1=3+1@trixie,dc2=1+1@bookworm,dc3=1+0")
    assert {(host.datacenter, host.release) for host in layout.hosts} == {
        ("dc1", "trixie"), ("dc2", "bookworm"), ("dc3", "bookworm"),
    }
    assert layout.releases == ["trixie", "bookworm"]


def test_release_suffix_leaves_names_and_addresses_alone():
    plain = Layout("dc1=3+1,dc2=1+1")
    suffixed = Layout("dc1=3+1@trixie,dc2=1+1@trixie")
    assert [(host.name, host.address, host.wan_address) for host in plain.hosts] == [
        (host.name, host.address, host.wan_address) for host in suffixed.hosts
    ]


def test_every_address_is_unique_and_inside_its_network():
    layout = Layout("dc1=5+2+1,dc2=3+1,dc3=1+0+2")
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
        ("dc1=3+1+10", "0-9 edge"),
        ("dc1=3+1+1+1", r"NAME=CONTROL\+COMPUTE\[\+EDGE\]"),
        ("dc1=3+1,dc1=1+1", "appears twice"),
        ("dc1=3+1,dc1=1+1@trixie", "appears twice"),
        ("dc1=3+1@@trixie", r"NAME=CONTROL\+COMPUTE\[\+EDGE\]\[@RELEASE\]"),
        ("dc1=3+1 @trixie", r"NAME=CONTROL\+COMPUTE\[\+EDGE\]\[@RELEASE\]"),
    ],
)
def test_bad_shapes_are_refused_with_the_rule(shape, message):
    with pytest.raises(ValueError, match=message):
        parse_shape(shape)


@pytest.mark.parametrize(
    "shape, named",
    [
        ("dc2=1+1@jessie", "dc2@jessie"),
        ("dc2=1+1@", "dc2@"),
        ("dc1=3+1,dc2=1+1@Trixie", "dc2@Trixie"),
    ],
)
def test_a_release_the_lab_does_not_build_is_refused_naming_the_ones_it_does(shape, named):
    with pytest.raises(ValueError, match=f"{named} names no release") as refused:
        parse_shape(shape)
    assert "use one of bookworm, trixie (without @RELEASE: bookworm)" in str(refused.value)


def test_each_release_has_its_own_image_from_its_own_suites():
    tags = {release: image.image_tag(release) for release in RELEASES}
    assert len(set(tags.values())) == len(RELEASES)
    for release, tag in tags.items():
        assert tag.startswith(f"saltplatform-lab/debian-{release}:")
        sources = image.apt_sources(release)
        assert f"Suites: {release} {release}-updates\n" in sources
        assert f"Suites: {release}-security\n" in sources
        assert not [other for other in RELEASES if other != release and other in sources]


def test_trixie_image_has_the_libkmod_its_systemd_only_recommends():
    assert "libkmod2" in image.packages("trixie")
    assert set(image.PACKAGES) <= set(image.packages("trixie"))


def test_the_all_in_one_host_is_the_vagrant_vm_on_a_network_no_shape_uses():
    node, network = allinone.host("10.231")
    assert (node.name, node.datacenter, node.roles) == (
        "dc1-control-1", "dc1", ("control", "compute"),
    )
    assert node.address == "10.231.15.11" and network.subnet == "10.231.15.0/24"
    widest = Layout(",".join(f"dc{index}=1+0" for index in range(1, 15)))
    assert network.subnet not in {net.subnet for net in widest.networks.values()}
    assert network.name not in {net.name for net in widest.networks.values()}
