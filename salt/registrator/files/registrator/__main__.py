"""``python3 -m registrator [--config FILE]``: run the registrator until SIGTERM."""

import argparse
import logging
import queue
import signal
import sys
import threading

from .agent import STOP, Config, Registrator, watch_events

DEFAULT_CONFIG = "/etc/registrator/config.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="registrator", description=__doc__)
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"default {DEFAULT_CONFIG}")
    args = parser.parse_args(argv)
    config = Config.load(args.config)
    # journald stamps the time.
    logging.basicConfig(level=config.log_level, format="%(levelname)s %(message)s")
    inbox: queue.Queue = queue.Queue()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: inbox.put(STOP))
    threading.Thread(
        target=watch_events, args=(config, inbox), name="docker-events", daemon=True
    ).start()
    Registrator(config).run(inbox)
    return 0


if __name__ == "__main__":
    sys.exit(main())
