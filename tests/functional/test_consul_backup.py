"""Consul backups: the consul formula's snapshot script (salt/consul/files/consul-snapshot.sh),
run as its systemd unit runs it, against a real Consul agent; the snapshot restores into a
freshly built datacenter."""

import base64
import json
import os
import stat
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from tests.functional.conftest import CONSUL_BINARY, _running_consul_agent
from tests.functional.harness import REPO

SCRIPT = REPO / "salt" / "consul" / "files" / "consul-snapshot.sh"
DAY = 86400


def put(agent, key: str, value: str) -> None:
    request = urllib.request.Request(f"{agent.url}/v1/kv/{key}", data=value.encode(), method="PUT")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.load(response) is True


def get(agent, key: str) -> str:
    with urllib.request.urlopen(f"{agent.url}/v1/kv/{key}", timeout=5) as response:
        return base64.b64decode(json.load(response)[0]["Value"]).decode()


def snapshot(agent, directory: Path, keep_days: int = 14) -> subprocess.CompletedProcess:
    environment = {
        "PATH": os.environ["PATH"],
        "CONSUL_BIN": str(CONSUL_BINARY),
        "CONSUL_HTTP_ADDR": agent.url,
        "BACKUP_DIR": str(directory),
        "KEEP_DAYS": str(keep_days),
    }
    return subprocess.run(
        ["sh", str(SCRIPT)], env=environment, capture_output=True, text=True, timeout=60
    )


def test_snapshot_restored_into_a_fresh_datacenter_brings_back_the_kv_data(tmp_path, consul_dc1):
    put(consul_dc1, "platform/backup-test", "written before the snapshot")
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)

    saved = snapshot(consul_dc1, backups)

    assert saved.returncode == 0, saved.stderr
    (snapshot_file,) = backups.glob("consul-*.snap")
    assert saved.stdout.strip() == f"saved {snapshot_file}"
    assert stat.S_IMODE(snapshot_file.stat().st_mode) == 0o600
    with contextmanager(_running_consul_agent)("dc1", tmp_path / "fresh") as fresh:
        restore = subprocess.run(
            [str(CONSUL_BINARY), "snapshot", "restore", f"-http-addr={fresh.url}",
             str(snapshot_file)],
            capture_output=True, text=True, timeout=60,
        )
        assert restore.returncode == 0, restore.stderr
        assert get(fresh, "platform/backup-test") == "written before the snapshot"


def test_snapshots_older_than_keep_days_go_and_others_stay(tmp_path, consul_dc1):
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    old = backups / "consul-20200101T000000Z.snap"
    recent = backups / "consul-20200102T000000Z.snap"
    unrelated = backups / "notes.txt"
    for path, age in ((old, 30 * DAY), (recent, 2 * DAY), (unrelated, 30 * DAY)):
        path.write_text("x")
        then = time.time() - age
        os.utime(path, (then, then))

    assert snapshot(consul_dc1, backups, keep_days=14).returncode == 0

    assert not old.exists() and recent.exists() and unrelated.exists()
    assert len(list(backups.glob("consul-*.snap"))) == 2


def test_a_snapshot_that_cannot_be_saved_fails_the_unit(tmp_path):
    unused = tmp_path / "backups"
    unused.mkdir()

    class Nowhere:
        url = "http://127.0.0.1:1"

    failed = snapshot(Nowhere, unused)

    assert failed.returncode != 0
    assert list(unused.iterdir()) == []
