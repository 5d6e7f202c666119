"""The promotion policy: a candidate replaces Production only if it wins offline and holds up online.

Pure functions over the step outputs (`contracts.EvaluationOutput`, `contracts.AbTestOutput`). Every outcome
carries a stable snake_case reason that the report and the API show as is.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from mlops_core.contracts import StatisticalTest

NO_PRODUCTION_MODEL: Final = "no_production_model"
# offline gate (evaluate_candidate)
SIGNIFICANT_IMPROVEMENT: Final = "significant_improvement"
NOT_SIGNIFICANT: Final = "not_significant"
NO_STATISTICAL_TEST: Final = "no_statistical_test"
# online gate (run_ab_test)
STAGING_NOT_WORSE: Final = "staging_not_worse"
STAGING_WORSE: Final = "staging_worse"
NO_AB_DATA: Final = "no_ab_data"
# the decision, when both gates pass with a Production model in place
BETTER_OFFLINE_AND_ONLINE: Final = "better_offline_and_online"


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reason: str


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def offline_gate(test: StatisticalTest | None, has_production: bool) -> GateResult:
    """Passes a first model outright; otherwise only a significant ΔF1-macro on the held-out rows."""
    if not has_production:
        return GateResult(True, NO_PRODUCTION_MODEL)
    if test is None:
        # The contract only allows a missing test when nothing is in Production: refuse rather than guess.
        return GateResult(False, NO_STATISTICAL_TEST)
    significant = test.get("significant")
    if not isinstance(significant, bool):
        raise ValueError(f"statistical_test.significant must be a bool, got {significant!r}")
    return GateResult(True, SIGNIFICANT_IMPROVEMENT) if significant else GateResult(False, NOT_SIGNIFICANT)


def _figure(value: Any, name: str) -> float | None:
    """An F1 figure (DynamoDB's Decimal included), or None when the A/B test has none for that variant."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal):
        raise ValueError(f"{name} must be a number or None, got {value!r}")
    value = float(value)
    return None if math.isnan(value) else value


def online_gate(f1_production: float | None, f1_staging: float | None, has_production: bool) -> GateResult:
    """Staging must score at least Production's F1-macro on live traffic. A first model needs no comparison,
    but it must have answered through the API at all: a candidate the API never served proves nothing online."""
    production = _figure(f1_production, "f1_production")
    staging = _figure(f1_staging, "f1_staging")
    if staging is None:
        return GateResult(False, NO_AB_DATA)
    if not has_production:
        return GateResult(True, NO_PRODUCTION_MODEL)
    if production is None:
        return GateResult(False, NO_AB_DATA)
    return GateResult(True, STAGING_NOT_WORSE) if staging >= production else GateResult(False, STAGING_WORSE)


def _section(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping, got {type(value).__name__}")
    return value


def decide_promotion(evaluation: Mapping[str, Any], ab_test: Mapping[str, Any]) -> Decision:
    """Promote iff both gates pass. The gates are recomputed from the figures, not read from the steps'
    `passed` flags, so a report can always be traced back to the numbers it shows.

    Blocked decisions carry the failing gate's reason (offline first); a promotion carries
    "no_production_model" for a first model, else "better_offline_and_online".
    """
    evaluation = _section(evaluation, "evaluation")
    ab_test = _section(ab_test, "ab_test")
    if "production_version" not in evaluation:
        raise ValueError("evaluation lacks production_version")
    has_production = evaluation["production_version"] is not None
    offline = offline_gate(evaluation.get("statistical_test"), has_production)
    if not offline.passed:
        return Decision(False, offline.reason)
    f1 = _section(ab_test.get("f1_macro", {}), "ab_test.f1_macro")
    online = online_gate(f1.get("production"), f1.get("staging"), has_production)
    if not online.passed:
        return Decision(False, online.reason)
    return Decision(True, NO_PRODUCTION_MODEL if not has_production else BETTER_OFFLINE_AND_ONLINE)
