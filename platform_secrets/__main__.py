"""``scripts/secrets init DIR``: make the site's secrets once; print what it did, by name."""

import argparse
import os
import sys
from pathlib import Path

from . import Refusal, make


def report(outcome: make.Outcome) -> None:
    """One line per thing, by name: created, kept or fixed; never a value."""
    for fixed in outcome.fixed:
        print(f"fixed   {fixed}")
    action = "created" if outcome.ca_key_created else "kept   "
    print(f"{action} {outcome.ca_key_file} (the Consul CA's private key; never in pillar)")
    for name in outcome.created:
        print(f"created {name}")
    for name in outcome.kept:
        print(f"kept    {name}")
    counts = f"{len(outcome.created)} created, {len(outcome.kept)} kept"
    if outcome.written:
        print(f"wrote   {outcome.pillar_file} (mode 0600): {counts}")
    else:
        print(f"unchanged {outcome.pillar_file}: {counts}")
    for path in outcome.not_ignored:
        print(
            f"warning: {path} is in a git work tree and git does not ignore it: add it to "
            ".gitignore and never commit it",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/secrets", description="The site's secrets, made once (docs/secrets.md)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    init = commands.add_parser(
        "init",
        help="make what DIR lacks, keep what it has",
        description=(
            "Write every secret the site lacks into DIR/secrets.sls (pillar key `secrets`) and "
            "the Consul CA's private key into DIR/consul-ca.key, both mode 0600 in a 0700 "
            "directory; keep every value already there. Prints names, never values."
        ),
    )
    init.add_argument("directory", metavar="DIR", type=Path)
    args = parser.parse_args(argv)
    # Whatever this process creates (DIR's missing parents too) is private.
    os.umask(0o077)
    try:
        outcome = make.init(args.directory)
    except (Refusal, OSError) as err:
        print(f"secrets: {err}", file=sys.stderr)
        return 1
    report(outcome)
    return 0


if __name__ == "__main__":
    sys.exit(main())
