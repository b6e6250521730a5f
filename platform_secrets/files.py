"""The secrets' directory and files: private modes, atomic writes, YAML in and out.

Every file is written to a temporary file in the same directory (mode 0600 from the start) and
renamed over the old one, so that a reader or a crash sees the old file or the new one, never a
part. Nothing here puts a file's content into a message: a YAML error names only its line.
"""

import contextlib
import fcntl
import os
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml

from . import Refusal

PILLAR_FILE = "secrets.sls"
CA_KEY_FILE = "consul-ca.key"
# `#!yaml`: Salt reads the file as plain YAML, without the default Jinja pass over secrets.
RENDERER_LINE = "#!yaml"
HEADER = f"""{RENDERER_LINE}
# The site's secrets, made by `scripts/secrets init DIR` (docs/secrets.md). Keep this file
# private (mode 0600, git-ignored, backed up). Run the command again to add what is missing:
# it never replaces a value; comments are not kept. Never commit it.
"""


def private_directory(directory: Path) -> list[str]:
    """Create ``directory`` (0700) or check it: ours, writable by no one else, 0700. Returns
    what it fixed."""
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True)
        directory.chmod(0o700)
        return []
    if not directory.is_dir():
        raise Refusal(f"{directory} is not a directory")
    status = directory.stat()
    if status.st_uid != os.geteuid():
        raise Refusal(
            f"{directory} belongs to uid {status.st_uid}, not to uid {os.geteuid()} who runs "
            "this: its owner could read or replace the secrets; choose a directory of your own"
        )
    mode = stat.S_IMODE(status.st_mode)
    if mode & stat.S_IWOTH:
        raise Refusal(
            f"{directory} is writable by every user (mode {mode:04o}): anyone could replace the "
            "secrets; choose a directory of your own"
        )
    return _restrict(directory)


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold ``directory`` for this run: a second run at the same time waits, rather than make
    other values for the same keys."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def private_file(path: Path) -> list[str]:
    """Make an existing file 0600 (or closer) if others may read it. Returns what it fixed."""
    return _restrict(path) if path.exists() else []


def _restrict(path: Path) -> list[str]:
    """Take every right of group and others away."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077 == 0:
        return []
    path.chmod(mode & ~0o077)
    return [f"{path}: mode {mode:04o} -> {mode & ~0o077:04o}"]


def read_pillar(path: Path) -> dict:
    """The pillar file's document ({} when there is none yet)."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise Refusal(f"{path} is not a regular file: it is replaced on write, so it must be one")
    if not path.exists():
        return {}
    text = path.read_text()
    first_line = text.split("\n", 1)[0].strip()
    if first_line.startswith("#!") and first_line != RENDERER_LINE:
        raise Refusal(
            f"{path} is rendered by {first_line[2:]!r}: this command writes plain YAML and would "
            "add clear values to it; make them in a private directory and encrypt them "
            "(docs/secrets.md)"
        )
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        # Not the error itself: PyYAML quotes the offending line, which may hold a secret.
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise Refusal(f"{path} is not valid YAML{where}: mend or restore it") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise Refusal(f"{path} holds a {type(document).__name__}, not a mapping: restore it")
    return document


class _Dumper(yaml.SafeDumper):
    """Multi-line values (the CA certificate) as literal blocks, readable as they are."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_pillar(document: dict) -> bytes:
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
    return (HEADER + body).encode()


def write_private(path: Path, data: bytes, *, replace: bool) -> None:
    """Write ``data`` to ``path`` (mode 0600) atomically. With ``replace`` false an existing
    file is never overwritten: that is how the CA key is written."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise Refusal(f"{path} appeared while this ran: run the command again") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def not_git_ignored(paths: list[Path]) -> list[Path]:
    """Those of ``paths`` that lie in a git work tree and that git does not ignore (or tracks)."""
    exposed = []
    for path in paths:
        try:
            answer = subprocess.run(
                ["git", "-C", str(path.parent), "check-ignore", "-q", "--", path.name],
                capture_output=True,
                check=False,
            )
        except FileNotFoundError:
            return []
        # 0: ignored; 1: not ignored; 128: not in a work tree.
        if answer.returncode == 1:
            exposed.append(path)
    return exposed
