#!/usr/bin/python3
"""Report the Docker engine's health to the local Consul agent as a node check.

Consul 1.8 can probe a Docker engine only through a script check (disabled by default, and
it runs whatever a registration names) or through a TCP port (Docker's API on TCP gives root
to whoever reaches it). So the agent holds a TTL check, and this probe, run by a systemd
timer, asks the engine's unix socket for ``GET /_ping`` and reports passing or critical. When
the probe stops running, the TTL runs out and the check turns critical by itself.

The check is registered when it is missing or its notes (which state socket, interval and
TTL) differ. The probe exits non-zero only when it cannot report. ``--is-passing`` only
answers, by its exit code, whether the check is registered as configured and passing;
``--deregister`` removes it. Uses the standard library only (every host has python3).
"""

import argparse
import http.client
import json
import socket
import sys
import urllib.request

NAME = "Docker engine"


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over the engine's unix socket."""

    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def engine_status(socket_path: str, timeout: float) -> tuple[str, str]:
    """("passing" | "critical", what the engine answered)."""
    connection = UnixHTTPConnection(socket_path, timeout)
    try:
        connection.request("GET", "/_ping")
        response = connection.getresponse()
        body = response.read(200).decode(errors="replace")
    except OSError as err:
        return "critical", f"GET /_ping on {socket_path}: {err}"
    finally:
        connection.close()
    if response.status == 200:
        return "passing", f"GET /_ping on {socket_path}: {body}"
    return "critical", f"GET /_ping on {socket_path}: HTTP {response.status} {body}"


def consul(args: argparse.Namespace, method: str, path: str, payload=None):
    """One request to the agent's HTTP API; the decoded JSON answer, if any."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(f"{args.consul_url}{path}", data=data, method=method)
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as token:
            request.add_header("X-Consul-Token", token.read().strip())
    with urllib.request.urlopen(request, timeout=args.timeout) as response:
        body = response.read()
    return json.loads(body) if body else None


def notes(args: argparse.Namespace) -> str:
    return (f"GET /_ping on {args.socket} every {args.interval} by docker-consul-check.timer; "
            f"critical when it fails or after {args.ttl} without a report")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consul-url", default="http://127.0.0.1:8500")
    parser.add_argument("--token-file", default="", help="file of the ACL token to present")
    parser.add_argument("--socket", default="/run/docker.sock")
    parser.add_argument("--check-id", default="docker")
    parser.add_argument("--interval", default="10s", help="how often the timer runs the probe")
    parser.add_argument("--ttl", default="30s")
    parser.add_argument("--timeout", type=float, default=5, help="seconds per request")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--is-passing", action="store_true")
    action.add_argument("--deregister", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        checks = consul(args, "GET", "/v1/agent/checks")
        current = checks.get(args.check_id)
        registered = current is not None and current.get("Notes") == notes(args)
        if args.is_passing:
            return 0 if registered and current.get("Status") == "passing" else 1
        if args.deregister:
            if current is not None:
                consul(args, "PUT", f"/v1/agent/check/deregister/{args.check_id}")
            return 0
        if not registered:
            consul(args, "PUT", "/v1/agent/check/register", {
                "ID": args.check_id, "Name": NAME, "Notes": notes(args), "TTL": args.ttl,
            })
        status, output = engine_status(args.socket, args.timeout)
        consul(args, "PUT", f"/v1/agent/check/update/{args.check_id}",
               {"Status": status, "Output": output})
    except (OSError, ValueError) as err:
        print(f"Consul agent at {args.consul_url}: {err}", file=sys.stderr)
        return 2
    # Reported: the probe did its job, whatever the engine's state.
    print(f"{args.check_id}: {status}: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
