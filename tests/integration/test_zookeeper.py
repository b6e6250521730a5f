"""ZooKeeper on the running lab: a 3-member ensemble in dc1 and a standalone member in dc2,
replicated data, survival of a lost control host, Consul DNS, and configuration changes that
never take more than one member down.

Members are asked with the four-letter words from inside their host (python3), data goes
through ZooKeeper sessions from the test machine (kazoo) with a client's login of the site's
secrets, as Mesos and Marathon authenticate, and hosts are stopped and started as an operator
would. The site runs at the secure stage: quorum SASL required, sessions must authenticate.
"""

import contextlib
import json
import logging
import threading
import time
import uuid

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

from lab import converge
from lab.inventory import read_secrets

# Seconds an ensemble may take to elect a leader or to take a member back in.
ELECTION_TIMEOUT = 90
# Seconds a host may take to boot and its ZooKeeper to rejoin.
REJOIN_TIMEOUT = 180
# Seconds Consul may take to pass a new check and answer it in DNS.
DNS_TIMEOUT = 60
# Seconds a session may take to connect, and a request to answer.
SESSION_TIMEOUT = 15
JAAS_FILE = "/etc/zookeeper/jaas.conf"

def running(lab, host) -> bool:
    """Whether the member answers ``ruok`` with imok (it runs, with or without a quorum)."""
    code, output = lab.four_letter_word(host, "ruok")
    return code == 0 and output.strip() == "imok"


def modes(lab, hosts) -> list[str]:
    return sorted(lab.zookeeper_mode(host) for host in hosts)


@contextlib.contextmanager
def session(host, login: str | None = "mesos"):
    """A session with ``host``'s member alone, authenticated with the digest login of the
    site's ZooKeeper client ``login`` (secrets:zookeeper:clients), or with none."""
    auth_data = []
    if login is not None:
        credentials = read_secrets()["zookeeper"]["clients"][login]
        auth_data = [("digest", f"{credentials['user']}:{credentials['password']}")]
    client = KazooClient(
        hosts=f"{host.address}:2181",
        auth_data=auth_data,
        timeout=SESSION_TIMEOUT,
        connection_retry={"max_tries": 3, "delay": 0.5},
    )
    client.start(timeout=SESSION_TIMEOUT)
    try:
        yield client
    finally:
        client.stop()
        client.close()


def answer(request):
    """The answer to a request of a session (kazoo's asynchronous result), bounded in time:
    kazoo's own calls wait for ever while it reconnects."""
    return request.get(timeout=SESSION_TIMEOUT)


def create(host, path: str, value: str) -> None:
    with session(host) as client:
        answer(client.create_async(path, value.encode()))


def delete(host, path: str) -> None:
    with session(host) as client:
        answer(client.delete_async(path))


def znode_value(lab, host, path: str) -> str | None:
    """The data of ``path`` read on ``host``, None if it cannot be read."""
    try:
        with session(host) as client:
            return answer(client.get_async(path))[0].decode()
    except (KazooException, KazooTimeoutError):
        return None


def control(lab, datacenter: str):
    return lab.hosts_with("control", datacenter)


def test_dc1_ensemble_has_one_leader_and_two_followers(lab):
    hosts = control(lab, "dc1")
    assert len(hosts) == 3
    lab.wait_for(
        "one leader and two followers in dc1",
        lambda: modes(lab, hosts) == ["follower", "follower", "leader"],
        timeout=ELECTION_TIMEOUT,
    )


def test_dc2_member_runs_standalone(lab):
    (host,) = control(lab, "dc2")
    assert lab.zookeeper_mode(host) == "standalone"


def test_four_letter_words_outside_the_checks_are_refused(lab):
    # The whitelist is srvr, ruok, mntr and conf; envi would tell the JVM's environment, dump
    # the sessions.
    host = control(lab, "dc1")[0]
    for word in ("envi", "dump"):
        code, output = lab.four_letter_word(host, word)
        assert code == 0
        assert "not in the whitelist" in output, word


def test_a_znode_written_on_one_member_is_read_on_another(lab):
    writer, reader, _ = control(lab, "dc1")
    path = f"/platform-test-{uuid.uuid4().hex[:8]}"
    value = f"written-on-{writer.name}"
    try:
        create(writer, path, value)
        assert lab.wait_for(
            f"{path} on {reader.name}",
            lambda: znode_value(lab, reader, path) == value,
            timeout=30,
        )
    finally:
        delete(writer, path)


# The member answers a request without a login with ZooKeeper 3.7's error code -124 (session
# closed, authentication required), which kazoo 2.10 does not know: its connection thread
# stops on it (and logs so), and the request goes unanswered.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_session_without_a_login_is_refused(lab):
    host = control(lab, "dc1")[0]
    since = lab.run(host, "date", "+%Y-%m-%d %H:%M:%S")[1].strip()

    kazoo_log = logging.getLogger("kazoo.client")
    kazoo_log.disabled = True
    try:
        with session(host, login=None) as client:
            # The member closes the connection instead of answering: kazoo reports the loss,
            # or keeps reconnecting until the bound.
            with pytest.raises((KazooException, KazooTimeoutError)):
                answer(client.get_async("/"))
    finally:
        kazoo_log.disabled = False
    # The member closed the session for want of a login, not for anything else.
    code, journal = lab.run(host, "journalctl", "-u", "zookeeper", "--since", since, "--no-pager")
    assert code == 0, journal
    assert "expected authentication scheme [digest], closing session" in journal, journal[-2000:]
    with session(host) as client:
        assert answer(client.exists_async("/zookeeper")) is not None


def test_a_member_with_a_wrong_quorum_secret_does_not_join(lab):
    """A follower whose JAAS file holds another quorum password is restarted: it runs but
    never serves, while the other two keep a leader and a follower; with its file back it
    rejoins. (The password is replaced on the host, never passed on a command line.)"""
    hosts = control(lab, "dc1")
    lab.wait_for(
        "one leader and two followers in dc1",
        lambda: modes(lab, hosts) == ["follower", "follower", "leader"],
        timeout=ELECTION_TIMEOUT,
    )
    intruder = next(host for host in hosts if lab.zookeeper_mode(host) == "follower")
    others = [host for host in hosts if host != intruder]
    backup = f"{JAAS_FILE}.platform-test"
    corrupt = (
        "import re, sys; path = sys.argv[1]; text = open(path).read(); "
        "text = re.sub(r'(password|user_[a-z]+)=\"[^\"]*\"', r'\\1=\"not-the-secret\"', text); "
        "open(path, 'w').write(text)"
    )
    assert lab.run(intruder, "cp", "-p", JAAS_FILE, backup)[0] == 0
    try:
        code, output = lab.run(intruder, "python3", "-c", corrupt, JAAS_FILE)
        assert code == 0, output
        assert lab.run(intruder, "grep", "-c", "not-the-secret", JAAS_FILE)[1].strip() == "2"
        assert lab.run(intruder, "systemctl", "restart", "zookeeper", timeout=120)[0] == 0
        lab.wait_for(f"{intruder.name} running", lambda: running(lab, intruder), timeout=60)
        # Long enough for several rounds of election (initLimit is 10 ticks of 2 s).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert lab.zookeeper_mode(intruder) == "", f"{intruder.name} joined with a wrong secret"
            assert modes(lab, others) == ["follower", "leader"]
            time.sleep(2)
    finally:
        lab.run(intruder, "mv", backup, JAAS_FILE)
        lab.run(intruder, "systemctl", "restart", "zookeeper", timeout=120)
    lab.wait_for(
        f"{intruder.name} back as a follower",
        lambda: lab.zookeeper_mode(intruder) == "follower",
        timeout=REJOIN_TIMEOUT,
    )


def test_data_directory_is_persistent_and_holds_the_id(lab):
    for position, host in enumerate(control(lab, "dc1"), start=1):
        code, output = lab.run(host, "cat", "/var/lib/zookeeper/myid")
        assert (code, output.strip()) == (0, str(position)), host.name
        code, output = lab.run(host, "ls", "/var/lib/zookeeper/version-2")
        assert code == 0 and output.strip(), f"{host.name}: no snapshot or log: {output}"


def test_dc1_survives_loss_of_one_control_node_and_it_rejoins_as_follower(lab):
    hosts = control(lab, "dc1")
    lab.wait_for("a dc1 leader", lambda: "leader" in modes(lab, hosts), timeout=ELECTION_TIMEOUT)
    # The leader is the member whose loss hurts most: the others must elect a new one.
    lost = next(host for host in hosts if lab.zookeeper_mode(host) == "leader")
    survivors = [host for host in hosts if host != lost]
    path = f"/platform-test-{uuid.uuid4().hex[:8]}"
    lab.stop(lost)
    try:
        lab.wait_for(
            "a new leader among the two survivors",
            lambda: modes(lab, survivors) == ["follower", "leader"],
            timeout=ELECTION_TIMEOUT,
        )
        create(survivors[0], path, "while-one-is-down")
        assert znode_value(lab, survivors[1], path) == "while-one-is-down"
    finally:
        lab.start(lost)
    lab.wait_for(
        f"{lost.name} back as a follower",
        lambda: lab.zookeeper_mode(lost) == "follower",
        timeout=REJOIN_TIMEOUT,
    )
    try:
        assert lab.wait_for(
            f"{path} on {lost.name}",
            lambda: znode_value(lab, lost, path) == "while-one-is-down",
            timeout=30,
        )
    finally:
        delete(survivors[0], path)


def test_zookeeper_service_consul_resolves_from_a_compute_host(lab):
    for datacenter in ("dc1", "dc2"):
        (compute,) = lab.hosts_with("compute", datacenter)
        members = {host.address for host in control(lab, datacenter)}

        def resolved():
            code, output = lab.run(compute, "getent", "hosts", "zookeeper.service.consul")
            return code == 0 and {line.split()[0] for line in output.splitlines()} == members

        lab.wait_for(f"zookeeper.service.consul in {datacenter}", resolved, timeout=DNS_TIMEOUT)


def test_every_member_passes_its_consul_check(lab):
    for datacenter in ("dc1", "dc2"):
        host = control(lab, datacenter)[0]
        members = {member.address for member in control(lab, datacenter)}

        def passing():
            entries = lab.consul(host, "health/service/zookeeper?passing=1") or []
            return {entry["Service"]["Address"] for entry in entries} == members

        lab.wait_for(f"zookeeper checks passing in {datacenter}", passing, timeout=DNS_TIMEOUT)


def test_config_change_never_takes_more_than_one_member_down(lab):
    """A changed setting restarts the dc1 members one at a time, each after the previous one
    serves again: a majority runs all along. (While the leader restarts, the others elect a
    new one and do not serve for that moment: that is ZooKeeper, not a lost quorum.)"""
    hosts = control(lab, "dc1")
    running_counts = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            running_counts.append(sum(1 for host in hosts if running(lab, host)))
            time.sleep(0.2)

    def apply(pillar: dict | None) -> dict:
        extra = [f"pillar={json.dumps(pillar)}"] if pillar is not None else []
        answers, _ = converge.call("dc1-control-*", "state.apply", "zookeeper", *extra,
                                   timeout=900)
        return answers

    marker = {"zookeeper": {"jvm": {"flags": [f"-Dplatform.test={uuid.uuid4().hex[:8]}"]}}}
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        changed = apply(marker)
    finally:
        done.set()
        watcher.join(timeout=30)
        # The next apply without the marker restarts them back, one at a time again.
        restored = apply(None)
    for result in (changed, restored):
        for host, states in result.items():
            restart = next(
                state
                for state in states.values()
                if state["__id__"] == "zookeeper-service-running-rolling-restart-restarted"
            )
            assert restart["result"] is True, f"{host}: {restart['comment']}"
            assert "holding the Consul lock platform/locks/dc1/zookeeper" in restart["comment"]
    assert running_counts and min(running_counts) >= 2, running_counts
    lab.wait_for(
        "one leader and two followers in dc1",
        lambda: modes(lab, hosts) == ["follower", "follower", "leader"],
        timeout=ELECTION_TIMEOUT,
    )


BACKUP_DIRECTORY = "/var/backups/zookeeper"
DATA_DIR = "/var/lib/zookeeper"


def restore(lab, hosts, archive: str) -> None:
    """docs/operations.md's restore of one archive (already on every member) to the ensemble:
    every member stopped, its data moved aside and the same archive unpacked, then started."""
    for host in hosts:
        code, output = lab.run(host, "systemctl", "stop", "zookeeper-backup.timer", "zookeeper",
                               timeout=120)
        assert code == 0, f"stopping {host.name}: {output}"
    for host in hosts:
        code, output = lab.run(host, "sh", "-ec", (
            f"rm -rf {DATA_DIR}/version-2.before-restore; "
            f"mv {DATA_DIR}/version-2 {DATA_DIR}/version-2.before-restore; "
            f"tar -xzf {archive} -C {DATA_DIR}; "
            f"chown -R zookeeper:zookeeper {DATA_DIR}/version-2"
        ))
        assert code == 0, f"unpacking on {host.name}: {output}"
    for host in hosts:
        lab.run(host, "systemctl", "start", "zookeeper", "zookeeper-backup.timer", timeout=120)


def copy_file(lab, source, destination, path: str) -> None:
    """``path`` of ``source`` to the same directory of ``destination``, through the engine."""
    stream, _ = lab.client.containers.get(source.name).get_archive(path)
    directory = path.rsplit("/", 1)[0]
    assert lab.client.containers.get(destination.name).put_archive(directory, b"".join(stream))


def test_a_backup_restored_on_every_member_brings_the_ensembles_data_back(lab):
    hosts = control(lab, "dc1")
    kept, lost = (f"/backup-test-{name}-{uuid.uuid4().hex[:8]}" for name in ("kept", "lost"))
    for host in hosts:
        code, output = lab.run(host, "systemctl", "is-active", "zookeeper-backup.timer")
        assert code == 0, f"{host.name}'s backup timer: {output}"
    create(hosts[0], kept, "written before the backup")
    code, output = lab.run(hosts[1], "systemctl", "start", "zookeeper-backup.service",
                           timeout=120)
    assert code == 0, f"the backup on {hosts[1].name} failed: {output}"
    _, newest = lab.run(hosts[1], "sh", "-c", f"ls -t {BACKUP_DIRECTORY}/*.tar.gz | head -1")
    archive = newest.strip()
    _, mode = lab.run(hosts[1], "stat", "-c", "%a", archive, BACKUP_DIRECTORY)
    assert mode.split() == ["600", "700"]
    create(hosts[0], lost, "written after the backup")
    for host in hosts:
        if host != hosts[1]:
            copy_file(lab, hosts[1], host, archive)
    try:
        restore(lab, hosts, archive)
        lab.wait_for("dc1's ensemble after the restore",
                     lambda: modes(lab, hosts) == ["follower", "follower", "leader"],
                     timeout=ELECTION_TIMEOUT)
        for host in hosts:
            assert lab.wait_for(f"{kept} on {host.name}",
                                lambda host=host: znode_value(lab, host, kept),
                                timeout=ELECTION_TIMEOUT) == "written before the backup"
            assert znode_value(lab, host, lost) is None
    finally:
        for host in hosts:
            lab.run(host, "systemctl", "start", "zookeeper", "zookeeper-backup.timer", timeout=120)
            lab.run(host, "rm", "-rf", f"{DATA_DIR}/version-2.before-restore")
            if host != hosts[1]:
                lab.run(host, "rm", "-f", archive)
        lab.wait_for("dc1's ensemble serving", lambda: all(running(lab, host) for host in hosts),
                     timeout=ELECTION_TIMEOUT)
        for path in (kept, lost):
            with contextlib.suppress(KazooException, KazooTimeoutError):
                delete(hosts[0], path)
