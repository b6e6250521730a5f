"""The third way to run the tree: a real salt-master and salt-minion (pytest-salt-factories, on
loopback) serving the repository's state tree, with a pillar written here.

The master keeps auto_accept off and nobody accepts a key (no `salt-key -a`): the minion runs
with the key pair and the master's key that salt.minion writes for it, rendered for its id
(the pair made and accepted in the master's pki_dir by minion_keys.preseed), and is accepted
at its first connection; a minion with a key of its own stays pending and gets no command.

The master serves salt/ with its links to _modules/ and _states/; the minion gets them by
saltutil.sync_all, as a site's minions do, and renders the highstate with the quorum module
reading the master's pillar, and the site's hosts from the Salt mine: the minion and a compute
minion publish what salt.minion configures them to. The master runs the external pillar
consul_pki, as a site's does: it signs the minion's Consul certificate with the site's CA key,
which stays on its side, into the minion's pillar. Nothing is applied: the highstate would
install software on this machine. The control nodes' addresses are never contacted.
"""

import ipaddress
import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import salt._logging
from cryptography import x509
from cryptography.x509.oid import NameOID
from saltfactories.daemons.master import SaltMaster
from saltfactories.daemons.minion import SaltMinion
from saltfactories.utils import random_string

from tests.functional.harness import (
    REPO,
    Minion,
    control_address,
    control_nodes,
    state_arguments,
    write_datacenter,
    write_pillar,
)

DATACENTER = "dc1"
# The minion's place in its datacenter's list: not the first, so its ZooKeeper id says that
# the module found it, not that it defaulted to the head of the list.
MINION_POSITION = 2
# Seconds a daemon may take to start (about ten here), one salt command to return, and a line
# to reach the minion's log file.
START_TIMEOUT = 120
SALT_TIMEOUT = 120
LOG_TIMEOUT = 30
# What the quorum module says of the plan with four control nodes.
EVEN_PLAN_ERROR = f"pillar datacenters:{DATACENTER}:control_nodes has 4 members"
STATE_IDS_OF_A_CONTROL_NODE = {
    "consul-config-file-file-serialize",
    "consul-service-running-service-running",
    "zookeeper-config-file-file-managed-myid",
}
# What salt.minion writes into the minion's pki_dir: the states of salt/salt/minion/pki/keys.sls.
KEY_STATE_IDS = (
    "salt-minion-pki-keys-file-managed-pem",
    "salt-minion-pki-keys-file-managed-pub",
    "salt-minion-pki-keys-file-managed-master-pub",
)
BOOTSTRAP_CONFIG_ID = "salt-minion-config-file-file-serialize"
# The minion settings of salt.minion's configuration that a started minion takes (the factory
# sets its master and id).
BOOTSTRAP_SETTINGS = ("grains", "mine_functions", "mine_interval")
# The mine function salt.minion configures and the quorum module reads (quorum.MINE_FUNCTION).
MINE_FUNCTION = "platform_host"
# The states that write the minion's Consul certificate and key.
TLS_CERT_STATE_ID = "consul-config-file-file-managed-tls-cert"
TLS_KEY_STATE_ID = "consul-config-file-file-managed-tls-key"


def datacenter_plan(minion_id: str, count: int) -> dict[str, Any]:
    """``count`` control nodes of the datacenter, the minion at ``MINION_POSITION``."""
    nodes = control_nodes(DATACENTER, count)
    nodes[MINION_POSITION - 1]["id"] = minion_id
    return {"control_nodes": nodes}


# How a module names itself to Salt's loader when its file's name is not its name.
VIRTUAL_NAME = re.compile(r'^__virtualname__ = "([a-z_]+)"', re.MULTILINE)


def custom_module_names(directory: str) -> set[str]:
    """Names of the repository's custom modules in ``directory`` (``_modules``, ``_states``):
    the file's name, and the name it loads under (``__virtualname__``)."""
    return {path.stem for path in (REPO / directory).glob("*.py")}


def virtual_names(directory: str) -> set[str]:
    names = set()
    for path in (REPO / directory).glob("*.py"):
        found = VIRTUAL_NAME.search(path.read_text())
        names.add(found[1] if found else path.stem)
    return names


class UnacceptedMinion(SaltMinion):
    """A minion whose start is not awaited: its start event needs a key the master accepted."""

    def get_check_events(self):
        return []


def bootstrap_files(rendered: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """``{file name: (contents, mode)}`` of the minion's pki_dir as salt.minion writes it."""
    files = {}
    for state_id in KEY_STATE_IDS:
        arguments = state_arguments(rendered, state_id)
        files[Path(arguments["name"]).name] = (arguments["contents"], int(arguments["mode"], 8))
    return files


def key_lists(master: SaltMaster) -> dict[str, list[str]]:
    """``salt-key --list all``: the minion ids by state (``minions``, ``minions_pre``, ...)."""
    listed = master.salt_key_cli().run("--list", "all")
    assert listed.returncode == 0, listed.stderr
    return listed.data


def wait_for_log_line(log_file: Path, offset: int, text: str) -> str:
    """The first line containing ``text`` written to ``log_file`` after ``offset``."""
    deadline = time.monotonic() + LOG_TIMEOUT
    while True:
        with log_file.open(errors="replace") as log:
            log.seek(offset)
            lines = [line for line in log.read().splitlines() if text in line]
        if lines:
            return lines[0]
        if time.monotonic() > deadline:
            pytest.fail(f"no line with {text!r} in {log_file} after {LOG_TIMEOUT}s", pytrace=False)
        time.sleep(0.2)


@pytest.fixture(scope="session")
def salt_factories_default_root_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The daemons' directories under pytest's temporary directory, not loose in /tmp.
    A short name: the minion's sockets live under it (a socket path has at most 107 bytes)."""
    return tmp_path_factory.mktemp("sf")


@pytest.fixture(scope="module")
def minion_id() -> str:
    return random_string(f"{DATACENTER}-", uppercase=False)


@pytest.fixture(scope="module")
def pillar_dir(tmp_path_factory: pytest.TempPathFactory, minion_id: str) -> Path:
    """A site's pillar laid out like pillar/: top, site settings, one file per datacenter."""
    return write_pillar(
        tmp_path_factory.mktemp("pillar"),
        {DATACENTER: datacenter_plan(minion_id, 3)},
        {"mesos": {"install": {"method": "none"}}, "marathon": {"install": {"method": "none"}}},
    )


@pytest.fixture(scope="module")
def auth_events() -> list[dict[str, Any]]:
    """The master's authentication events (``salt/auth``: id and act, ``pend`` or ``accept``)."""
    return []


@pytest.fixture(scope="module")
def master(salt_factories, pillar_dir: Path, auth_events: list) -> Iterator[SaltMaster]:
    factory = salt_factories.salt_master_daemon(
        random_string("master-"),
        overrides={
            "file_roots": {"base": [str(REPO / "salt")]},
            "pillar_roots": {"base": [str(pillar_dir)]},
            # salt/_modules and salt/_states are links to the top-level directories.
            "fileserver_followsymlinks": True,
            "auto_accept": False,
            "open_mode": False,
            # As etc/salt/master with its ext_pillar on: the master signs each minion's Consul
            # certificate with the site's CA key, which stays on its side.
            "module_dirs": [str(REPO)],
            "pillar_dirs": [str(REPO / "_pillar")],
            "ext_pillar": [{"consul_pki": {}}],
        },
        # The factories would accept every pending key (salt-key -a): record them instead.
        on_auth_event_callback=lambda _master, payload: auth_events.append(payload),
    )
    with factory.started(start_timeout=START_TIMEOUT):
        yield factory
    # The daemons' log records reach this process through Salt's deferred handler, which
    # otherwise flushes them at exit to a stderr pytest has closed by then.
    salt._logging.shutdown_temp_handler()


def render_bootstrap(
    minion: Callable[..., Minion], master: SaltMaster, minion_id: str, roles: list[str]
) -> dict[str, Any]:
    """salt.minion rendered for a host of the datacenter, with this master's pki_dir."""
    host = minion(
        minion_id,
        roles,
        DATACENTER,
        datacenters={},
        site={"salt_minion": {"master": "127.0.0.1", "master_pki_dir": master.config["pki_dir"]}},
        secrets=False,
    )
    return host.show_sls("salt.minion")


@contextmanager
def bootstrapped_minion(
    master: SaltMaster, minion_id: str, bootstrap: dict[str, Any]
) -> Iterator[SaltMinion]:
    """The minion started with the settings of salt.minion's configuration and its keys."""
    config = state_arguments(bootstrap, BOOTSTRAP_CONFIG_ID)["dataset"]
    overrides = {setting: config[setting] for setting in BOOTSTRAP_SETTINGS}
    factory = master.salt_minion_daemon(minion_id, overrides=overrides)
    pki_dir = Path(factory.config["pki_dir"])
    pki_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name, (contents, mode) in bootstrap_files(bootstrap).items():
        (pki_dir / name).write_text(contents)
        (pki_dir / name).chmod(mode)
    # Started means the master sent its start event: it accepted the minion.
    with factory.started(start_timeout=START_TIMEOUT):
        yield factory


@pytest.fixture(scope="module")
def bootstrap(master: SaltMaster, minion: Callable[..., Minion], minion_id: str) -> dict[str, Any]:
    """salt.minion rendered for the minion's id and grains, with this master's pki_dir."""
    return render_bootstrap(minion, master, minion_id, ["control"])


@pytest.fixture(scope="module")
def salt_minion(
    master: SaltMaster, minion_id: str, bootstrap: dict[str, Any]
) -> Iterator[SaltMinion]:
    """The control node under test, as salt.minion configures it."""
    with bootstrapped_minion(master, minion_id, bootstrap) as factory:
        yield factory


@pytest.fixture(scope="module")
def compute_minion(master: SaltMaster, minion: Callable[..., Minion]) -> Iterator[SaltMinion]:
    """Another host of the datacenter, a compute node, as salt.minion configures it."""
    compute_id = random_string(f"{DATACENTER}-compute-", uppercase=False)
    bootstrap = render_bootstrap(minion, master, compute_id, ["compute"])
    with bootstrapped_minion(master, compute_id, bootstrap) as factory:
        yield factory


@pytest.fixture(scope="module")
def on_minion(master: SaltMaster, salt_minion: SaltMinion) -> Callable[..., Any]:
    """``salt <minion> <function> <args>``: the minion's return. The test fails if the command
    does not exit as ``succeeds`` says (0, or another code), or the minion does not answer."""
    cli = master.salt_cli(timeout=SALT_TIMEOUT)

    def run(function: str, *args: str, succeeds: bool = True) -> Any:
        result = cli.run(function, *args, minion_tgt=salt_minion.id)
        if result.data is None or (result.returncode == 0) is not succeeds:
            pytest.fail(
                f"salt {salt_minion.id} {function} {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}",
                pytrace=False,
            )
        return result.data

    return run


@pytest.fixture(scope="module")
def synced(on_minion: Callable[..., Any]) -> dict[str, list[str]]:
    """What the minion's first saltutil.sync_all fetched from the master: later calls return
    nothing new, so every test that needs the modules shares this one."""
    return on_minion("saltutil.sync_all")


@pytest.fixture(scope="module")
def mined(
    on_minion: Callable[..., Any], salt_minion: SaltMinion, compute_minion: SaltMinion
) -> None:
    """Both minions in the mine: each publishes when it starts, the master stores it shortly
    after."""
    deadline = time.monotonic() + LOG_TIMEOUT
    while set(on_minion("mine.get", "*", MINE_FUNCTION)) != {salt_minion.id, compute_minion.id}:
        assert time.monotonic() < deadline, "the minions never published to the mine"
        time.sleep(0.5)


@contextmanager
def datacenter_in_pillar(
    on_minion: Callable[..., Any], pillar_dir: Path, minion_id: str, settings: dict[str, Any]
) -> Iterator[None]:
    """The datacenter's ``settings`` in the master's pillar, refreshed on the minion; its
    three control nodes again after."""
    write_datacenter(pillar_dir, DATACENTER, settings)
    try:
        assert on_minion("saltutil.refresh_pillar", "wait=True") is True
        yield
    finally:
        write_datacenter(pillar_dir, DATACENTER, datacenter_plan(minion_id, 3))
        assert on_minion("saltutil.refresh_pillar", "wait=True") is True


@pytest.fixture
def even_plan(on_minion: Callable[..., Any], pillar_dir: Path, minion_id: str) -> Iterator[None]:
    """Four control nodes in the master's pillar."""
    with datacenter_in_pillar(on_minion, pillar_dir, minion_id, datacenter_plan(minion_id, 4)):
        yield


@pytest.fixture
def compute_listed(
    on_minion: Callable[..., Any], pillar_dir: Path, minion_id: str, compute_minion: SaltMinion
) -> Iterator[None]:
    """The compute minion listed as the datacenter's third control node in the master's
    pillar, while its grains (and so the mine) say compute."""
    settings = datacenter_plan(minion_id, 3)
    settings["control_nodes"][2]["id"] = compute_minion.id
    with datacenter_in_pillar(on_minion, pillar_dir, minion_id, settings):
        yield


def test_master_syncs_the_custom_modules_to_a_minion(on_minion, synced):
    execution_modules = custom_module_names("_modules")
    state_modules = custom_module_names("_states")

    assert {f"modules.{name}" for name in execution_modules} <= set(synced["modules"])
    assert {f"states.{name}" for name in state_modules} <= set(synced["states"])
    # Synced is not yet loaded: each module's __virtual__ must accept the minion (py-consul).
    assert virtual_names("_modules") <= set(on_minion("sys.list_modules"))
    assert virtual_names("_states") <= set(on_minion("sys.list_state_modules"))


@pytest.mark.usefixtures("synced", "mined")
def test_quorum_module_on_a_minion_reads_the_masters_pillar(on_minion):
    plan = on_minion("quorum.plan")

    servers = ",".join(f"{control_address(position)}:2181" for position in (1, 2, 3))
    assert plan["majority"] == 2
    assert plan["bootstrap_expect"] == 3
    assert plan["is_control"] is True
    assert plan["zookeeper_id"] == MINION_POSITION
    assert plan["mesos_zk_url"] == f"zk://{servers}/mesos"


@pytest.fixture(scope="module")
def highstate(on_minion: Callable[..., Any], synced: dict, mined: Any) -> dict[str, Any]:
    """The minion's rendered highstate (state.show_highstate), rendered once."""
    return on_minion("state.show_highstate")


def test_highstate_renders_for_a_minion(highstate):
    assert isinstance(highstate, dict), highstate
    assert STATE_IDS_OF_A_CONTROL_NODE <= set(highstate)
    myid = highstate["zookeeper-config-file-file-managed-myid"]["file"]
    assert {"contents": str(MINION_POSITION)} in myid


def test_master_gives_the_minion_its_consul_certificate_in_pillar(on_minion, minion_id, highstate):
    """The master signs with the site's CA key, which it keeps: the minion's pillar holds its
    own pair, and its highstate writes that pair."""
    pillar = on_minion("pillar.items", "unmask=True")
    issued = pillar["consul_pki"]["agent"]

    ca = x509.load_pem_x509_certificate(pillar["secrets"]["consul"]["ca"]["cert"].encode())
    certificate = x509.load_pem_x509_certificate(issued["cert"].encode())
    certificate.verify_directly_issued_by(ca)
    assert certificate.issuer == ca.subject
    common_name = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == f"server.{DATACENTER}.consul"
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert f"{minion_id}.server.{DATACENTER}.consul" in names.get_values_for_type(x509.DNSName)
    address = ipaddress.ip_address(control_address(MINION_POSITION))
    assert address in names.get_values_for_type(x509.IPAddress)
    # The highstate writes the pair of pillar; the CA's key is nowhere in what the minion has.
    assert state_arguments(highstate, TLS_CERT_STATE_ID)["contents"] == issued["cert"]
    assert state_arguments(highstate, TLS_KEY_STATE_ID)["contents"] == issued["key"]
    ca_key_lines = Path(pillar["secrets"]["consul"]["ca"]["key_file"]).read_text().splitlines()
    received = json.dumps([pillar, highstate])
    assert not [line for line in ca_key_lines[1:-1] if line in received]


@pytest.mark.usefixtures("synced")
def test_pillar_a_minion_sends_does_not_change_its_certificate(on_minion, minion_id):
    """Salt merges a minion's pillar=... into its pillar on the master: the certificate
    follows the master's own plan (here the minion is still a server)."""
    without_the_minion = [
        node for node in datacenter_plan(minion_id, 3)["control_nodes"] if node["id"] != minion_id
    ]
    sent = {"datacenters": {DATACENTER: {"control_nodes": without_the_minion}}}

    pillar = on_minion("pillar.items", f"pillar={json.dumps(sent)}", "unmask=True")

    assert pillar["datacenters"][DATACENTER]["control_nodes"] == without_the_minion
    certificate = x509.load_pem_x509_certificate(pillar["consul_pki"]["agent"]["cert"].encode())
    common_name = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == f"server.{DATACENTER}.consul"


@pytest.mark.usefixtures("synced", "mined", "even_plan")
def test_bad_plan_fails_the_render_on_a_minion(on_minion, salt_minion):
    log_file = Path(salt_minion.config["log_file"])
    offset = log_file.stat().st_size

    highstate = on_minion("state.show_highstate", succeeds=False)
    formula = on_minion("state.show_sls", "consul", succeeds=False)

    # A top file that fails to render leaves the minion nothing to run; the command fails, and
    # Salt writes why only into the minion's log, as on any master-minion site.
    assert highstate == {}
    error = wait_for_log_line(log_file, offset, "Unable to render top file")
    assert EVEN_PLAN_ERROR in error
    assert f"datacenters:{DATACENTER}:allow_even_control_nodes: true" in error
    # A formula rendered on its own returns the same message to the master.
    assert isinstance(formula, list), formula
    assert EVEN_PLAN_ERROR in "\n".join(formula)


@pytest.mark.usefixtures("synced", "mined")
def test_quorum_plan_on_a_minion_knows_the_other_hosts_from_the_mine(on_minion, compute_minion):
    agents = on_minion("quorum.plan")["agents"]

    # The first control node makes a Consul token for every agent of this list.
    assert {"id": compute_minion.id, "datacenter": DATACENTER} in agents


@pytest.mark.usefixtures("synced", "mined", "compute_listed")
def test_a_host_whose_mined_roles_disagree_with_the_pillar_fails_another_hosts_render(
    on_minion, compute_minion
):
    errors = on_minion("state.show_sls", "consul", succeeds=False)

    assert isinstance(errors, list), errors
    error = "\n".join(errors)
    assert (
        f"host {compute_minion.id} (in the Salt mine) is listed in pillar "
        f"datacenters:{DATACENTER}:control_nodes but its grain roles lacks control"
    ) in error
    assert f"`salt {compute_minion.id} mine.update`" in error


def test_a_preseeded_minion_is_accepted_at_its_first_connection(
    master, salt_minion, on_minion, auth_events
):
    listed = key_lists(master)

    assert on_minion("test.ping") is True
    assert salt_minion.id in listed["minions"]
    assert salt_minion.id not in listed["minions_pre"]
    assert {event["act"] for event in auth_events if event["id"] == salt_minion.id} == {"accept"}


def test_a_minion_with_a_key_of_its_own_stays_pending_and_gets_no_command(master):
    stranger_id = random_string(f"{DATACENTER}-stranger-", uppercase=False)
    factory = master.salt_minion_daemon(stranger_id, factory_class=UnacceptedMinion)

    with factory.started(start_timeout=START_TIMEOUT):
        deadline = time.monotonic() + LOG_TIMEOUT
        while stranger_id not in key_lists(master)["minions_pre"]:
            assert time.monotonic() < deadline, f"{stranger_id} never asked to be accepted"
            time.sleep(0.5)
        answer = master.salt_cli(timeout=SALT_TIMEOUT).run("test.ping", minion_tgt=stranger_id)

    assert answer.returncode != 0
    assert not answer.data
    assert stranger_id not in key_lists(master)["minions"]
