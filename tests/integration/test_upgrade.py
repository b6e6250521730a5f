"""A site built by the last release point's tree takes the current tree: `lab up --from
release` (scripts/test) converged new hosts with that commit's tree, then with this one."""


import pytest

from lab import converge, upgrade
from lab.image import HOST_KEYS_UNIT_PATH

# Directories whose files only the platform's states write: a unit or a Consul definition
# that the current tree does not manage is a leftover of an earlier layout.
MANAGED_DIRECTORIES = ("/etc/systemd/system", "/etc/consul.d")
# KV writes (one a second) that may fail while dc1 elects a new leader, once per security stage.
MAX_WRITES_LOST_TO_ELECTIONS = 5 * len(upgrade.STAGES)


@pytest.fixture(scope="module")
def record():
    found = upgrade.recorded()
    if found is None:
        pytest.skip("this lab was not built by an upgrade: scripts/test builds a new lab with "
                    "`lab up --from release`")
    return found


def test_upgrade_from_the_release_point_converges_with_no_failed_state(lab, record):
    assert record["from"] == upgrade.RELEASE_POINT
    assert list(record["stages"]) == list(upgrade.STAGES)
    for stage, results in record["stages"].items():
        assert set(results) == {host.name for host in lab.hosts}, stage
        for name, result in results.items():
            assert result["failed"] == [], (stage, name, result["failed"])


def managed_files() -> dict[str, set[str]]:
    """Per host, the names of the file states of the current tree's highstate."""
    answers, _ = converge.call("*", "state.show_lowstate")
    files = {}
    for name, lowstate in answers.items():
        assert isinstance(lowstate, list), (name, lowstate)
        files[name] = {chunk["name"] for chunk in lowstate if chunk["state"] == "file"}
    return files


def test_no_unit_or_consul_file_of_an_earlier_layout_is_left(lab):
    managed = managed_files()
    for host in lab.hosts:
        code, listing = lab.run(
            host, "find", *MANAGED_DIRECTORIES, "-maxdepth", "1", "-type", "f",
            "(", "-name", "*.service", "-o", "-name", "*.json", "-o", "-name", "*.timer", ")",
        )
        assert code == 0, listing
        present = set(listing.split()) - {HOST_KEYS_UNIT_PATH}
        assert present, (host.name, "no unit and no Consul definition at all")
        assert present <= managed[host.name], (host.name, sorted(present - managed[host.name]))


def test_names_resolve_and_writes_land_throughout_the_upgrade(record):
    """Probes on a compute host while the current tree converged the earlier tree's open site
    to a secure one, stage by stage (lab/probes.py): a name every 0.1 s, a KV write every
    second, a container registered and resolved by its name every few seconds, and a write
    to dc1's ZooKeeper every second with the site's client login."""
    probes = record["probes"]
    print(f"probes on {probes['host']}: {probes}")
    assert probes["dns_ok"] > 0 and probes["kv_ok"] > 0, probes
    assert probes["registration_ok"] > 0 and probes["zookeeper_ok"] > 0, probes
    # ZooKeeper's members restart one at a time (SASL switched on stage by stage): a session
    # moves to another member and no write is lost.
    assert probes["zookeeper_failed"] == 0, probes["first_failure"]
    # A lookup answered only when asked again is counted apart (dns_retried) and printed.
    assert probes["dns_failed"] == 0, probes["first_failure"]
    assert probes["registration_failed"] == 0, probes["first_failure"]
    # The leader restarts last, once a stage: Consul 1.8 cannot hand leadership over first, so
    # the datacenter elects once per stage (a second or two with raft_multiplier 1). A write
    # is tried again for KV_WRITE_TIMEOUT seconds (lab/probes.py); the ones done only then
    # are counted apart (kv_retried) and printed above.
    assert probes["kv_failed"] <= MAX_WRITES_LOST_TO_ELECTIONS, probes
