"""Mesos masters and agents and Marathon on the running lab.

The flags the formulas wrote on the hosts are checked against the flags documented for Mesos
1.11 and Marathon 1.10 and against the plan: quorum = majority of the datacenter's control
nodes, zk:// URLs naming every one of them with the ZooKeeper logins of the site's secrets
(the lab runs at the secure stage, where Mesos reads its URL from a root-only file). The tests
of the running programs (a leading master, registered agents, a Marathon leader) need the
binaries; the lab installs with method `none` because no package source of Mesos or Marathon
is reachable here, and then those tests skip with that reason. On a lab whose pillar points at
a package source they would also need to send the logins the secure stage requires of
/master/state and /v2/leader (the `operator` principal, secrets:marathon:http), which they do
not yet.
"""

import json
import re

import pytest

from lab.inventory import read_secrets
from tests.functional.harness import (
    MARATHON_FLAGS,
    MESOS_FLAGS,
    flags_of,
    marathon_flag_names,
)

ENV_LINE = re.compile(r'^(?P<name>[A-Z0-9_]+)="(?P<value>(?:[^"\\]|\\.)*)"$')
NO_BINARIES = (
    "Mesos/Marathon binaries are not installed (install method none: no reachable package "
    "source)"
)
# Seconds masters may take to elect a leader, agents to register, Marathon to elect.
LEADER_TIMEOUT = 180
DATACENTERS = ("dc1", "dc2")


def environment(lab, host, path: str) -> dict[str, str]:
    code, output = lab.run(host, "cat", path)
    assert code == 0, f"{host.name}: {path}: {output}"
    variables = {}
    for line in output.splitlines():
        if line and not line.startswith("#"):
            match = ENV_LINE.match(line)
            assert match, f'{host.name}: {path}: not a NAME="value" line: {line!r}'
            variables[match["name"]] = re.sub(r"\\(.)", r"\1", match["value"])
    return variables


def zk_url(lab, datacenter: str, path: str, client: str) -> str:
    """The zk:// URL of ``path`` on the datacenter's ensemble with the ZooKeeper login of
    ``client`` (mesos, marathon)."""
    login = read_secrets()["zookeeper"]["clients"][client]
    members = ",".join(f"{host.address}:2181" for host in lab.hosts_with("control", datacenter))
    return f"zk://{login['user']}:{login['password']}@{members}{path}"


def flag_value(lab, host, value: str) -> str:
    """A Mesos flag's value as Mesos reads it: a file:// value is the file's content."""
    if not value.startswith("file://"):
        return value
    code, output = lab.run(host, "cat", value.removeprefix("file://"))
    assert code == 0, f"{host.name}: {value}: {output}"
    return output.strip()


def majority(lab, datacenter: str) -> int:
    return len(lab.hosts_with("control", datacenter)) // 2 + 1


def executable(lab, host, unit: str) -> str:
    """The program the unit starts (its ExecStart), as the formula wrote it."""
    code, output = lab.run(host, "cat", f"/etc/systemd/system/{unit}.service")
    assert code == 0, f"{host.name}: {unit}: {output}"
    line = next(line for line in output.splitlines() if line.startswith("ExecStart="))
    return line.removeprefix("ExecStart=").split()[0]


def installed(lab, host, unit: str) -> bool:
    return lab.run(host, "test", "-x", executable(lab, host, unit))[0] == 0


@pytest.fixture(scope="module")
def binaries(lab) -> bool:
    """Whether every control host has mesos-master and marathon and every compute host
    mesos-agent."""
    units = [
        *(
            (host, unit)
            for host in lab.hosts_with("control")
            for unit in ("mesos-master", "marathon")
        ),
        *((host, "mesos-agent") for host in lab.hosts_with("compute")),
    ]
    return all(installed(lab, host, unit) for host, unit in units)


@pytest.fixture
def running(binaries):
    if not binaries:
        pytest.skip(NO_BINARIES)


@pytest.mark.parametrize("datacenter", DATACENTERS)
def test_master_flags_are_documented_with_the_quorum_of_the_datacenter(lab, datacenter):
    for host in lab.hosts_with("control", datacenter):
        flags = flags_of(environment(lab, host, "/etc/default/mesos-master"), "MESOS_")

        assert set(flags) <= MESOS_FLAGS["master"] | MESOS_FLAGS["common"], host.name
        assert flag_value(lab, host, flags["zk"]) == zk_url(lab, datacenter, "/mesos", "mesos")
        assert flags["quorum"] == str(majority(lab, datacenter)), host.name
        assert flags["cluster"] == datacenter
        assert flags["ip"] == flags["hostname"] == flags["advertise_ip"] == host.address
        assert flags["work_dir"] == "/var/lib/mesos/master"


def test_dc1_masters_use_quorum_two_of_three(lab):
    assert len(lab.hosts_with("control", "dc1")) == 3
    assert majority(lab, "dc1") == 2


@pytest.mark.parametrize("datacenter", DATACENTERS)
def test_agent_flags_are_documented_and_point_at_the_datacenter_masters(lab, datacenter):
    for host in lab.hosts_with("compute", datacenter):
        flags = flags_of(environment(lab, host, "/etc/default/mesos-agent"), "MESOS_")

        assert set(flags) <= MESOS_FLAGS["agent"] | MESOS_FLAGS["common"], host.name
        assert flag_value(lab, host, flags["master"]) == zk_url(
            lab, datacenter, "/mesos", "mesos"
        ), host.name
        assert flags["containerizers"] == "docker,mesos"
        assert f"datacenter:{datacenter}" in flags["attributes"].split(";")
        assert f"node:{host.name}" in flags["attributes"].split(";")
        assert flags["ip"] == host.address
        assert flags["resources"].startswith("ports:[")
        assert flags["executor_registration_timeout"] == "10mins"


@pytest.mark.parametrize("datacenter", DATACENTERS)
def test_marathon_flags_are_documented_and_use_the_datacenter_ensemble(lab, datacenter):
    for host in lab.hosts_with("control", datacenter):
        variables = environment(lab, host, "/etc/default/marathon")
        flags = flags_of(variables, "MARATHON_")

        documented = MARATHON_FLAGS["flags"] | MARATHON_FLAGS["switches"]
        assert marathon_flag_names(variables) <= documented, host.name
        assert flags["master"] == zk_url(lab, datacenter, "/mesos", "mesos")
        assert flags["zk"] == zk_url(lab, datacenter, "/marathon", "marathon")
        assert flags["hostname"] == host.address
        assert flags["http_port"] == "8080"


def test_services_are_registered_in_consul_with_their_checks(lab):
    # Marathon's /ping asks for a login at the secure stage: its check connects to the port.
    expected = {
        "mesos-master": ("control", 5050, "http", "/health"),
        "marathon": ("control", 8080, "tcp", "HTTP port"),
        "mesos-agent": ("compute", 5051, "http", "/health"),
    }
    for datacenter in DATACENTERS:
        server = lab.hosts_with("control", datacenter)[0]
        for service, (role, port, kind, what) in expected.items():
            entries = lab.consul(server, f"health/service/{service}") or []
            hosts = lab.hosts_with(role, datacenter)
            assert {entry["Service"]["Address"] for entry in entries} == {
                host.address for host in hosts
            }, service
            for entry in entries:
                assert entry["Service"]["Port"] == port
                (check,) = [c for c in entry["Checks"] if c["ServiceName"] == service]
                # Consul 1.8 reports no check definition; the name says what is checked.
                assert check["Type"] == kind and check["Name"].endswith(what)


def test_without_binaries_the_services_are_defined_and_left_stopped(lab, binaries):
    if binaries:
        pytest.skip("the binaries are installed: the services run")
    for role, units in (("control", ("mesos-master", "marathon")), ("compute", ("mesos-agent",))):
        for host in lab.hosts_with(role):
            for unit in units:
                code, output = lab.run(host, "systemctl", "is-active", unit)
                assert output.strip() == "inactive", f"{host.name}: {unit}: {output}"
                code, output = lab.run(host, "systemctl", "cat", unit)
                assert code == 0, f"{host.name}: {unit} is not defined: {output}"


def http_json(lab, host, port: int, path: str):
    status, body = lab.http(host, path, port=port)
    return json.loads(body) if status == 200 and body else None


@pytest.mark.parametrize("datacenter", DATACENTERS)
def test_one_master_leads_each_datacenter(lab, running, datacenter):
    masters = lab.hosts_with("control", datacenter)

    def leaders():
        states = [http_json(lab, host, 5050, "/master/state") for host in masters]
        seen = {state.get("leader") for state in states if state}
        return seen if len(seen) == 1 and None not in seen and len(states) == len(masters) else None

    (leader,) = lab.wait_for(f"a leading master in {datacenter}", leaders, timeout=LEADER_TIMEOUT)
    assert leader.split("@")[-1].split(":")[0] in {host.address for host in masters}


@pytest.mark.parametrize("datacenter", DATACENTERS)
def test_every_agent_registers_with_its_datacenter_leader(lab, running, datacenter):
    master = lab.hosts_with("control", datacenter)[0]
    agents = {host.address for host in lab.hosts_with("compute", datacenter)}

    def registered():
        # Any master redirects to the leader's state; /master/slaves lists registered agents.
        answer = http_json(lab, master, 5050, "/master/slaves")
        return answer and {agent["hostname"] for agent in answer["slaves"]} >= agents

    lab.wait_for(f"agents registered in {datacenter}", registered, timeout=LEADER_TIMEOUT)


@pytest.mark.parametrize("datacenter", DATACENTERS)
def test_marathon_elects_a_leader(lab, running, datacenter):
    hosts = lab.hosts_with("control", datacenter)

    def leader():
        answers = [http_json(lab, host, 8080, "/v2/leader") for host in hosts]
        seen = {answer["leader"] for answer in answers if answer}
        return seen if len(seen) == 1 and len(answers) == len(hosts) else None

    (elected,) = lab.wait_for(f"a Marathon leader in {datacenter}", leader, timeout=LEADER_TIMEOUT)
    assert elected.split(":")[0] in {host.address for host in hosts}
