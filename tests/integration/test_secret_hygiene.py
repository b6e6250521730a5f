"""No secret of the site shows anywhere it should not: not in a highstate's output (normal or
test mode), not in any host's journal, process list or world-readable files. The CA's
private key is on no host at all."""

import importlib.util
from pathlib import Path

import pytest

from lab import converge
from lab.hosts import put_private_files
from lab.inventory import SECRETS_DIR, read_secrets

# Leaves of pillar `secrets` that are secret (the others are names, ids and a certificate).
SECRET_LEAVES = ("gossip_key", "secret_id", "password", "secret", "agent_seed")
REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("consul_acl", REPO / "_modules" / "consul_acl.py")
consul_acl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(consul_acl)
PATTERNS = "/root/.lab-secret-patterns"
# Where a host keeps files; /proc, /sys and /dev are not files.
SCANNED = ["/etc", "/var", "/opt", "/usr/local", "/run", "/tmp", "/root", "/srv", "/home"]


def leaves(tree, path=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from leaves(value, (*path, key))
    else:
        yield path, tree


@pytest.fixture(scope="module")
def secrets(lab) -> dict[str, str]:
    """The site's secret values by pillar key, every agent's own token (derived from the
    seed), and the CA key's body."""
    site = read_secrets()
    tree = {"secrets": site}
    found = {
        ":".join(path): value for path, value in leaves(tree)
        if path[-1] in SECRET_LEAVES and isinstance(value, str)
    }
    seed = site["consul"]["acl"]["agent_seed"]
    for host in lab.hosts:
        found[f"agent token of {host.name}"] = consul_acl._derived_id(
            seed, consul_acl.AGENT_SECRET, host.name
        )
    key_lines = (SECRETS_DIR / "consul-ca.key").read_text().splitlines()
    found["CA private key"] = next(line for line in key_lines if not line.startswith("-----"))
    assert len(found) >= 10, found.keys()
    return found


def shown(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value in text]


@pytest.mark.parametrize("test", [False, True], ids=["highstate", "highstate test=True"])
def test_highstate_output_shows_no_secret(lab, secrets, test):
    results = lab.highstate(test=test)
    assert all(result.ok for result in results.values()), results

    assert shown(converge.LAST_RUN.read_text(), secrets) == []


def put_patterns(lab, host, secrets: dict[str, str]) -> None:
    """The secret values as grep patterns on the host, mode 0600, without a command line."""
    directory, name = PATTERNS.rsplit("/", 1)
    put_private_files(
        lab.client.containers.get(host.name), directory, {name: "\n".join(secrets.values()) + "\n"}
    )


def test_no_host_shows_a_secret_in_its_journal_processes_or_readable_files(lab, secrets):
    exposed = {}
    for host in lab.hosts:
        put_patterns(lab, host, secrets)
        try:
            checks = {
                "journal": f"journalctl --no-pager -o cat | grep -cF -f {PATTERNS}",
                "process list": f"ps -eo args | grep -v 'grep -cF' | grep -cF -f {PATTERNS}",
                # Readable by any user: the file and every directory on its way (a directory
                # others may not enter, such as Consul's data directory with its raft
                # snapshots, keeps what is in it from them).
                "world-readable files": (
                    f"find {' '.join(SCANNED)} -xdev -type d ! -perm -001 -prune "
                    f"-o -type f -perm -004 -size -20M -not -path {PATTERNS} -print0 "
                    f"2>/dev/null | xargs -0 -r grep -lF -f {PATTERNS}"
                ),
            }
            for where, command in checks.items():
                code, output = lab.run(host, "sh", "-c", command, timeout=240)
                hits = output.strip()
                if hits not in ("", "0"):
                    exposed[f"{host.name} {where}"] = hits
        finally:
            lab.run(host, "rm", "-f", PATTERNS)
    assert exposed == {}


def test_the_ca_private_key_is_on_no_host(lab, secrets):
    body = secrets["CA private key"]
    for host in lab.hosts:
        code, output = lab.run(
            host, "sh", "-c",
            f"grep -rlF -- '{body[:40]}' {' '.join(SCANNED)} 2>/dev/null | head -3", timeout=240,
        )
        assert output.strip() == "", (host.name, output)
