"""promote_if_better: move the production alias only when the offline and the online gate both passed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_core.contracts import PromotionOutput
from mlops_core.pipeline.context import step_output, training_output
from mlops_core.policy import decide_promotion

if TYPE_CHECKING:
    from mlops_core.pipeline.deps import Deps


def run(state: dict[str, Any], deps: Deps) -> PromotionOutput:
    training = training_output(state, deps)
    evaluation, ab_test = step_output(state, "evaluation"), step_output(state, "ab_test")
    registry = deps.registry
    decision = decide_promotion(evaluation, ab_test)
    previous = registry.production_version()
    if not decision.promote:
        return PromotionOutput(
            promoted=False,
            reason=decision.reason,
            model_name=registry.model_name,
            previous_version=previous,
            new_version=None,
        )
    # One alias move: Production is either the old version or the new one, never in between.
    record = registry.promote(
        str(training["model_version"]),
        actor=state.get("execution_arn") or state["run_id"],
        reason=decision.reason,
        evidence=promotion_evidence(state["run_id"], evaluation, ab_test),
    )
    return PromotionOutput(
        promoted=True,
        reason=decision.reason,
        model_name=registry.model_name,
        previous_version=record.previous_version,
        new_version=str(record.version),
    )


def promotion_evidence(run_id: str, evaluation: dict[str, Any], ab_test: dict[str, Any]) -> dict[str, Any]:
    """The figures both gates decided on, recorded with the promotion in the registry."""
    test = evaluation.get("statistical_test") or {}
    return {
        "run_id": run_id,
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
