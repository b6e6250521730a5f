"""The lab in master mode: the running lab's hosts become minions of a salt-master on a lab
host of its own (``lab master``: salt.minion applied by salt-ssh, the master's orchestration),
which then keeps them converged by the schedule in their pillar, and converges a host added
with ``lab add`` with nothing else typed.

The module's fixture switches the lab to master mode once; afterwards every minion is stopped
and salt.minion undone (salt.minion.clean), so that the other test modules see the lab that
salt-ssh built and only salt-ssh changes. Every wait is bounded.
"""

import json
import time

import docker
import pytest

from lab import image, inventory, master
from lab.__main__ import add, converge_by_master, save_layout, saved_layout
from lab.inventory import SCHEDULE_SECONDS, SCHEDULE_SPLAY
from lab.naming import Host, Layout, resized_shape
from lab.paths import MASTER_PKI_DIR

# A drift is repaired by the next scheduled highstate: within an interval, its splay and
# the highstate itself (generous: the two cores run every minion's highstate).
REPAIR_TIMEOUT = 2 * (SCHEDULE_SECONDS + SCHEDULE_SPLAY) + 180
# Seconds an added host's agent may take to join dc1's pool after its highstate.
MEMBER_TIMEOUT = 90
CONSUL_CONFIG = "/etc/consul.d/consul.json"
REGISTRATOR_UNIT = "/etc/systemd/system/registrator.service"
# A minion with a key the master never saw: it asks to be accepted, and is not.
INTRUDER = "intruder-1"
INTRUDER_CONFIG = f"""
id: {INTRUDER}
master: 127.0.0.1
pki_dir: /tmp/{INTRUDER}/pki
cachedir: /tmp/{INTRUDER}/cache
sock_dir: /tmp/{INTRUDER}/sock
log_file: /tmp/{INTRUDER}/log
auth_tries: 1
auth_timeout: 10
"""


@pytest.fixture(scope="module")
def master_mode(lab):
    """The lab converged through the master; the minions removed afterwards."""
    client = docker.from_env()
    started = time.monotonic()
    tags = image.ensure_images(client, lab.layout.releases, print)
    try:
        assert converge_by_master(client, lab.layout, tags) == 0, (
            f"master mode failed: see {master.ORCHESTRATE_LOG}"
        )
        print(f"master mode: bootstrap and orchestration took {time.monotonic() - started:.0f} s")
        yield lab
    finally:
        removed = master.remove_minions([host.name for host in lab.hosts])
        assert all(result.ok for result in removed.values()), {
            name: result.failed or result.error for name, result in removed.items()
        }


def test_every_minion_key_is_accepted_and_none_is_pending(master_mode):
    listed = master.keys()
    assert sorted(listed["minions"]) == sorted(host.name for host in master_mode.hosts)
    assert listed["minions_pre"] == []
    assert listed["minions_rejected"] == [] and listed["minions_denied"] == []


def test_the_keys_of_hosts_gone_from_the_lab_are_deleted_and_no_other(master_mode):
    """An accepted key whose minion never answers makes every ``salt '*'`` wait its timeout:
    entering master mode deletes those of hosts that are no part of the lab any more."""
    accepted = MASTER_PKI_DIR / "minions"
    departed = accepted / "dc9-departed-1"
    departed.write_bytes((accepted / master_mode.hosts[0].name).read_bytes())
    try:
        assert departed.name in master.keys()["minions"]
        assert master.forget_departed(master_mode.layout) == [departed.name]
        assert sorted(master.keys()["minions"]) == sorted(host.name for host in master_mode.hosts)
    finally:
        departed.unlink(missing_ok=True)


def test_a_host_with_an_unknown_key_is_not_accepted(master_mode):
    def on_master(*command):
        return master_mode.run(master.CONTAINER, *command, timeout=90)

    on_master("mkdir", "-p", f"/tmp/{INTRUDER}")
    on_master("python3", "-c", f"open('/tmp/{INTRUDER}/minion', 'w').write({INTRUDER_CONFIG!r})")
    try:
        code, output = on_master(f"{master.PREFIX}/bin/salt-call", "-c", f"/tmp/{INTRUDER}",
                                 "test.ping")
        assert code != 0, f"a minion with an unknown key ran a command: {output}"
        listed = master.keys()
        assert INTRUDER in listed["minions_pre"]
        assert INTRUDER not in listed["minions"]
        answer = master.salt(INTRUDER, "test.ping", "--timeout=5")
        assert "No minions matched the target" in answer.stdout, answer.stdout
    finally:
        master.salt("salt-key", "-y", "-d", INTRUDER)
        on_master("rm", "-rf", f"/tmp/{INTRUDER}")


def test_a_highstate_from_the_master_changes_nothing_after_the_orchestration(master_mode):
    results = master.highstate()
    assert sorted(results) == sorted(host.name for host in master_mode.hosts)
    for name, result in results.items():
        assert result.ok, f"{name}: {result.failed or result.error}"
        assert result.changed == [], f"{name} changed: {result.changed}"


def test_the_platform_under_the_master_is_the_one_salt_ssh_built(master_mode):
    for datacenter in master_mode.layout.datacenters:
        (server, *_) = master_mode.hosts_with("control", datacenter)
        assert master_mode.leader_of(server), f"{datacenter} has no leader"
    first = master_mode.hosts_with("control")[0]
    wan = master_mode.consul(first, "agent/members?wan=1")
    alive = {member["Tags"]["dc"] for member in wan if member["Status"] == 1}
    assert alive == set(master_mode.layout.datacenters)
    modes = sorted(master_mode.zookeeper_mode(host)
                   for host in master_mode.hosts_with("control", "dc1"))
    assert modes == ["follower", "follower", "leader"]
    for host in master_mode.hosts_with("compute"):
        code, output = master_mode.run(host, "getent", "hosts", "consul.service.consul")
        assert code == 0, f"{host.name} resolves no Consul servers: {output}"


def _active(lab, host, unit: str) -> bool:
    return lab.run(host, "systemctl", "is-active", unit)[0] == 0


def test_the_schedule_repairs_drift_with_nobody_typing(master_mode):
    lab = master_mode
    compute = lab.hosts_with("compute", "dc1")[0]
    control = lab.hosts_with("control", "dc1")[1]
    _, original = lab.run(control, "cat", CONSUL_CONFIG)
    drifted = json.dumps({**json.loads(original), "log_level": "TRACE"})
    lab.run(compute, "systemctl", "stop", "dnsmasq")
    lab.run(control, "python3", "-c",
            f"open({CONSUL_CONFIG!r}, 'w').write({drifted!r})")
    lab.run(compute, "systemctl", "disable", "--now", "registrator")
    lab.run(compute, "rm", "-f", REGISTRATOR_UNIT)
    started = time.monotonic()

    def repaired():
        return (
            _active(lab, compute, "dnsmasq")
            and lab.run(compute, "test", "-f", REGISTRATOR_UNIT)[0] == 0
            and _active(lab, compute, "registrator")
            and json.loads(lab.run(control, "cat", CONSUL_CONFIG)[1]) == json.loads(original)
        )

    lab.wait_for("dnsmasq, consul.json and the registrator back by the schedule", repaired,
                 timeout=REPAIR_TIMEOUT, interval=5)
    print(f"drift repaired by the schedule in {time.monotonic() - started:.0f} s "
          f"(interval {SCHEDULE_SECONDS} s, splay {SCHEDULE_SPLAY} s)")
    lab.wait_for("dc1's leader after the repair", lambda: lab.leader_of(control), timeout=120)
    code, output = lab.run(compute, "getent", "hosts", "consul.service.consul")
    assert code == 0, f"{compute.name} resolves no Consul servers after the repair: {output}"


def test_an_added_host_joins_and_registers_a_container_with_nothing_else_typed(master_mode):
    lab = master_mode
    before = lab.layout
    grown = Layout(resized_shape(before.shape, "dc1", "compute"), before.subnet_prefix)
    (new,) = [host for host in grown.hosts if host not in before.hosts]
    started = time.monotonic()
    try:
        assert add("dc1", "compute") == 0, f"lab add failed: see {master.ORCHESTRATE_LOG}"
        print(f"lab add dc1 compute: {new.name} converged in {time.monotonic() - started:.0f} s")
        assert saved_layout().hosts == grown.hosts
        server = lab.hosts_with("control", "dc1")[0]
        # Its agent joins the LAN pool on its own after it starts (retry_join).
        lab.wait_for(f"{new.name} an alive member of dc1", lambda: any(
            member["Name"] == new.name and member["Status"] == 1
            for member in lab.consul(server, "agent/members") or []
        ), timeout=MEMBER_TIMEOUT)
        service = f"added-{lab.suffix()}"
        with lab.container(new, service, "-e", f"SERVICE_NAME={service}", "-p", "8000"):
            lab.wait_for(
                f"{service} in DNS from another host",
                lambda: lab.srv(lab.hosts_with("compute", "dc1")[0],
                                f"{service}.service.consul"),
                timeout=120,
            )
    finally:
        remove_added_host(lab, before, new)


def remove_added_host(lab, before: Layout, new: Host) -> None:
    """The lab as it was: the added host leaves Consul, its container and key go."""
    lab.http(new, "/v1/agent/leave", method="PUT")
    # The host goes before its key: a minion still running would ask again, pending.
    for container in docker.from_env().containers.list(all=True, filters={"name": f"^{new.name}$"}):
        container.remove(force=True, v=True)
    master.salt("salt-key", "-y", "-d", new.name)
    save_layout(before)
    inventory.write(before)
