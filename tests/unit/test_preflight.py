"""scripts/salt-ssh's check of the roster: a host without a way to log in, or one that does not
answer, stops salt-ssh with one line naming the roster key (not a prompt or a traceback)."""

import socket
import subprocess
from pathlib import Path

import yaml

from preflight.roster import entry_problems, port_answers

REPO = Path(__file__).resolve().parents[2]


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_entry_without_priv_names_the_key_and_the_fix(tmp_path):
    found = entry_problems("dc1-control-1", {"host": "10.0.1.11", "user": "root"}, tmp_path / "r")

    assert found == [
        f"{tmp_path / 'r'}: dc1-control-1: no priv: give the private key salt-ssh logs in "
        "with (priv: ~/.ssh/id_ed25519), whose public key is in root's authorized_keys on "
        "the host"
    ]


def test_priv_that_is_not_a_file_is_named(tmp_path):
    entry = {"host": "10.0.1.11", "priv": str(tmp_path / "missing")}

    (found,) = entry_problems("dc1-control-1", entry, tmp_path / "r")

    assert f"priv {tmp_path / 'missing'} is not a readable file" in found


def test_host_that_does_not_answer_is_named_with_its_port(tmp_path):
    key = tmp_path / "id"
    key.write_text("key")
    port = unused_port()
    entry = {"host": "127.0.0.1", "port": port, "priv": str(key)}

    (found,) = entry_problems("dc1-control-1", entry, tmp_path / "r")

    assert f"host 127.0.0.1 port {port} does not answer within 5 s" in found


def test_a_listening_port_answers():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert port_answers("127.0.0.1", server.getsockname()[1]) is True


def test_wrapper_stops_before_salt_ssh_with_one_line_per_problem(tmp_path):
    roster = tmp_path / "roster"
    roster.write_text(yaml.safe_dump({"dc1-control-1": {"host": "10.0.1.11", "user": "root"}}))
    saltfile = tmp_path / "Saltfile"
    saltfile.write_text(yaml.safe_dump({"salt-ssh": {"roster_file": str(roster)}}))

    finished = subprocess.run(
        [REPO / "scripts" / "salt-ssh", "--saltfile", saltfile, "*", "test.ping"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )

    assert finished.returncode == 2
    assert finished.stdout == ""
    assert finished.stderr.splitlines() == [
        f"salt-ssh: {roster}: dc1-control-1: no priv: give the private key salt-ssh logs in "
        "with (priv: ~/.ssh/id_ed25519), whose public key is in root's authorized_keys on "
        "the host"
    ]
