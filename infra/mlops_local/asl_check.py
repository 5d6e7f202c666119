"""Static checks of an Amazon States Language definition that moto does not make at create time.

moto accepts a dangling `Next` and fails only when an execution reaches it; checking before deploy turns that
into a deploy error that names the state.
"""

from __future__ import annotations

import re
from typing import Any

_TERMINAL = {"Succeed", "Fail"}
_KNOWN_TYPES = {"Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def check_definition(definition: dict[str, Any], *, substitutions: dict[str, Any] | None = None) -> list[str]:
    """Problems found, as readable sentences; an empty list means the definition is sound."""
    problems: list[str] = []
    _check_machine(definition, "", problems)
    if substitutions is not None and isinstance(definition, dict):
        wanted = set(_PLACEHOLDER.findall(_flatten(definition)))
        for name in sorted(wanted - set(substitutions)):
            problems.append(f"placeholder ${{{name}}} has no DefinitionSubstitutions entry")
    return problems


def _check_machine(machine: dict[str, Any], where: str, problems: list[str]) -> None:
    if not isinstance(machine, dict):
        problems.append(f"{where or 'definition'}: not a JSON object")
        return
    states = machine.get("States")
    start = machine.get("StartAt")
    if not isinstance(states, dict) or not states:
        problems.append(f"{where or 'definition'}: States is missing or empty")
        return
    if start not in states:
        problems.append(f"{where or 'definition'}: StartAt {start!r} is not a state")
    for name, state in states.items():
        label = f"{where}{name}"
        if not isinstance(state, dict):
            problems.append(f"state {label}: not a JSON object")
            continue
        kind = state.get("Type")
        if kind not in _KNOWN_TYPES:
            problems.append(f"state {label}: unknown Type {kind!r}")
            continue
        targets = _targets(state)
        for target in targets:
            if target not in states:
                problems.append(f"state {label}: transition to unknown state {target!r}")
        if kind not in _TERMINAL and kind != "Choice" and not state.get("End") and "Next" not in state:
            problems.append(f"state {label}: needs Next or End")
        if kind == "Choice" and not state.get("Choices"):
            problems.append(f"state {label}: Choice without Choices")
        for branch_index, branch in enumerate(state.get("Branches", [])):
            _check_machine(branch, f"{label}.Branches[{branch_index}].", problems)
        iterator = state.get("ItemProcessor") or state.get("Iterator")
        if iterator:
            _check_machine(iterator, f"{label}.ItemProcessor.", problems)
    unreachable = set(states) - _reachable(states, start)
    for name in sorted(unreachable):
        problems.append(f"state {where}{name}: unreachable from StartAt")


def _targets(state: dict[str, Any]) -> list[str]:
    targets = [state["Next"]] if "Next" in state else []
    targets += [c["Next"] for c in state.get("Choices", []) if "Next" in c]
    targets += [c["Next"] for c in state.get("Catch", []) if "Next" in c]
    if "Default" in state:
        targets.append(state["Default"])
    return targets


def _reachable(states: dict[str, Any], start: Any) -> set[str]:
    seen: set[str] = set()
    frontier = [start] if start in states else []
    while frontier:
        name = frontier.pop()
        if name in seen:
            continue
        seen.add(name)
        if isinstance(states[name], dict):
            frontier.extend(t for t in _targets(states[name]) if t in states)
    return seen


def _flatten(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(_flatten(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_flatten(v) for v in value)
    return value if isinstance(value, str) else ""
