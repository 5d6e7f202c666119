"""promote_if_better: promote, keep waiting or retire the candidate, from both gates, and record why on it.

The gates are recomputed from the figures the steps stored, not read from their `passed` flags, so a report can
always be traced back to the numbers it shows. Every outcome is written on the candidate's MLflow version and
run (tags and metrics), a blocked one too. The alias move is conditional on Production still being the version
the decision was made against: two runs that both pass cannot both promote.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlops_core import gate_tags
from mlops_core.contracts import PromotionOutput
from mlops_core.exceptions import ProductionChangedError
from mlops_core.pipeline.context import step_output, training_output
from mlops_core.policy import (
    NO_STATISTICAL_TEST,
    OFFLINE_PASSES,
    PRODUCTION_CHANGED,
    Decision,
    GateResult,
    decide_promotion,
    offline_gate,
    online_gate,
)
from mlops_core.variants import STAGING

if TYPE_CHECKING:
    from mlops_core.pipeline.deps import Deps

SECONDS_PER_DAY = 86_400.0


def run(state: dict[str, Any], deps: Deps) -> PromotionOutput:
    registry, settings = deps.registry, deps.settings
    ab_test = step_output(state, "ab_test")
    pending = state.get("pending") or {}
    if pending.get("found"):
        verdict = pending.get("offline_verdict") or NO_STATISTICAL_TEST
        offline = GateResult(verdict in OFFLINE_PASSES, verdict)
        candidate, expected = str(pending["version"]), ab_test.get("production_version")
        evaluation: dict[str, Any] = {}
    else:
        evaluation = step_output(state, "evaluation")
        candidate, expected = str(training_output(state, deps)["model_version"]), evaluation["production_version"]
        offline = offline_gate(evaluation.get("decision"), has_production=expected is not None)
    answered = int(ab_test["requests"].get(STAGING, 0)) - int(ab_test["errors"].get(STAGING, 0))
    online = online_gate(
        ab_test.get("evidence"), answered, has_production=ab_test.get("production_version") is not None
    )
    waited = (deps.clock.now() - datetime.fromisoformat(ab_test["staged_at"])).total_seconds() / SECONDS_PER_DAY
    decision = decide_promotion(offline, online, waited_days=waited, pending_max_days=settings.pending_max_days)

    actor = state.get("execution_arn") or state["run_id"]
    # The gates' verdicts first; gate.state only once the registry says where the candidate now stands.
    tags = {gate_tags.OFFLINE: offline.reason, gate_tags.ONLINE: online.reason, gate_tags.DECISION: decision.reason}
    if decision.outcome == "pending":
        tags[gate_tags.STATE] = gate_tags.PENDING
    if not pending.get("found"):
        tags[gate_tags.STAGED_AT] = ab_test["staged_at"]
        tags[gate_tags.RUN_ID] = state["run_id"]
    registry.record_evidence(candidate, metrics=evidence_metrics(evaluation, ab_test), tags=tags)

    previous = registry.production_version()
    new_version = None
    if decision.outcome == "promoted":
        try:
            record = registry.promote(
                candidate,
                actor=actor,
                reason=decision.reason,
                evidence=promotion_evidence(state["run_id"], evaluation, ab_test),
                expected_production=expected,
            )
        except ProductionChangedError:
            # Both gates compared the candidate with a Production model that is no longer Production: their
            # evidence says nothing about the new one. Retire it; a later drifted batch trains afresh.
            decision = Decision("blocked", PRODUCTION_CHANGED)
            registry.record_evidence(candidate, metrics={}, tags={gate_tags.DECISION: decision.reason})
        else:
            previous, new_version = record.previous_version, str(record.version)
            registry.record_evidence(candidate, metrics={}, tags={gate_tags.STATE: gate_tags.PROMOTED})
    if decision.outcome == "blocked":
        registry.retire(candidate, actor=actor, reason=decision.reason)
    return PromotionOutput(
        promoted=decision.promote,
        outcome=decision.outcome,
        reason=decision.reason,
        model_name=registry.model_name,
        candidate_version=candidate,
        previous_version=previous,
        new_version=new_version,
    )


_METRIC_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")


def evidence_metrics(evaluation: dict[str, Any], ab_test: dict[str, Any]) -> dict[str, float]:
    """The figures both gates decided on, as MLflow metrics of the candidate's run (numbers only)."""
    metrics: dict[str, float] = {}
    decision = evaluation.get("decision") or {}
    for key in ("f1_production", "f1_candidate", "observed_delta", "p_value", "lower_bound", "mde", "alpha_t", "n"):
        if isinstance(decision.get(key), int | float):
            metrics[f"gate.offline.{key}"] = float(decision[key])
    if isinstance(decision.get("required_n"), int):
        metrics["gate.offline.required_n"] = float(decision["required_n"])
    for check in decision.get("classes") or []:
        label = _METRIC_KEY.sub("_", str(check["label"]))[:100]
        metrics[f"gate.class.{label}.f1_candidate"] = float(check["f1_candidate"])
        metrics[f"gate.class.{label}.delta"] = float(check["delta"])
    for side, figures in (
        ("staging", evaluation.get("staging_metrics")),
        ("production", evaluation.get("production_metrics")),
    ):
        for key, value in (figures or {}).items():
            metrics[f"holdout.{side}.{key}"] = float(value)
    evidence = ab_test.get("evidence") or {}
    for key in ("pairs", "staging_only", "production_only", "both_correct", "both_wrong"):
        if isinstance(evidence.get(key), int):
            metrics[f"gate.online.{key}"] = float(evidence[key])
    test = evidence.get("test") or {}
    for key in ("p_non_inferior", "p_inferior"):
        if isinstance(test.get(key), int | float):
            metrics[f"gate.online.{key}"] = float(test[key])
    return metrics


def promotion_evidence(run_id: str, evaluation: dict[str, Any], ab_test: dict[str, Any]) -> dict[str, Any]:
    """The figures both gates decided on, recorded with the promotion in the registry."""
    decision = evaluation.get("decision") or {}
    evidence = ab_test.get("evidence") or {}
    return {
        "run_id": run_id,
        "offline": {
            k: decision.get(k)
            for k in ("verdict", "test", "p_value", "alpha_t", "observed_delta", "lower_bound", "n", "mde")
        },
        "offline_reason": evaluation.get("reason") or "staged earlier",
        "staging_f1_macro": (evaluation.get("staging_metrics") or {}).get("f1_macro"),
        "production_f1_macro": (evaluation.get("production_metrics") or {}).get("f1_macro"),
        "online": {
            "pairs": evidence.get("pairs"),
            "staging_only": evidence.get("staging_only"),
            "production_only": evidence.get("production_only"),
            "verdict": (evidence.get("test") or {}).get("verdict"),
            "reason": ab_test.get("reason"),
        },
    }
