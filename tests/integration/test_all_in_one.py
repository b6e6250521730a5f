"""The Vagrantfile's all-in-one VM as a lab host (lab/allinone.py): one host with both roles
in a one-node dc1, provisioned by vagrant/provision and converged by `salt-call --local
state.highstate` on the host itself, as Vagrant's salt provisioner runs it. The spine's
checks on it: a leader, DNS, a container in DNS, a second run that changes nothing.

The module's fixture makes the host afresh and converges it twice: a few minutes. The last
test restores a snapshot of the lab's dc1 into it.
"""

import base64
import io
import os
import tarfile

import pytest
import yaml

from lab import allinone
from lab.hosts import put_private_files
from lab.naming import DEFAULT_SUBNET_PREFIX

# Where the servers' snapshots are (consul:backup:directory).
SNAPSHOTS = "/var/backups/consul"


def say(message: str) -> None:
    print(f"[all-in-one] {message}", flush=True)


@pytest.fixture(scope="module")
def record():
    prefix = os.environ.get("LAB_SUBNET_PREFIX", DEFAULT_SUBNET_PREFIX)
    return allinone.up(prefix, say)


@pytest.fixture(scope="module")
def host(record):
    """The host's container name, which the lab's commands take."""
    return record["container"]


def test_the_first_highstate_converges_every_state(record):
    first = record["runs"]["first"]
    assert first["error"] == "", first["error"]
    assert first["failed"] == [], first["failed"]
    assert first["states"] > 50 and first["changed"], first


def test_the_second_highstate_changes_nothing(record):
    second = record["runs"]["second"]
    assert second["error"] == "" and second["failed"] == [], second
    assert second["changed"] == [], second["changed"]
    print(f"second highstate: {second['states']} states, {second['seconds']:.1f} s of states")


def test_consul_is_its_own_leader_with_one_raft_peer(lab, record, host):
    address = f"{record['host']['address']}:8300"
    assert lab.wait_for(
        "a Consul leader", lambda: lab.consul(host, "status/leader", token="") == address,
        timeout=60,
    )
    assert lab.consul(host, "status/peers", token="") == [address]


def test_zookeeper_runs_standalone(lab, host):
    assert lab.wait_for("ZooKeeper serving", lambda: lab.zookeeper_mode(host), timeout=60) \
        == "standalone"


def test_consul_names_resolve_through_the_hosts_resolver(lab, record, host):
    code, output = lab.run(host, "getent", "hosts", "consul.service.consul")
    assert code == 0, output
    assert output.split()[0] == record["host"]["address"]


def test_a_container_on_the_host_is_in_dns(lab, record, host):
    name = f"aio-{lab.suffix()}"
    code, output = lab.run(host, "systemctl", "is-active", "docker", "registrator")
    assert code == 0, output
    lab.remove_test_containers(host)
    with lab.container(host, name, "-p", "8080:80", "-e", f"SERVICE_NAME={name}"):
        lab.wait_for(
            f"{name}.service.consul from the host's resolver",
            lambda: lab.srv(host, f"{name}.service.consul")
            == [(record["host"]["address"], 8080)],
            timeout=30,
        )


def test_a_snapshot_of_the_labs_dc1_restores_into_the_fresh_dc1_with_its_kv_data(lab, host):
    """The restore procedure (docs/operations.md) on the lab: KV data written to the lab's dc1,
    its servers' snapshot (the backup unit's), `consul snapshot restore` on the all-in-one
    host, a dc1 built afresh; the data is there. Last here: the restored ACLs are the lab's,
    so the host's own tokens stop working."""
    source = lab.hosts_with("control", "dc1")[0]
    key, value = f"lab/restore/{lab.suffix()}", lab.suffix()
    assert lab.http(source, f"/v1/kv/{key}", method="PUT", data=value)[0] == 200
    code, output = lab.run(source, "systemctl", "start", "consul-snapshot.service", timeout=120)
    assert code == 0, output
    code, newest = lab.run(source, "sh", "-c", f"ls -t {SNAPSHOTS}/consul-*.snap | head -1")
    assert code == 0 and newest.strip(), newest
    chunks, _ = lab.client.containers.get(source.name).get_archive(newest.strip())
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
        (member,) = archive.getmembers()
        snapshot = archive.extractfile(member).read()
    target = lab.client.containers.get(host)
    put_private_files(target, SNAPSHOTS, {"restore.snap": snapshot})
    _, secrets = lab.run(host, "cat", "/etc/salt-platform/secrets/secrets.sls")
    own_token = yaml.safe_load(secrets)["secrets"]["consul"]["acl"]["management"]["secret_id"]
    code, output = lab.run(host, "consul", "snapshot", "restore", f"{SNAPSHOTS}/restore.snap",
                           environment={"CONSUL_HTTP_TOKEN": own_token}, timeout=120)
    assert code == 0, output
    # Now the lab's tokens hold here: its management token reads the data.
    def restored() -> bool:
        entries = lab.consul(host, f"kv/{key}") or [{}]
        return base64.b64decode(entries[0].get("Value") or "").decode() == value

    assert lab.wait_for(f"{key} after the restore", restored, timeout=60)
    lab.http(source, f"/v1/kv/{key}", method="DELETE")
