"""ZooKeeper backups: the zookeeper formula's timer and service rendered from pillar, and its
script (salt/zookeeper/files/zookeeper-backup.py) run as its unit runs it against a real
ZooKeeper member (Debian's 3.8 jars, as on the lab hosts): the archive restores into an
emptied data directory with every znode."""

import shutil
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kazoo.client import KazooClient

from tests.functional.harness import REPO, SHAPES, state_arguments

SCRIPT = REPO / "salt" / "zookeeper" / "files" / "zookeeper-backup.py"

PILLAR = {
    "zookeeper": {
        "backup": {
            "directory": "/srv/zookeeper-backups",
            "keep": 5,
            "on_calendar": "*-*-* 03:00:00",
            "randomized_delay_sec": 600,
        }
    }
}


def backup(config: Path, directory: Path, keep: int = 14) -> subprocess.CompletedProcess:
    """The script as the unit runs it, by the hosts' python3."""
    return subprocess.run(
        ["python3", str(SCRIPT), "--config", str(config), "--directory", str(directory),
         "--keep", str(keep)],
        capture_output=True, text=True, timeout=60,
    )


@contextmanager
def connected(hosts: str) -> Iterator[KazooClient]:
    client = KazooClient(hosts=hosts, timeout=10)
    client.start(timeout=10)
    try:
        yield client
    finally:
        client.stop()


def write_znodes(client: KazooClient, count: int) -> None:
    for number in range(count):
        client.create(f"/platform/backup-test/{number}", b"value %d" % number, makepath=True)


def read_znodes(client: KazooClient) -> dict[str, bytes]:
    return {
        name: client.get(f"/platform/backup-test/{name}")[0]
        for name in client.get_children("/platform/backup-test")
    }


def restore(archive: Path, data_dir: Path) -> None:
    """The documented restore on a stopped member: version-2 emptied, the archive unpacked."""
    shutil.rmtree(data_dir / "version-2")
    with tarfile.open(archive) as files:
        files.extractall(data_dir, filter="data")


def test_an_archive_restored_into_an_emptied_data_dir_brings_back_every_znode(
    tmp_path, zookeeper_member
):
    # Snapshots and log rolls every few transactions: the archive must pick the newest
    # snapshot and the logs ZooKeeper replays over it.
    with zookeeper_member.config.open("a") as config:
        config.write("snapCount=10\n")
    zookeeper_member.start()
    with connected(zookeeper_member.hosts) as client:
        write_znodes(client, 40)
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)

    saved = backup(zookeeper_member.config, backups)

    assert saved.returncode == 0, saved.stderr
    (archive,) = backups.iterdir()
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert saved.stdout.startswith(f"saved {archive}: snapshot.")
    version_2 = zookeeper_member.data_dir / "version-2"
    with tarfile.open(archive) as files:
        names = [Path(name).name for name in files.getnames()]
    snapshots = sorted(version_2.glob("snapshot.*"), key=lambda path: int(path.suffix[1:], 16))
    assert [name for name in names if name.startswith("snapshot.")] == [snapshots[-1].name]
    assert 0 < len(names) - 1 < len(list(version_2.glob("log.*")))
    zookeeper_member.stop()
    restore(archive, zookeeper_member.data_dir)
    zookeeper_member.start()
    with connected(zookeeper_member.hosts) as client:
        assert read_znodes(client) == {str(number): b"value %d" % number for number in range(40)}


def test_a_record_being_written_is_left_out_and_the_rest_restores(tmp_path, zookeeper_member):
    zookeeper_member.start()
    with connected(zookeeper_member.hosts) as client:
        write_znodes(client, 3)
        # Stopped before the session's close is logged: the last record creates znode 2.
        zookeeper_member.stop()
    # That record half written, as a copy taken while ZooKeeper appends to its preallocated
    # (zero-filled) log finds it: its last bytes and its end-of-record mark still zero.
    (log,) = (zookeeper_member.data_dir / "version-2").glob("log.*")
    records_end = len(log.read_bytes().rstrip(bytes(1)))
    with log.open("r+b") as torn:
        torn.seek(records_end - 8)
        torn.write(bytes(8))
    backups = tmp_path / "backups"
    backups.mkdir()

    saved = backup(zookeeper_member.config, backups)

    assert saved.returncode == 0, saved.stderr
    restore(next(backups.iterdir()), zookeeper_member.data_dir)
    zookeeper_member.start()
    with connected(zookeeper_member.hosts) as client:
        assert read_znodes(client) == {"0": b"value 0", "1": b"value 1"}


def test_the_newest_keep_archives_stay_and_other_files_too(tmp_path, zookeeper_member):
    zookeeper_member.start()
    backups = tmp_path / "backups"
    backups.mkdir()
    older = [backups / f"zookeeper-2020010{day}T000000Z.tar.gz" for day in range(1, 6)]
    for path in older + [backups / "notes.txt"]:
        path.write_text("x")

    assert backup(zookeeper_member.config, backups, keep=3).returncode == 0

    names = sorted(path.name for path in backups.iterdir())
    assert names[:3] == ["notes.txt", older[-2].name, older[-1].name]
    (new,) = names[3:]
    assert new.startswith("zookeeper-2") and new not in {path.name for path in older}


def test_a_data_dir_without_a_complete_snapshot_fails_and_leaves_no_archive(tmp_path):
    version_2 = tmp_path / "data" / "version-2"
    version_2.mkdir(parents=True)
    # A snapshot ZooKeeper is still writing: no trailer yet.
    (version_2 / "snapshot.5").write_bytes(b"ZKSN" + bytes(60))
    config = tmp_path / "zoo.cfg"
    config.write_text(f"dataDir={tmp_path / 'data'}\n")
    backups = tmp_path / "backups"
    backups.mkdir()

    failed = backup(config, backups)

    assert failed.returncode == 1
    assert failed.stderr.strip() == (
        f"zookeeper-backup failed: no complete snapshot.<zxid> in {version_2}"
    )
    assert list(backups.iterdir()) == []


def test_every_member_saves_its_data_on_a_timer_and_no_other_host_does(minion):
    control = minion("dc1-control-1", ["control"], datacenters=SHAPES["one-dc"]).highstate()
    compute = minion("dc1-compute-1", ["compute"], datacenters=SHAPES["one-dc"]).highstate()

    timer = state_arguments(control, "zookeeper-backup-timer-service-running")

    assert timer["name"] == "zookeeper-backup.timer" and timer["enable"] is True
    assert not [state_id for state_id in compute if state_id.startswith("zookeeper-backup")]


def test_defaults_are_daily_fourteen_archives_in_var_backups_zookeeper(control_plane):
    rendered = control_plane(3).show_sls("zookeeper.backup")

    directory = state_arguments(rendered, "zookeeper-backup-timer-file-directory")
    script = state_arguments(rendered, "zookeeper-backup-timer-file-managed-script")
    unit = state_arguments(rendered, "zookeeper-backup-timer-file-managed-timer")

    assert (directory["name"], directory["mode"]) == ("/var/backups/zookeeper", "0700")
    assert (script["name"], script["mode"]) == ("/usr/local/lib/zookeeper/zookeeper-backup", "0755")
    assert unit["name"] == "/etc/systemd/system/zookeeper-backup.timer"
    config = unit["context"]["config"]
    assert (config["on_calendar"], config["randomized_delay_sec"], config["keep"]) == (
        "daily", 3600, 14
    )


def test_the_timer_and_service_carry_the_pillar_settings(control_plane, tmp_path):
    host = control_plane(3)
    rendered = host.show_sls("zookeeper.backup", pillar=PILLAR)

    service = host.render_managed_file(
        rendered, "zookeeper-backup-timer-file-managed-service", tmp_path / "service"
    )
    timer = host.render_managed_file(
        rendered, "zookeeper-backup-timer-file-managed-timer", tmp_path / "timer"
    )

    assert "Type=oneshot" in service.splitlines()
    assert "After=zookeeper.service" in service.splitlines()
    assert (
        "ExecStart=/usr/local/lib/zookeeper/zookeeper-backup --config /etc/zookeeper/conf/zoo.cfg"
        " --directory /srv/zookeeper-backups --keep 5"
    ) in service.splitlines()
    assert {"OnCalendar=*-*-* 03:00:00", "RandomizedDelaySec=600", "Persistent=true",
            "WantedBy=timers.target"} <= set(timer.splitlines())
    directory = state_arguments(rendered, "zookeeper-backup-timer-file-directory")
    assert directory["name"] == "/srv/zookeeper-backups"


def test_clean_stops_the_timer_and_removes_its_files_but_keeps_the_archives(control_plane):
    host = control_plane(3)
    removed_data = {"zookeeper": {**PILLAR["zookeeper"], "clean": {"remove_data": True}}}

    kept = host.show_sls("zookeeper.clean", pillar=PILLAR)
    all_gone = host.show_sls("zookeeper.clean", pillar=removed_data)

    timer = state_arguments(kept, "zookeeper-backup-clean-service-dead")
    assert (timer["name"], timer["enable"]) == ("zookeeper-backup.timer", False)
    absent = {
        state_arguments(kept, state_id)["name"]
        for state_id in kept
        if state_id.startswith("zookeeper-backup-clean-file-absent-")
    }
    assert absent == {
        "/etc/systemd/system/zookeeper-backup.timer",
        "/etc/systemd/system/zookeeper-backup.service",
        "/usr/local/lib/zookeeper/zookeeper-backup",
    }
    directory = state_arguments(all_gone, "zookeeper-backup-clean-file-absent-directory")
    assert directory["name"] == "/srv/zookeeper-backups"


def test_a_disabled_backup_removes_the_timer(control_plane):
    disabled = {"zookeeper": {"backup": {"enabled": False}}}

    rendered = control_plane(3).show_sls("zookeeper.backup", pillar=disabled)

    assert "zookeeper-backup-clean-service-dead" in rendered
    assert not [state_id for state_id in rendered if state_id.startswith("zookeeper-backup-timer")]
