"""``scripts/status [--json] [--saltfile FILE] [--roster-file FILE] [TARGET]``: every host's
``platform.status`` through salt-ssh (the repository's Saltfile and its roster unless told),
folded per datacenter. Exit 0 when
every datacenter is healthy, 1 otherwise."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from .fold import fold, healthy, table

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="status", description=__doc__)
    parser.add_argument("target", nargs="?", default="*")
    parser.add_argument("--json", action="store_true", help="print the summaries as JSON")
    parser.add_argument("--saltfile", default=str(REPO / "Saltfile"))
    parser.add_argument("--roster-file", help="the roster (default: the Saltfile's)")
    args = parser.parse_args(argv)
    roster = [f"--roster-file={Path(args.roster_file).resolve()}"] if args.roster_file else []
    salt_ssh = Path(sys.executable).with_name("salt-ssh")
    finished = subprocess.run(
        [str(salt_ssh), "--saltfile", args.saltfile, *roster, args.target, "platform.status",
         "--out=json", "--static"],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )
    try:
        answers = json.loads(finished.stdout)
    except json.JSONDecodeError:
        print(f"salt-ssh gave no JSON (exit {finished.returncode}):\n{finished.stderr[-2000:]}",
              file=sys.stderr)
        return 2
    answers = {
        host: answer.get("return", answer)
        if isinstance(answer, dict) and "retcode" in answer else answer
        for host, answer in answers.items()
    }
    summaries = fold(answers)
    print(json.dumps(summaries, indent=1, sort_keys=True) if args.json else table(summaries))
    return 0 if all(healthy(s) for dc, s in summaries.items() if dc != "?") and "?" not in \
        summaries else 1


if __name__ == "__main__":
    sys.exit(main())
