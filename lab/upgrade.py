"""An upgrade, the way an operator does one: hosts converged by an earlier commit of this
repository (``lab up --from REF``), then by the current tree.

The earlier tree is exported with ``git archive`` (no worktree, nothing changes in the
repository) and converged with the lab's own roster and secrets. Its pillar is the lab's,
with what that tree read from elsewhere: the gossip key also as ``consul:encrypt``, where
trees before ``scripts/secrets`` read it. What each converge did is kept in
``.lab/upgrade/result.json`` for the tests.
"""

import json
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path

import yaml

from . import converge, inventory
from .probes import ProbeCounts
from .paths import LAB_DIR, REPO

UPGRADE_DIR = LAB_DIR / "upgrade"
TREE_DIR = UPGRADE_DIR / "tree"
PILLAR_DIR = UPGRADE_DIR / "pillar"
CONFIG_DIR = UPGRADE_DIR / "etc" / "salt"
SALTFILE = UPGRADE_DIR / "Saltfile"
ROSTER = UPGRADE_DIR / "roster"
RESULT_FILE = UPGRADE_DIR / "result.json"
# The last release point: the tree before the series of changes that moved the formulas'
# shared macros, host facts and modules (2026-11-29). CI upgrades from it on every run.
RELEASE_POINT = "a50f29c4792d9f11150ec31028d0975845eafa6f"
# The earlier tree runs an open site (gossip encrypted, nothing else): the current one secures
# it one stage at a time, each converged on every host before the next (docs/security.md).
STAGES = ("accept", "verify", "secure")
# The roles of the release point: its plan check refuses a host with another (the edge role
# came later), so such hosts join after the upgrade, as an operator adds them.
EARLIER_ROLES = {"control", "compute"}


def resolve(ref: str) -> str:
    """The commit ``ref`` names (``release``: RELEASE_POINT), or SystemExit."""
    ref = RELEASE_POINT if ref == "release" else ref
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )
    if found.returncode != 0:
        raise SystemExit(f"lab up --from {ref}: no such commit in {REPO}")
    return found.stdout.strip()


def export_tree(commit: str) -> Path:
    """The state tree and modules of ``commit`` in TREE_DIR, afresh."""
    shutil.rmtree(TREE_DIR, ignore_errors=True)
    TREE_DIR.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=REPO, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(TREE_DIR)], input=archive.stdout, check=True)
    return TREE_DIR


def write_config(tree: Path) -> Path:
    """Salt configuration and Saltfile that converge the lab's hosts with ``tree``."""
    shutil.rmtree(PILLAR_DIR, ignore_errors=True)
    shutil.copytree(inventory.PILLAR_DIR, PILLAR_DIR)
    gossip_key = inventory.read_secrets()["consul"]["gossip_key"]
    site_file = PILLAR_DIR / "site.sls"
    site = yaml.safe_load(site_file.read_text())
    site.setdefault("consul", {})["encrypt"] = gossip_key
    site_file.unlink()
    inventory.write_yaml(site_file, site, "The lab's site pillar as earlier trees read it.", 0o600)
    master = yaml.safe_load(inventory.CONFIG_DIR.joinpath("master").read_text())
    master.update(
        root_dir=str(UPGRADE_DIR / "salt"),
        file_roots={"base": [str(tree / "salt")]},
        pillar_roots={"base": [str(PILLAR_DIR), str(inventory.SECRETS_DIR)]},
        module_dirs=[str(tree)],
    )
    inventory.write_yaml(CONFIG_DIR / "master", master, "Converges the lab with an earlier tree.")
    roster = {
        name: entry for name, entry in yaml.safe_load(inventory.ROSTER.read_text()).items()
        if set(entry["minion_opts"]["grains"]["roles"]) <= EARLIER_ROLES
    }
    inventory.write_yaml(ROSTER, roster, "The hosts the earlier tree converges.")
    saltfile = yaml.safe_load(inventory.SALTFILE.read_text())
    saltfile["salt-ssh"].update(config_dir=str(CONFIG_DIR), roster_file=str(ROSTER))
    inventory.write_yaml(SALTFILE, saltfile, "Converges the lab with an earlier tree.")
    return SALTFILE


def converge_earlier(commit: str) -> dict[str, converge.HostResult]:
    """Every host of a role that tree knows (EARLIER_ROLES) converged by the tree of
    ``commit``."""
    return converge.highstate(saltfile=write_config(export_tree(commit)))


def record(commit: str, earlier: dict, stages: dict, probes: ProbeCounts) -> None:
    """What the converges did (the earlier tree's, then the current tree's at each security
    stage), by host, and what the probes saw during the upgrade, for the tests
    (tests/integration/test_upgrade.py)."""
    def summary(results: dict) -> dict:
        return {
            name: {"failed": result.failed + ([result.error] if result.error else []),
                   "changed": result.changed}
            for name, result in results.items()
        }
    RESULT_FILE.write_text(
        json.dumps(
            {
                "from": commit,
                "earlier": summary(earlier),
                "stages": {stage: summary(results) for stage, results in stages.items()},
                "probes": asdict(probes),
            },
            indent=1,
        ) + "\n"
    )


def recorded() -> dict | None:
    """The last upgrade's record, if the lab was built by one."""
    return json.loads(RESULT_FILE.read_text()) if RESULT_FILE.exists() else None
