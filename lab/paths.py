"""Where the lab keeps what it makes."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Per-lab state (roster, pillar, keys): git-ignored, removed by `down`.
LAB_DIR = REPO / ".lab"
# Downloads kept across labs (Consul archive, mirrored Debian packages): git-ignored.
CACHE_DIR = REPO / ".cache"
CONSUL_DIR = CACHE_DIR / "consul"
MIRROR_CACHE_DIR = CACHE_DIR / "mirror"
# Debian's ZooKeeper jars for the functional tests.
ZOOKEEPER_DIR = CACHE_DIR / "zookeeper"
VENV_BIN = REPO / ".venv" / "bin"
# The lab's salt-master (lab/master.py): its configuration and its pki_dir, shared with the
# master host, where salt.minion makes and accepts the minions' keys.
MASTER_DIR = LAB_DIR / "master"
MASTER_PKI_DIR = MASTER_DIR / "pki" / "master"
