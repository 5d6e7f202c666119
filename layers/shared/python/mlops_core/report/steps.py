"""Each Task state's duration, from the execution's event history (Step Functions' GetExecutionHistory shape).

A state's time runs from its TaskStateEntered to its TaskStateExited, retries included. A state left by a
caught error may have no exit event: it ends where the next state begins. The state still running (the report
step itself) has no duration yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

_FAILURES = ("Failed", "TimedOut")


def step_durations(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per Task state entered, in order: {"step", "started", "seconds", "attempts", "outcome"}.

    `outcome` is "succeeded", "failed" (its last attempt failed) or "running" (no end yet, `seconds` None).
    Events without a usable timestamp or state name are skipped: durations are an aid, never a reason to fail.
    """
    steps: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for event in events:
        kind, at = str(event.get("type") or ""), event.get("timestamp")
        if not isinstance(at, datetime):
            continue
        if kind.endswith("StateEntered"):
            if current is not None:
                _close(current, at, failed=True)
            name = (event.get("stateEnteredEventDetails") or {}).get("name")
            current = None
            if kind.startswith("Task") and isinstance(name, str):
                current = {"step": name, "started": at, "seconds": None, "attempts": 0, "outcome": "running"}
                steps.append(current)
        elif current is None:
            continue
        elif kind.endswith("Scheduled"):  # LambdaFunctionScheduled / TaskScheduled: one per attempt
            current["attempts"] += 1
            current["failed"] = False
        elif kind.endswith(_FAILURES) and not kind.startswith("Execution"):
            current["failed"] = True
        elif kind.endswith("StateExited"):
            _close(current, at, failed=current.get("failed", False))
            current = None
    return [_public(step) for step in steps]


def _close(step: dict[str, Any], at: datetime, *, failed: bool) -> None:
    step["seconds"] = round(max((at - step["started"]).total_seconds(), 0.0), 3)
    step["outcome"] = "failed" if failed else "succeeded"


def _public(step: dict[str, Any]) -> dict[str, Any]:
    started: datetime = step["started"]
    return {
        "step": step["step"],
        "started": started.isoformat(timespec="milliseconds"),
        "seconds": step["seconds"],
        "attempts": max(step["attempts"], 1),
        "outcome": step["outcome"],
    }
