"""Run the product's own salt-ssh against the lab, as an operator would, and sum up."""

import json
import subprocess
import time
from dataclasses import dataclass, field

from .inventory import SALTFILE
from .paths import LAB_DIR, REPO, VENV_BIN

LAST_RUN = LAB_DIR / "last-highstate.json"


@dataclass
class HostResult:
    """What one host's highstate did: states that changed, states that failed, or an error."""

    name: str
    states: int = 0
    changed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed and not self.error


def salt_ssh(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    """``salt-ssh`` with the lab's Saltfile, from the repository root."""
    return subprocess.run(
        [str(VENV_BIN / "salt-ssh"), "--saltfile", str(SALTFILE), *args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


def highstate(target: str = "*", test: bool = False) -> dict[str, HostResult]:
    """Apply (or with ``test`` dry-run) the highstate on the target; keep the raw answer."""
    args = [target, "state.highstate", "--out=json", "--static"]
    if test:
        args.append("test=True")
    started = time.monotonic()
    finished = salt_ssh(*args)
    LAST_RUN.write_text(finished.stdout + finished.stderr)
    try:
        answer = json.loads(finished.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(
            f"salt-ssh gave no JSON (exit {finished.returncode}) after "
            f"{time.monotonic() - started:.0f} s:\n{finished.stdout[-3000:]}{finished.stderr[-3000:]}"
        ) from None
    return {name: summarise(name, returned) for name, returned in answer.items()}


def summarise(name: str, returned) -> HostResult:
    result = HostResult(name)
    if isinstance(returned, dict) and "return" in returned and "retcode" in returned:
        returned = returned["return"]
    if not isinstance(returned, dict):
        result.error = "\n".join(returned) if isinstance(returned, list) else str(returned)
        return result
    if not returned:
        result.error = "no state applied: salt/top.sls gives this host nothing"
        return result
    for state_key, state in returned.items():
        if not isinstance(state, dict) or "result" not in state:
            result.error = f"{state_key}: {state}"
            continue
        result.states += 1
        state_id = state.get("__id__", state_key)
        if state["result"] is False:
            result.failed.append(f"{state_id}: {state.get('comment', '')}")
        elif state.get("changes"):
            result.changed.append(state_id)
    return result
