"""The site's secrets, made once (``scripts/secrets init DIR``, package ``platform_secrets``):
run as operators run it, through the script."""

import base64
import datetime
import stat
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from platform_secrets import files

REPO = Path(__file__).resolve().parents[2]
COMMAND = REPO / "scripts" / "secrets"
# The leaves that are secrets (the rest are names: users, principals, the key's path, the
# certificate). Accessor ids are not secrets to Consul, but they are not printed either.
SECRET_LEAVES = {"gossip_key", "secret_id", "accessor_id", "password", "secret"}


def run(directory: Path, *, cwd: Path | None = None, check: bool = True):
    result = subprocess.run(
        [str(COMMAND), "init", str(directory)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def secrets_of(directory: Path) -> dict:
    return yaml.safe_load((directory / "secrets.sls").read_text())["secrets"]


def write_secrets(directory: Path, tree: dict) -> None:
    (directory / "secrets.sls").write_text(yaml.safe_dump({"secrets": tree}, sort_keys=False))


def leaves(tree: dict, path: tuple[str, ...] = ("secrets",)) -> dict[str, object]:
    """Every leaf by its pillar.get name: ``secrets:consul:gossip_key``."""
    found = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            found.update(leaves(value, (*path, key)))
        else:
            found[":".join((*path, key))] = value
    return found


def secret_values(directory: Path) -> list[str]:
    values = [
        value
        for name, value in leaves(secrets_of(directory)).items()
        if name.rsplit(":", 1)[1] in SECRET_LEAVES
    ]
    key_pem = (directory / "consul-ca.key").read_text()
    # The key's PEM body, line by line: no part of it may show either.
    values += [line for line in key_pem.splitlines() if not line.startswith("-----")]
    return values


def lines(output: str, action: str) -> list[str]:
    return [line.split()[1] for line in output.splitlines() if line.split()[0] == action]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    directory = tmp_path / "site"
    run(directory)
    return directory


def test_first_run_makes_every_secret_in_private_files(tmp_path: Path):
    directory = tmp_path / "site"
    result = run(directory)
    assert mode(directory) == 0o700
    assert mode(directory / "secrets.sls") == 0o600
    assert mode(directory / "consul-ca.key") == 0o600
    assert sorted(directory.iterdir()) == [directory / "consul-ca.key", directory / "secrets.sls"]
    made = leaves(secrets_of(directory))
    assert lines(result.stdout, "created") == [str(directory / "consul-ca.key"), *made]
    assert not lines(result.stdout, "kept")
    assert {
        "secrets:consul:acl:management:secret_id",
        "secrets:consul:acl:agent_seed",
        "secrets:consul:acl:tokens:registrator:secret_id",
        "secrets:zookeeper:quorum:password",
        "secrets:zookeeper:clients:mesos:password",
        "secrets:zookeeper:clients:marathon:password",
        "secrets:mesos:principals:agent:secret",
        "secrets:mesos:principals:marathon:secret",
        "secrets:marathon:http:password",
        "secrets:haproxy:stats:password",
    } <= made.keys()
    # Every secret is its own: no two values alike.
    assert len(set(secret_values(directory))) == len(secret_values(directory))
    # The pillar names the key's file; the key itself is nowhere in it.
    assert made["secrets:consul:ca:key_file"] == str(directory / "consul-ca.key")
    assert "PRIVATE KEY" not in (directory / "secrets.sls").read_text()


def test_second_run_changes_nothing(site: Path):
    before = {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in site.iterdir()}
    result = run(site)
    after = {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in site.iterdir()}
    assert after == before
    assert not lines(result.stdout, "created")
    assert lines(result.stdout, "kept") == [
        str(site / "consul-ca.key"),
        *leaves(secrets_of(site)),
    ]
    assert result.stdout.splitlines()[-1].startswith(f"unchanged {site / 'secrets.sls'}")


def test_deleting_one_secret_brings_back_only_that_one(site: Path):
    before = secrets_of(site)
    key_before = (site / "consul-ca.key").read_bytes()
    tree = secrets_of(site)
    del tree["zookeeper"]["clients"]["mesos"]["password"]
    write_secrets(site, tree)

    result = run(site)

    assert lines(result.stdout, "created") == ["secrets:zookeeper:clients:mesos:password"]
    after = secrets_of(site)
    new_password = after["zookeeper"]["clients"].pop("mesos")["password"]
    old_password = before["zookeeper"]["clients"].pop("mesos")["password"]
    assert new_password != old_password
    assert after == before
    assert (site / "consul-ca.key").read_bytes() == key_before
    assert mode(site / "secrets.sls") == 0o600


def test_deleting_a_whole_branch_brings_back_its_leaves_only(site: Path):
    before = secrets_of(site)
    tree = secrets_of(site)
    del tree["consul"]["acl"]["tokens"]["registrator"]
    write_secrets(site, tree)

    result = run(site)

    assert lines(result.stdout, "created") == [
        "secrets:consul:acl:tokens:registrator:accessor_id",
        "secrets:consul:acl:tokens:registrator:secret_id",
    ]
    after = secrets_of(site)
    assert (
        after["consul"]["acl"]["tokens"]["registrator"]
        != (before["consul"]["acl"]["tokens"]["registrator"])
    )
    for tokens in (after, before):
        del tokens["consul"]["acl"]["tokens"]["registrator"]
    assert after == before


def test_a_second_run_waits_until_the_first_is_done(site: Path):
    with files.locked(site):
        waiting = subprocess.Popen(
            [str(COMMAND), "init", str(site)], stdout=subprocess.PIPE, text=True
        )
        # Long enough for a run that did not wait to end (about half a second).
        time.sleep(2)
        assert waiting.poll() is None
    output, _ = waiting.communicate(timeout=60)
    assert waiting.returncode == 0
    assert not lines(output, "created")


def test_no_secret_appears_in_the_output(tmp_path: Path):
    directory = tmp_path / "site"
    outputs = [run(directory)]
    tree = secrets_of(directory)
    del tree["consul"]["gossip_key"]
    write_secrets(directory, tree)
    (directory / "secrets.sls").chmod(0o644)
    outputs += [run(directory), run(directory)]
    assert f"fixed   {directory / 'secrets.sls'}: mode 0644 -> 0600" in outputs[1].stdout

    printed = "".join(result.stdout + result.stderr for result in outputs)
    for value in secret_values(directory):
        assert value not in printed


def test_gossip_key_is_32_bytes_in_base64(site: Path):
    gossip_key = secrets_of(site)["consul"]["gossip_key"]
    assert len(base64.b64decode(gossip_key, validate=True)) == 32


def test_ca_certificate_is_a_ca_certificate_of_the_key_beside_it(site: Path):
    ca = secrets_of(site)["consul"]["ca"]
    certificate = x509.load_pem_x509_certificate(ca["cert"].encode())
    key = serialization.load_pem_private_key(Path(ca["key_file"]).read_bytes(), password=None)

    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    certificate.verify_directly_issued_by(certificate)
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert certificate.public_key().public_bytes(*der) == key.public_key().public_bytes(*der)
    common_name = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    assert common_name[0].value.startswith("Consul CA ")
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime == datetime.timedelta(days=3650)


def test_deleted_ca_certificate_is_made_again_from_the_same_key(site: Path):
    before = secrets_of(site)
    key_before = (site / "consul-ca.key").read_bytes()
    tree = secrets_of(site)
    del tree["consul"]["ca"]["cert"]
    write_secrets(site, tree)

    result = run(site)

    assert lines(result.stdout, "created") == ["secrets:consul:ca:cert"]
    assert (site / "consul-ca.key").read_bytes() == key_before
    old, new = (
        x509.load_pem_x509_certificate(tree["consul"]["ca"]["cert"].encode())
        for tree in (before, secrets_of(site))
    )
    # Same name and key: what the old certificate signed chains to the new one.
    assert new.subject == old.subject
    assert new.public_key() == old.public_key()


def test_a_certificate_whose_key_is_gone_is_refused(site: Path):
    (site / "consul-ca.key").unlink()
    pillar_before = (site / "secrets.sls").read_bytes()

    result = run(site, check=False)

    assert result.returncode == 1
    assert "consul-ca.key is missing" in result.stderr
    assert "restore the key" in result.stderr
    assert not (site / "consul-ca.key").exists()
    assert (site / "secrets.sls").read_bytes() == pillar_before


def test_an_open_directory_is_made_private(site: Path):
    site.chmod(0o755)
    result = run(site)
    assert mode(site) == 0o700
    assert f"fixed   {site}: mode 0755 -> 0700" in result.stdout.splitlines()


def test_a_directory_everyone_may_write_is_refused(tmp_path: Path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    result = run(shared, check=False)
    assert result.returncode == 1
    assert "writable by every user" in result.stderr
    assert list(shared.iterdir()) == []


def test_a_file_another_renderer_reads_is_refused(site: Path):
    encrypted = "#!yaml|gpg\nsecrets:\n  consul:\n    gossip_key: ciphertext\n"
    (site / "secrets.sls").write_text(encrypted)
    result = run(site, check=False)
    assert result.returncode == 1
    assert "'yaml|gpg'" in result.stderr
    assert (site / "secrets.sls").read_text() == encrypted


def test_a_broken_file_is_refused_by_its_line_without_its_content(site: Path):
    text = (site / "secrets.sls").read_text()
    password = secrets_of(site)["marathon"]["http"]["password"]
    broken = text.replace(f"password: {password}", f"password: [{password}")
    (site / "secrets.sls").write_text(broken)

    result = run(site, check=False)

    assert result.returncode == 1
    assert "is not valid YAML (line" in result.stderr
    assert password not in result.stdout + result.stderr
    assert (site / "secrets.sls").read_text() == broken


def test_files_in_a_git_work_tree_that_git_does_not_ignore_are_warned_about(tmp_path: Path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    result = run(tmp_path / "site")
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warned) == 2
    assert "secrets.sls is in a git work tree and git does not ignore it" in warned[0]


def test_the_documented_place_in_the_repository_is_git_ignored():
    for name in ("pillar/secrets.sls", "pillar/consul-ca.key", "pillar/.secrets.sls.x.tmp"):
        ignored = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", name])
        assert ignored.returncode == 0, f"{name} is not git-ignored"


def test_a_secrets_module_where_it_runs_does_not_shadow_the_standard_library(tmp_path: Path):
    (tmp_path / "secrets.py").write_text("raise SystemExit('the wrong secrets module')\n")
    result = run(tmp_path / "site", cwd=tmp_path)
    assert "wrong" not in result.stderr
    assert (tmp_path / "site" / "secrets.sls").exists()
