"""What an operator would write by hand, generated for the lab: SSH key, roster, pillar, Salt
configuration and Saltfile under ``.lab/``. The state tree is the repository's own ``salt/``.
"""

import os
import subprocess

import yaml

from platform_secrets.make import init as make_secrets

from .artifacts import WHEELHOUSE_INDEX, site_pillar
from .debian import consul_release
from .naming import MASTER_HOSTNAME, MIRROR_HOSTNAME, MIRROR_PORT, Host, Layout
from .paths import LAB_DIR, MASTER_PKI_DIR, REPO

SSH_KEY = LAB_DIR / "ssh" / "id_ed25519"
ROSTER = LAB_DIR / "roster"
PILLAR_DIR = LAB_DIR / "pillar"
CONFIG_DIR = LAB_DIR / "etc" / "salt"
SHIPPED_MASTER_CONFIG = REPO / "etc" / "salt" / "master"
SALTFILE = LAB_DIR / "Saltfile"
SECRETS_DIR = LAB_DIR / "secrets"
SECURITY_PILLAR = PILLAR_DIR / "security.sls"
# Consul's release, when an operation of the lab sets another one (set_consul_release).
RELEASE_PILLAR = PILLAR_DIR / "consul-release.sls"
# What the lab's edge hosts serve (pillar haproxy:services): the containers a test runs with
# SERVICE_NAME=demo, checked with GET / (the test image's page).
EDGE_SERVICES = {"demo": {"port": 8000, "check": {"path": "/"}}}
# In master mode the minions run their highstate every SCHEDULE_SECONDS, each at a random
# delay of up to SCHEDULE_SPLAY more (a site's would be longer: an hour, minutes of splay).
SCHEDULE_SECONDS = 90
SCHEDULE_SPLAY = 15
# Where labs before scripts/secrets kept their gossip key.
OLD_GOSSIP_KEY = SECRETS_DIR / "consul-gossip-key"


# Recreated hosts get new host keys: no known_hosts. One SSH connection per host, kept for a
# minute and shared by salt-ssh's ssh and scp calls (each run makes several per host):
# about a sixth of a no-op highstate's CPU on the lab is key exchanges otherwise.
SSH_OPTIONS = [
    "StrictHostKeyChecking=no",
    "UserKnownHostsFile=/dev/null",
    "ControlMaster=auto",
    "ControlPath=/tmp/saltplatform-lab-ssh-%C",
    "ControlPersist=60",
]


def ensure_ssh_key() -> None:
    if SSH_KEY.exists():
        return
    SSH_KEY.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lab", "-f", str(SSH_KEY)],
        check=True,
    )


def site_secrets() -> None:
    """The lab's secrets, made by the project's own command (platform_secrets, as
    `scripts/secrets init` runs it) into a pillar root of their own, .lab/secrets; the CA's
    key stays beside them, never in pillar. A lab from before the command keeps the gossip
    key its running agents hold."""
    pillar_file = SECRETS_DIR / "secrets.sls"
    if OLD_GOSSIP_KEY.exists() and not pillar_file.exists():
        seed = {"secrets": {"consul": {"gossip_key": OLD_GOSSIP_KEY.read_text().strip()}}}
        write_yaml(pillar_file, seed, "Seeded by the lab from its earlier gossip key.", 0o600)
    make_secrets(SECRETS_DIR)
    OLD_GOSSIP_KEY.unlink(missing_ok=True)


def read_secrets() -> dict:
    """The lab's pillar ``secrets`` (SECRETS_DIR/secrets.sls), for the lab and its tests."""
    return yaml.safe_load((SECRETS_DIR / "secrets.sls").read_text())["secrets"]


def write_yaml(path, data, header: str, mode: int = 0o644) -> None:
    """Write a YAML file that has ``mode`` from its first byte (a secret is never readable by
    others, not even for a moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as out:
        out.write(f"# {header}\n" + yaml.safe_dump(data, sort_keys=False))


def set_security_stage(stage: str | None) -> None:
    """Pillar security:stage for the next converges (docs/security.md); None: the default,
    secure."""
    write_yaml(
        SECURITY_PILLAR,
        {"security": {"stage": stage}} if stage else {},
        "The lab's security stage: set while an upgrade walks an open site to a secure one.",
    )


def set_consul_release(version: str | None, base_url: str | None = None) -> None:
    """Pillar consul:version (and the archives' base URL) for the next converges; None: the
    lab's own release (site())."""
    release = {"consul": {"version": version, "install": {"archive": {"base_url": base_url}}}}
    write_yaml(
        RELEASE_PILLAR, release if version else {},
        "The lab's Consul release: set while a test swaps it.",
    )


def site() -> dict:
    """The lab's site pillar: everything from the lab's mirror (Debian's archives too), the
    edge's services."""
    consul_version, _ = consul_release()
    mirror = f"http://{MIRROR_HOSTNAME}:{MIRROR_PORT}"
    return {
        "consul": {
            "version": consul_version,
            "install": {"method": "archive", "archive": {"base_url": f"{mirror}/consul"}},
        },
        # No package source of Mesos or Marathon is reachable from here: their states write
        # every flag file, unit and Consul definition and leave the services stopped.
        "mesos": {"install": {"method": "none"}},
        "marathon": {"install": {"method": "none"}},
        "haproxy": {"services": EDGE_SERVICES},
        # The hosts' Debian archives on the mirror, by the product's own formula, which moves
        # the image's sources aside as it would a real host's.
        "pkgsources": {
            "debian": {
                "mirror": f"{mirror}/debian",
                "security": {"mirror": f"{mirror}/debian-security"},
                "replace_os_sources": True,
            },
        },
        "lab": {"mirror": mirror},
        # salt.minion: the lab's master (lab master), Salt from the mirror's wheelhouse, the
        # keys made in the master's pki_dir.
        "salt_minion": {
            "master": MASTER_HOSTNAME,
            "master_pki_dir": str(MASTER_PKI_DIR),
            "install": {
                "method": "pip",
                "index_url": "",
                "find_links": f"{mirror}/files/{WHEELHOUSE_INDEX}",
            },
        },
        # What keeps a minion converged (ignored by salt-ssh, which runs no schedule).
        "schedule": {
            "platform-highstate": {
                "function": "state.highstate",
                "seconds": SCHEDULE_SECONDS,
                "splay": SCHEDULE_SPLAY,
                "maxrunning": 1,
                # Not when the minion starts: a new site's minions would all converge at
                # once, out of the orchestration's order.
                "run_on_start": False,
            },
        },
        **site_pillar(mirror),
    }


def salt_config() -> dict:
    """The Salt configuration of salt-ssh on this machine (and, with its own keys and
    addresses, of the lab's salt-master): the shipped etc/salt/master, an operator's, with the
    lab's paths: the repository's tree and modules, the lab's pillar."""
    shipped = yaml.safe_load(SHIPPED_MASTER_CONFIG.read_text())
    del shipped["include"]  # roots.conf: the relative paths that the ones below replace
    return {
        **shipped,
        "root_dir": str(LAB_DIR / "salt"),
        "file_roots": {"base": [str(REPO / "salt")]},
        "pillar_roots": {"base": [str(PILLAR_DIR), str(SECRETS_DIR)]},
        "fileserver_followsymlinks": True,
        "module_dirs": [str(REPO)],
        "pillar_dirs": [str(REPO / "_pillar")],
    }


def write(layout: Layout, leaving: tuple[Host, ...] = ()) -> None:
    """Write the roster, the pillar (one file per datacenter), the Salt config and Saltfile;
    make the site's secrets if they are missing. The hosts ``leaving`` (not in the layout any
    more) stay in the roster without a role, so that a highstate takes them out of the site."""
    site_secrets()
    generated = "Generated by the lab (python -m lab up); edits are overwritten."
    roster = {
        host.name: {
            "host": host.address,
            "user": "root",
            "priv": str(SSH_KEY),
            # minion_opts reach both the master side (top file, templates) and the host.
            "minion_opts": {
                "grains": {
                    "roles": [] if host in leaving else list(host.roles),
                    "datacenter": host.datacenter,
                },
            },
            "ssh_options": SSH_OPTIONS,
        }
        for host in [*layout.hosts, *leaving]
    }
    write_yaml(ROSTER, roster, generated)
    for datacenter in layout.datacenters:
        control_nodes = [
            {"id": host.name, "address": host.address, "wan_address": host.wan_address}
            for host in layout.hosts
            if host.datacenter == datacenter and "control" in host.roles
        ]
        plan = {"control_nodes": control_nodes}
        if len(control_nodes) % 2 == 0:
            # A datacenter grows or shrinks by one control node at a time (ZooKeeper's
            # quorums): an even count is a step on the way.
            plan["allow_even_control_nodes"] = True
        write_yaml(
            PILLAR_DIR / "datacenters" / f"{datacenter}.sls",
            {"datacenters": {datacenter: plan}},
            generated,
        )
    for stale in (PILLAR_DIR / "datacenters").glob("*.sls"):
        if stale.stem not in layout.datacenters:
            stale.unlink()
    write_yaml(PILLAR_DIR / "site.sls", site(), generated)
    top = {
        "base": {
            "*": [
                "site", "secrets", "security", "consul-release",
                *(f"datacenters.{name}" for name in layout.datacenters),
            ],
        }
    }
    write_yaml(PILLAR_DIR / "top.sls", top, generated)
    if not SECURITY_PILLAR.exists():
        set_security_stage(None)
    if not RELEASE_PILLAR.exists():
        set_consul_release(None)
    write_yaml(CONFIG_DIR / "master", salt_config(), generated)
    saltfile = {
        "salt-ssh": {
            "config_dir": str(CONFIG_DIR),
            "roster_file": str(ROSTER),
            "ssh_max_procs": len(roster),
        }
    }
    write_yaml(SALTFILE, saltfile, generated)
