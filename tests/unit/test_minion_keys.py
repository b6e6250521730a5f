"""Minions' keys made and accepted on the master's side: _modules/minion_keys.py, on a master's
pki_dir made here as a salt-master leaves it at its first start (its key pair, minions/)."""

import importlib.util
import json
import stat
from pathlib import Path
from unittest.mock import patch

import pytest
import salt.config
import salt.crypt
import salt.loader
from cryptography.hazmat.primitives import serialization
from salt.exceptions import CommandExecutionError, SaltInvocationError

REPO = Path(__file__).resolve().parents[2]
MODULE_PATH = REPO / "_modules" / "minion_keys.py"
_spec = importlib.util.spec_from_file_location("minion_keys", MODULE_PATH)
minion_keys = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(minion_keys)

MINION = "dc1-compute-1"


@pytest.fixture
def pki_dir(tmp_path) -> Path:
    """A salt-master's pki_dir after its first start."""
    directory = tmp_path / "pki" / "master"
    for folder in ("minions", "minions_pre", "minions_rejected", "minions_denied"):
        (directory / folder).mkdir(parents=True)
    private_pem, public_pem = salt.crypt.gen_keys(2048)
    (directory / "master.pem").write_text(private_pem)
    (directory / "master.pub").write_text(public_pem)
    return directory


def accepted_key(pki_dir: Path, minion_id: str = MINION) -> Path:
    return pki_dir / "minions" / minion_id


def private_key_file(pki_dir: Path, minion_id: str = MINION) -> Path:
    return pki_dir / "preseed" / f"{minion_id}.pem"


def public_key_of(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_accepted_public_key_is_the_returned_pairs(pki_dir):
    keys = minion_keys.preseed(MINION, str(pki_dir))

    assert keys["pub"] == public_key_of(keys["pem"])
    assert accepted_key(pki_dir).read_text() == keys["pub"]
    assert keys["master_pub"] == (pki_dir / "master.pub").read_text()
    assert keys["pem"].startswith("-----BEGIN RSA PRIVATE KEY-----")


def test_a_second_call_returns_the_same_pair_and_writes_nothing(pki_dir):
    first = minion_keys.preseed(MINION, str(pki_dir))
    written = {
        path: path.stat().st_mtime_ns for path in (accepted_key(pki_dir), private_key_file(pki_dir))
    }

    second = minion_keys.preseed(MINION, str(pki_dir))

    assert second == first
    assert {path: path.stat().st_mtime_ns for path in written} == written


def test_the_private_key_is_kept_for_root_only_and_the_accepted_key_as_salt_key_leaves_it(
    pki_dir,
):
    keys = minion_keys.preseed(MINION, str(pki_dir))

    assert private_key_file(pki_dir).read_text() == keys["pem"]
    assert mode(private_key_file(pki_dir)) == 0o600
    assert mode(private_key_file(pki_dir).parent) == 0o700
    assert mode(accepted_key(pki_dir)) == 0o600
    assert accepted_key(pki_dir).stat().st_uid == (pki_dir / "minions").stat().st_uid


def test_each_minion_gets_a_pair_of_its_own(pki_dir):
    one = minion_keys.preseed(MINION, str(pki_dir))
    other = minion_keys.preseed("dc1-compute-2", str(pki_dir))

    assert other["pem"] != one["pem"]
    assert accepted_key(pki_dir, "dc1-compute-2").read_text() == other["pub"]


def test_test_mode_makes_a_pair_in_memory_and_writes_nothing(pki_dir):
    keys = minion_keys.preseed(MINION, str(pki_dir), test=True)

    assert keys["pub"] == public_key_of(keys["pem"])
    assert not accepted_key(pki_dir).exists()
    assert not (pki_dir / "preseed").exists()


def test_test_mode_returns_the_pair_already_made(pki_dir):
    made = minion_keys.preseed(MINION, str(pki_dir))

    assert minion_keys.preseed(MINION, str(pki_dir), test=True) == made


def test_a_key_the_host_sent_itself_no_longer_waits_once_the_pair_is_accepted(pki_dir):
    # The master reads a pending key of an id before its accepted one: it must go.
    _, own_public_pem = salt.crypt.gen_keys(2048)
    (pki_dir / "minions_pre" / MINION).write_text(own_public_pem)

    keys = minion_keys.preseed(MINION, str(pki_dir))

    assert not (pki_dir / "minions_pre" / MINION).exists()
    assert accepted_key(pki_dir).read_text() == keys["pub"]


def test_an_id_accepted_with_a_key_made_elsewhere_is_refused_and_kept(pki_dir):
    _, other_public_pem = salt.crypt.gen_keys(2048)
    accepted_key(pki_dir).write_text(other_public_pem)

    with pytest.raises(CommandExecutionError, match=f"salt-key -d {MINION}"):
        minion_keys.preseed(MINION, str(pki_dir))
    assert accepted_key(pki_dir).read_text() == other_public_pem


def test_a_rejected_id_is_refused(pki_dir):
    _, public_pem = salt.crypt.gen_keys(2048)
    (pki_dir / "minions_rejected" / MINION).write_text(public_pem)

    with pytest.raises(CommandExecutionError, match="rejected"):
        minion_keys.preseed(MINION, str(pki_dir))
    assert not accepted_key(pki_dir).exists()


def test_a_minion_deleted_on_the_master_gets_a_new_pair(pki_dir):
    old = minion_keys.preseed(MINION, str(pki_dir))
    accepted_key(pki_dir).unlink()  # salt-key -d

    new = minion_keys.preseed(MINION, str(pki_dir))

    assert new["pem"] != old["pem"]
    assert accepted_key(pki_dir).read_text() == new["pub"]
    assert private_key_file(pki_dir).read_text() == new["pem"]


@pytest.mark.parametrize("where", ["relative/pki", "missing"])
def test_a_directory_of_no_master_is_refused_naming_the_pillar_key(tmp_path, where):
    pki_dir = where if where.startswith("relative") else str(tmp_path / where)

    with pytest.raises(SaltInvocationError, match="salt_minion:master_pki_dir"):
        minion_keys.preseed(MINION, pki_dir)


@pytest.mark.parametrize("minion_id", ["", "../master", "a/b", ".hidden"])
def test_an_id_that_cannot_name_a_key_file_is_refused(pki_dir, minion_id):
    with pytest.raises(SaltInvocationError, match="minion id"):
        minion_keys.preseed(minion_id, str(pki_dir))
    assert not any((pki_dir / "minions").iterdir())


def test_virtual_loads_with_cryptography_and_says_why_without():
    assert minion_keys.__virtual__() == "minion_keys"
    with patch.object(minion_keys, "CRYPTOGRAPHY_ERROR", "No module named 'cryptography'"):
        loaded, reason = minion_keys.__virtual__()
    assert loaded is False
    assert "cryptography" in reason


def test_wrapper_module_accepts_the_key_where_salt_ssh_renders(pki_dir, tmp_path):
    config = tmp_path / "minion"
    config.write_text(json.dumps({"root_dir": str(tmp_path), "module_dirs": [str(REPO)]}))
    # What salt-ssh hands the wrapper loader: the host's options.
    opts = {**salt.config.minion_config(str(config)), "id": MINION, "grains": {"id": MINION}}
    wrappers = salt.loader.ssh_wrapper(opts, {}, {})

    keys = wrappers["minion_keys.preseed"](MINION, str(pki_dir))

    assert accepted_key(pki_dir).read_text() == keys["pub"]
