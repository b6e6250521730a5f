"""Fold every host's ``platform.status`` answer into one summary per datacenter, and print it.

Pure functions over the answers salt-ssh returns (``{minion_id: answer}``), so that the
summary of a broken site is tested without breaking one.
"""

from collections import Counter
from typing import Any


def _value(part: Any) -> Any:
    return part.get("value") if isinstance(part, dict) else None


def _error(part: Any) -> str:
    return part.get("error", "") if isinstance(part, dict) else ""


def fold(answers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{datacenter: summary}``; a host whose answer is not a status (unreachable, salt-ssh's
    error text) is listed under ``unreachable`` of the datacenter ``?``."""
    summaries: dict[str, dict[str, Any]] = {}

    def summary_of(datacenter: str) -> dict[str, Any]:
        return summaries.setdefault(datacenter, {
            "hosts": 0, "unreachable": {}, "leaders": set(), "servers": [], "raft_peers": set(),
            "autopilot": None, "zookeeper": {}, "wan_members": {}, "failing_checks": {},
            "agent_errors": {},
        })

    for host, answer in sorted(answers.items()):
        if not (isinstance(answer, dict) and "consul" in answer):
            summary_of("?")["unreachable"][host] = str(answer).strip().splitlines()[-1:] or [""]
            continue
        summary = summary_of(answer.get("datacenter") or "?")
        summary["hosts"] += 1
        consul = _value(answer["consul"])
        if consul is None:
            summary["agent_errors"][host] = _error(answer["consul"])
        else:
            if consul["leader"]:
                summary["leaders"].add(consul["leader"])
            if consul["failing_checks"]:
                summary["failing_checks"][host] = consul["failing_checks"]
            if consul.get("server"):
                summary["servers"].append(host)
                summary["raft_peers"].update(consul.get("raft_peers", []))
                summary["autopilot"] = summary["autopilot"] or consul.get("autopilot")
                summary["wan_members"].update(consul.get("wan_members", {}))
        if "zookeeper" in answer:
            zookeeper = answer["zookeeper"]
            summary["zookeeper"][host] = _value(zookeeper) or f"error: {_error(zookeeper)}"
    for summary in summaries.values():
        summary["leaders"] = sorted(summary["leaders"])
        summary["raft_peers"] = sorted(summary["raft_peers"])
        summary["unreachable"] = {host: lines[0] for host, lines in summary["unreachable"].items()}
    return summaries


def healthy(summary: dict[str, Any]) -> bool:
    """One leader, autopilot healthy, no failing check, every host answering."""
    autopilot = summary["autopilot"] or {}
    return (
        len(summary["leaders"]) == 1
        and autopilot.get("healthy") is True
        and not summary["failing_checks"]
        and not summary["agent_errors"]
        and not summary["unreachable"]
    )


def table(summaries: dict[str, dict[str, Any]]) -> str:
    """A few lines per datacenter, readable at a glance."""
    lines = []
    for datacenter, summary in sorted(summaries.items()):
        if datacenter == "?":
            for host, reason in summary["unreachable"].items():
                lines.append(f"{host}: no answer: {reason}")
            continue
        autopilot = summary["autopilot"] or {}
        modes = Counter(summary["zookeeper"].values())
        lines += [
            f"{datacenter}: {'HEALTHY' if healthy(summary) else 'DEGRADED'} "
            f"({summary['hosts']} hosts answering)",
            f"  consul leader      {', '.join(summary['leaders']) or 'NONE'}",
            f"  raft peers         {len(summary['raft_peers'])}: "
            f"{' '.join(summary['raft_peers'])}",
            f"  autopilot          healthy={autopilot.get('healthy')} "
            f"failure_tolerance={autopilot.get('failure_tolerance')}"
            + (f" unhealthy={','.join(autopilot['unhealthy'])}"
               if autopilot.get("unhealthy") else ""),
            "  zookeeper          "
            + (", ".join(f"{count} {mode}" for mode, count in sorted(modes.items())) or "-"),
            "  wan members        "
            + (", ".join(f"{name} {state}" for name, state in sorted(summary["wan_members"].items()))
               or "-"),
        ]
        for host, checks in sorted(summary["failing_checks"].items()):
            lines.append(f"  failing checks     {host}: {', '.join(checks)}")
        for host, error in sorted(summary["agent_errors"].items()):
            lines.append(f"  consul agent       {host}: {error}")
    return "\n".join(lines)
