#!/usr/bin/python3
# Managed by Salt (zookeeper formula): local changes are overwritten.
"""Save a ZooKeeper member's data as one tar.gz (mode 0600) in a backup directory and keep
the newest --keep of them.

ZooKeeper's documented data-directory backup: the newest complete snapshot.<zxid> of
dataDir/version-2 (snapshots are fuzzy) and every log.<zxid> of dataLogDir/version-2 that
ZooKeeper replays over it (the one that starts at or before the snapshot's zxid and all
later ones), both under version-2/ in the archive. A member appends to its newest log while
this runs; a record cut short at the copy's end is one ZooKeeper skips on loading ("Last
transaction was partial"), as after a crash. Debian's ZooKeeper 3.8 has no admin `snapshot`
command (it came with 3.9), so this works on every release the formula installs.

Restore: docs/operations.md (ZooKeeper backups and the restore).
"""

from __future__ import annotations

import argparse
import os
import re
import struct
import sys
import tarfile
import time
from pathlib import Path

SNAPSHOT = re.compile(r"^snapshot\.([0-9a-f]+)$")
LOG = re.compile(r"^log\.([0-9a-f]+)$")
# A snapshot ends with its checksum and this trailer once ZooKeeper has finished writing it.
SNAPSHOT_TRAILER = struct.pack(">iB", 1, ord("/"))
ARCHIVE = re.compile(r"^zookeeper-\d{8}T\d{6}Z\.tar\.gz$")


def read_config(path: Path) -> tuple[Path, Path]:
    """dataDir/version-2 and dataLogDir/version-2 (dataDir unless set) of zoo.cfg."""
    settings = {}
    for line in path.read_text().splitlines():
        key, equals, value = line.partition("=")
        if equals and not key.lstrip().startswith(("#", "!")):
            settings[key.strip()] = value.strip()
    if "dataDir" not in settings:
        raise ValueError(f"{path} sets no dataDir")
    data_dir = Path(settings["dataDir"])
    return data_dir / "version-2", Path(settings.get("dataLogDir", data_dir)) / "version-2"


def by_zxid(directory: Path, pattern: re.Pattern) -> list[tuple[int, Path]]:
    """The files of ``directory`` named by ``pattern``, oldest zxid first."""
    found = [(pattern.match(path.name), path) for path in directory.iterdir()]
    return sorted((int(match[1], 16), path) for match, path in found if match)


def newest_snapshot(snapshot_dir: Path) -> tuple[int, Path]:
    """The newest snapshot that ZooKeeper has finished writing, and its zxid."""
    for zxid, path in reversed(by_zxid(snapshot_dir, SNAPSHOT)):
        with path.open("rb") as snapshot:
            if snapshot.seek(0, os.SEEK_END) > 10:
                snapshot.seek(-len(SNAPSHOT_TRAILER), os.SEEK_END)
                if snapshot.read() == SNAPSHOT_TRAILER:
                    return zxid, path
    raise ValueError(f"no complete snapshot.<zxid> in {snapshot_dir}")


def logs_after(log_dir: Path, snapshot_zxid: int) -> list[Path]:
    """The logs ZooKeeper replays over the snapshot (as its FileTxnLog.getLogFiles)."""
    logs = by_zxid(log_dir, LOG)
    start = max((zxid for zxid, _ in logs if zxid <= snapshot_zxid), default=0)
    return [path for zxid, path in logs if zxid >= start]


def save(config: Path, directory: Path) -> str:
    """Write the archive; return what it holds, in words."""
    snapshot_dir, log_dir = read_config(config)
    snapshot_zxid, snapshot = newest_snapshot(snapshot_dir)
    logs = logs_after(log_dir, snapshot_zxid)
    target = directory / time.strftime("zookeeper-%Y%m%dT%H%M%SZ.tar.gz", time.gmtime())
    partial = directory / f".{target.name}.partial"
    try:
        # Created 0600: the data holds every znode, ACL digests included.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz") as archive:
                for path in [snapshot, *logs]:
                    archive.add(path, arcname=f"version-2/{path.name}")
            raw.flush()
            os.fsync(raw.fileno())
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)
    return f"saved {target}: {snapshot.name} and {len(logs)} transaction log(s)"


def prune(directory: Path, keep: int) -> None:
    """Remove all but the newest ``keep`` archives (their names sort by time)."""
    archives = sorted(path for path in directory.iterdir() if ARCHIVE.match(path.name))
    for path in archives[: max(len(archives) - keep, 0)]:
        path.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="the member's zoo.cfg")
    parser.add_argument("--directory", type=Path, required=True, help="where archives go")
    parser.add_argument("--keep", type=int, required=True, help="how many archives stay")
    args = parser.parse_args()
    if args.keep < 1:
        parser.error("--keep must be at least 1")
    try:
        print(save(args.config, args.directory))
        prune(args.directory, args.keep)
    except (OSError, ValueError, tarfile.TarError) as error:
        print(f"zookeeper-backup failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
