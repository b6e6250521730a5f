"""``scripts/salt-ssh ARGS``: check the roster salt-ssh would use (``--roster-file``, else the
Saltfile's), then run salt-ssh with ARGS. One line per problem, exit 2, and salt-ssh does not
run."""

import os
import sys
from pathlib import Path

import yaml

from .roster import problems

REPO = Path(__file__).resolve().parent.parent


def option(argv: list[str], name: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in salt-ssh's arguments."""
    for index, argument in enumerate(argv):
        if argument.startswith(f"{name}="):
            return argument.split("=", 1)[1]
        if argument == name and index + 1 < len(argv):
            return argv[index + 1]
    return None


def roster_file(argv: list[str], saltfile: Path) -> Path:
    given = option(argv, "--roster-file")
    if given:
        return Path(given)
    settings = yaml.safe_load(saltfile.read_text()) or {}
    return Path(settings["salt-ssh"]["roster_file"])


def main(argv: list[str]) -> int:
    saltfile = Path(option(argv, "--saltfile") or os.environ.get("SALT_SALTFILE", "Saltfile"))
    if not saltfile.is_file():
        print(f"salt-ssh: no {saltfile} here: run from the repository root ({REPO})",
              file=sys.stderr)
        return 2
    roster = roster_file(argv, saltfile)
    if not roster.is_file():
        print(f"salt-ssh: roster {roster} does not exist: give --roster-file or fix "
              f"roster_file in {saltfile}", file=sys.stderr)
        return 2
    found = problems(yaml.safe_load(roster.read_text()) or {}, roster)
    for problem in found:
        print(f"salt-ssh: {problem}", file=sys.stderr)
    if found:
        return 2
    salt_ssh = Path(sys.executable).with_name("salt-ssh")
    os.execv(salt_ssh, [str(salt_ssh), *argv])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
