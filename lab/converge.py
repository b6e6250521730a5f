"""Run the product's own salt-ssh against the lab, as an operator would, and sum up."""

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .inventory import SALTFILE
from .paths import LAB_DIR, REPO, VENV_BIN

LAST_RUN = LAB_DIR / "last-highstate.json"
NOTHING_APPLIED = "no state applied: salt/top.sls gives this host nothing"
RENDER_ERROR = re.compile(r"^salt\.exceptions\.\w+: (.+)$", re.MULTILINE)


@dataclass
class HostResult:
    """What one host's highstate did: states that changed, that would change (``result: None``
    in test mode), that failed, or an error; and the seconds its states took, summed."""

    name: str
    states: int = 0
    changed: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.error


def salt_ssh(
    *args: str, timeout: int = 1800, saltfile: Path = SALTFILE
) -> subprocess.CompletedProcess:
    """``salt-ssh`` with the lab's Saltfile (or ``saltfile``), from the repository root."""
    return subprocess.run(
        [str(VENV_BIN / "salt-ssh"), "--saltfile", str(saltfile), *args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


def call(
    target: str,
    function: str,
    *args: str,
    roster: str | None = None,
    saltfile: Path = SALTFILE,
    timeout: int = 1800,
) -> tuple[dict, subprocess.CompletedProcess]:
    """``salt-ssh TARGET FUNCTION ARGS`` with JSON output: every host's answer (without
    salt-ssh's ``return``/``retcode`` wrapping), and the finished process. Keeps the raw
    output in LAST_RUN. ``roster`` replaces the lab's roster file, ``saltfile`` its Saltfile."""
    options = ["--out=json", "--static"] + ([f"--roster-file={roster}"] if roster else [])
    started = time.monotonic()
    finished = salt_ssh(target, function, *args, *options, saltfile=saltfile, timeout=timeout)
    LAST_RUN.write_text(finished.stdout + finished.stderr)
    try:
        answers = json.loads(finished.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(
            f"salt-ssh gave no JSON (exit {finished.returncode}) after "
            f"{time.monotonic() - started:.0f} s:\n{finished.stdout[-3000:]}{finished.stderr[-3000:]}"
        ) from None
    return {name: _unwrapped(answer) for name, answer in answers.items()}, finished


def _unwrapped(answer):
    if isinstance(answer, dict) and "return" in answer and "retcode" in answer:
        return answer["return"]
    return answer


def highstate(
    target: str = "*", test: bool = False, roster: str | None = None, saltfile: Path = SALTFILE
) -> dict[str, HostResult]:
    """Apply (or with ``test`` dry-run) the highstate on the target; keep the raw answer."""
    answers, finished = call(
        target, "state.highstate", *(["test=True"] if test else []),
        roster=roster, saltfile=saltfile,
    )
    results = {name: summarise(name, returned) for name, returned in answers.items()}
    # A top file that fails to render gives the host no state at all: the reason is only in
    # salt-ssh's log, as the exception's message.
    reasons = list(dict.fromkeys(RENDER_ERROR.findall(finished.stderr)))
    for name, result in results.items():
        if result.error == NOTHING_APPLIED and reasons:
            own = [reason for reason in reasons if name in reason] or reasons
            result.error += ": " + "; ".join(own)
    return results


def summarise(name: str, returned) -> HostResult:
    result = HostResult(name)
    if not isinstance(returned, dict):
        result.error = "\n".join(returned) if isinstance(returned, list) else str(returned)
        return result
    if not returned:
        result.error = NOTHING_APPLIED
        return result
    for state_key, state in returned.items():
        if not isinstance(state, dict) or "result" not in state:
            result.error = f"{state_key}: {state}"
            continue
        result.states += 1
        result.seconds += float(state.get("duration") or 0) / 1000
        state_id = state.get("__id__", state_key)
        if state["result"] is False:
            result.failed.append(f"{state_id}: {state.get('comment', '')}")
        elif state["result"] is None:
            result.pending.append(f"{state_id}: {state.get('comment', '')}")
        elif state.get("changes"):
            result.changed.append(state_id)
    return result
