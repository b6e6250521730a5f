"""Chaos on the lab, recovered with no manual step: every dc1 control host restarted at once,
and dc2's control node cut off the WAN and back."""

import threading

import docker



def test_dc1_recovers_when_every_control_host_restarts_at_once(lab):
    dc1 = lab.hosts_with("control", "dc1")
    threads = [threading.Thread(target=lab.stop, args=(host,)) for host in dc1]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for host in dc1:
        lab.start(host)

    expected = sorted(f"{host.address}:8300" for host in dc1)
    lab.wait_for(
        "a dc1 leader and every server a raft peer again",
        lambda: all(
            lab.leader_of(host) and sorted(lab.consul(host, "status/peers") or []) == expected
            for host in dc1
        ),
        timeout=180,
    )
    modes = lab.wait_for(
        "a ZooKeeper leader and its followers again",
        lambda: (found := sorted(lab.zookeeper_mode(host) for host in dc1))
        == ["follower"] * (len(dc1) - 1) + ["leader"] and found,
        timeout=180,
    )
    assert modes.count("leader") == 1
    status, _ = lab.http(dc1[0], "/v1/kv/lab/chaos", method="PUT", data="after-restart")
    assert status == 200
    lab.http(dc1[0], "/v1/kv/lab/chaos", method="DELETE")


def wan_status(lab, observer, member: str) -> str:
    members = lab.consul(observer, "agent/members?wan=1") or []
    return next((m["Status"] for m in members if m["Name"].startswith(f"{member}.")), -1)


def test_dc2_cut_off_the_wan_is_failed_then_rejoins_when_healed(lab):
    dc2_server = lab.hosts_with("control", "dc2")[0]
    observer = lab.hosts_with("control", "dc1")[0]
    wan = docker.from_env().networks.get(lab.layout.networks["wan"].name)
    alive, failed = 1, 4  # Serf member status codes
    assert wan_status(lab, observer, dc2_server.name) == alive

    wan.disconnect(dc2_server.name)
    try:
        lab.wait_for(
            f"{dc2_server.name} seen failed over the WAN from dc1",
            lambda: wan_status(lab, observer, dc2_server.name) == failed,
            timeout=120,
        )
        # Each datacenter keeps its own leader meanwhile.
        assert lab.leader_of(observer) and lab.leader_of(dc2_server)
    finally:
        wan.connect(dc2_server.name, ipv4_address=dc2_server.wan_address)

    lab.wait_for(
        f"{dc2_server.name} alive over the WAN again",
        lambda: wan_status(lab, observer, dc2_server.name) == alive,
        timeout=180,
    )
    code, output = lab.run(lab.hosts_with("compute", "dc1")[0], "getent", "hosts",
                           "consul.service.dc2.consul")
    assert code == 0 and output.split()[0] == dc2_server.address, output
