"""promote_if_better: move the production alias only when the offline and the online gate both passed."""

from __future__ import annotations

from typing import Any

from mlops_core.contracts import PromotionOutput
from mlops_core.pipeline.context import step_output
from mlops_core.policy import decide_promotion
from mlops_core.registry import PRODUCTION, ModelRegistry


def run(state: dict[str, Any]) -> PromotionOutput:
    training, evaluation, ab_test = (step_output(state, key) for key in ("training", "evaluation", "ab_test"))
    registry = ModelRegistry(model_name=training["model_name"])
    decision = decide_promotion(evaluation, ab_test)
    current = registry.version_for(PRODUCTION)
    previous = None if current is None else str(current.version)
    if not decision.promote:
        return PromotionOutput(
            promoted=False,
            reason=decision.reason,
            model_name=registry.model_name,
            previous_version=previous,
            new_version=None,
        )
    test = evaluation.get("statistical_test") or {}
    evidence = {
        "run_id": state["run_id"],
        "offline": {k: test.get(k) for k in ("p_value", "observed_delta", "mean_delta", "ci_low", "ci_high", "n")},
        "offline_reason": evaluation.get("reason"),
        "staging_f1_macro": evaluation["staging_metrics"]["f1_macro"],
        "production_f1_macro": (evaluation.get("production_metrics") or {}).get("f1_macro"),
        "ab": {
            "f1_macro": ab_test.get("f1_macro"),
            "requests": ab_test.get("requests"),
            "reason": ab_test.get("reason"),
        },
    }
    # One alias move: Production is either the old version or the new one, never in between.
    record = registry.promote(
        training["model_version"],
        actor=state.get("execution_arn") or state["run_id"],
        reason=decision.reason,
        evidence=evidence,
    )
    return PromotionOutput(
        promoted=True,
        reason=decision.reason,
        model_name=registry.model_name,
        previous_version=record.previous_version,
        new_version=str(record.version),
    )
