"""Chaos on the lab, recovered with no manual step: every dc1 control host restarted at once,
dc2's control node cut off the WAN and back, and a dead control host replaced by a new one."""

import threading

import docker

from lab import hosts, image


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
    # dc1's servers may have just restarted (the test above): they find dc2 at start
    # (retry_join_wan), within seconds.
    lab.wait_for(f"{dc2_server.name} alive over the WAN",
                 lambda: wan_status(lab, observer, dc2_server.name) == alive, timeout=60)

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


def test_a_dead_control_node_replaced_by_a_new_host_of_the_same_id_rejoins(lab):
    """A control host lost with its disk, and a bare one with the same id and address: one
    highstate of it (salt-ssh) makes it a raft peer and a ZooKeeper follower again, with the
    datacenter's data; the others keep their quorum meanwhile."""
    dc1 = lab.hosts_with("control", "dc1")
    leader = lab.leader_of(dc1[0])
    (dead, *alive) = sorted(dc1, key=lambda host: f"{host.address}:8300" == leader)
    key = f"lab/replaced-{lab.suffix()}"
    status, _ = lab.http(alive[0], f"/v1/kv/{key}", method="PUT", data="before")
    assert status == 200
    client = docker.from_env()
    client.containers.get(dead.name).remove(force=True, v=True)
    assert lab.wait_for("a dc1 leader with one server gone", lambda: lab.leader_of(alive[0]),
                        timeout=60)

    tags = image.ensure_images(client, [dead.release], print)
    assert hosts.ensure_host(client, lab.layout, dead, tags)
    hosts.wait_until_booted(client, [dead.name])
    results = lab.highstate(dead.name)
    assert results[dead.name].ok, results[dead.name].failed or results[dead.name].error

    expected = sorted(f"{host.address}:8300" for host in dc1)
    lab.wait_for("every dc1 server a raft peer, the new one too",
                 lambda: sorted(lab.consul(dead, "status/peers") or []) == expected,
                 timeout=180)
    lab.wait_for("a ZooKeeper follower on the new host",
                 lambda: lab.zookeeper_mode(dead) == "follower", timeout=180)
    assert sorted(lab.zookeeper_mode(host) for host in dc1) == ["follower", "follower", "leader"]
    status, body = lab.http(dead, f"/v1/kv/{key}?raw")
    assert (status, body) == (200, "before")
    lab.http(dead, f"/v1/kv/{key}", method="DELETE")
