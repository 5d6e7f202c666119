"""The promotion policy: a candidate replaces Production only if it wins offline and holds up online.

Pure functions over the step outputs (`contracts.EvaluationOutput`, `contracts.AbTestOutput`). Every outcome
carries a stable snake_case reason that the report and the API show as is.

The offline gate is the pre-registered test of `decision.offline` (its verdict is the reason). The online gate is
the paired sequential test of `stats.sequential` on the requests both models answered (shadow mode): it may not
be decided yet, and then the candidate waits in Staging, its evidence accumulating, until a later run promotes
or retires it (or it has waited `pending_max_days`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

NO_PRODUCTION_MODEL: Final = "no_production_model"
# offline gate (evaluate_candidate): the verdicts of decision.offline
SIGNIFICANT_IMPROVEMENT: Final = "significant_improvement"
NOT_SIGNIFICANT: Final = "not_significant"
NO_STATISTICAL_TEST: Final = "no_statistical_test"
OFFLINE_PASSES: Final = (SIGNIFICANT_IMPROVEMENT, NO_PRODUCTION_MODEL)
# online gate (run_ab_test): the verdicts of stats.sequential, and the stage's own failures
NON_INFERIOR: Final = "non_inferior"
INFERIOR: Final = "inferior"
CONTINUE: Final = "continue"
NO_AB_DATA: Final = "no_ab_data"
ONLINE_PASSES: Final = (NON_INFERIOR, NO_PRODUCTION_MODEL)
# the decision
BETTER_OFFLINE_AND_ONLINE: Final = "better_offline_and_online"
AWAITING_ONLINE_EVIDENCE: Final = "awaiting_online_evidence"
ONLINE_UNDECIDED_TOO_LONG: Final = "online_undecided_too_long"
PRODUCTION_CHANGED: Final = "production_changed"  # Production moved between the decision and the alias move

Outcome = Literal["promoted", "pending", "blocked"]


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reason: str


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: str

    @property
    def promote(self) -> bool:
        return self.outcome == "promoted"


def offline_gate(decision: Mapping[str, Any] | None, has_production: bool) -> GateResult:
    """Passes a first model outright; otherwise only the offline test's significant_improvement verdict."""
    if not has_production:
        return GateResult(True, NO_PRODUCTION_MODEL)
    if decision is None:
        # The contract only allows a missing test when nothing is in Production: refuse rather than guess.
        return GateResult(False, NO_STATISTICAL_TEST)
    verdict = decision.get("verdict")
    if not isinstance(verdict, str):
        raise ValueError(f"evaluation.decision.verdict must be a string, got {verdict!r}")
    return GateResult(verdict == SIGNIFICANT_IMPROVEMENT, verdict)


def online_gate(evidence: Mapping[str, Any] | None, answered: int, has_production: bool) -> GateResult:
    """A first model must have answered through the API at all (a candidate the API never served proves
    nothing online); otherwise the paired sequential test's verdict: non_inferior passes, inferior fails, and
    continue is not a pass (it keeps the candidate waiting)."""
    if not has_production:
        return GateResult(answered > 0, NO_PRODUCTION_MODEL if answered > 0 else NO_AB_DATA)
    if evidence is None:
        return GateResult(False, NO_AB_DATA)
    verdict = _section(evidence.get("test"), "ab_test.evidence.test").get("verdict")
    if verdict not in (NON_INFERIOR, INFERIOR, CONTINUE):
        raise ValueError(
            f"ab_test.evidence.test.verdict must be one of non_inferior, inferior, continue, got {verdict!r}"
        )
    return GateResult(verdict == NON_INFERIOR, verdict)


def _section(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping, got {type(value).__name__}")
    return value


def decide_promotion(
    offline: GateResult, online: GateResult, *, waited_days: float = 0.0, pending_max_days: float = 14.0
) -> Decision:
    """Promote iff both gates pass. Offline failures block (the offline verdict is the reason); an online test
    that is not decided yet keeps the candidate pending, until it has waited pending_max_days; an online
    failure blocks. A promotion carries "no_production_model" for a first model, else
    "better_offline_and_online"."""
    if not offline.passed:
        return Decision("blocked", offline.reason)
    if online.reason == CONTINUE:
        if waited_days >= pending_max_days:
            return Decision("blocked", ONLINE_UNDECIDED_TOO_LONG)
        return Decision("pending", AWAITING_ONLINE_EVIDENCE)
    if not online.passed:
        return Decision("blocked", online.reason)
    first = offline.reason == NO_PRODUCTION_MODEL
    return Decision("promoted", NO_PRODUCTION_MODEL if first else BETTER_OFFLINE_AND_ONLINE)
