"""run_ab_test: the online gate. The held-out rows go through the running API's /predict under the configured
traffic split, labels kept back; each variant is then scored on the rows it answered, and the labels are sent
back through /feedback so the API's own A/B statistics measure online quality too."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from mlops_core.contracts import AbTestOutput
from mlops_core.pipeline.context import run_context, step_output, training_output
from mlops_core.pipeline.handler import log_event
from mlops_core.pipeline.holdout import load_holdout
from mlops_core.policy import online_gate
from mlops_core.stats import classification_metrics
from mlops_core.variants import PRODUCTION, STAGING, VARIANTS

if TYPE_CHECKING:
    from mlops_core.pipeline.deps import Deps

PARALLEL_REQUESTS = 8
UNROUTED = "unrouted"  # answers that named no known variant, and requests the API refused


def run(state: dict[str, Any], deps: Deps) -> AbTestOutput:
    ctx = run_context(state, deps)
    training, evaluation = training_output(state, deps), step_output(state, "evaluation")
    features, labels = load_holdout(deps.data, training["holdout_key"], ctx.config.target)
    api = deps.api
    share = api.get_traffic()
    records = [_json_safe(row) for row in features.to_dict(orient="records")]
    # One user id per row: the API's sticky hash then spreads the rows over the variants by the split.
    user_ids = [f"{ctx.run_id}-{i}" for i in range(len(records))]
    with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
        responses = list(pool.map(api.predict, records, user_ids))

    expected_version = {STAGING: str(training["model_version"]), PRODUCTION: evaluation.get("production_version")}
    answered: dict[str, list[tuple[str, str]]] = {v: [] for v in VARIANTS}
    errors = dict.fromkeys((*VARIANTS, UNROUTED), 0)
    requests_by_variant = dict.fromkeys(VARIANTS, 0)
    feedback: list[tuple[str, str]] = []
    for response, label in zip(responses, labels, strict=True):
        if response is None or response.get("variant") not in VARIANTS:
            errors[UNROUTED] += 1
            continue
        variant = response["variant"]
        requests_by_variant[variant] += 1
        # A row answered by another version than the one under test (a stale API cache) says nothing of it.
        if str(response.get("model_version")) != str(expected_version[variant]):
            errors[variant] += 1
            continue
        answered[variant].append((label, str(response["prediction"])))
        feedback.append((response["prediction_id"], label))
    with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
        delivered = list(pool.map(lambda item: api.feedback(*item), feedback))
    if not all(delivered):
        log_event(step="run_ab_test", phase="warning", run_id=ctx.run_id, feedback_lost=delivered.count(False))

    scores = {v: classification_metrics(*zip(*answered[v], strict=True)) if answered[v] else None for v in VARIANTS}
    f1 = {v: None if scores[v] is None else scores[v]["f1_macro"] for v in VARIANTS}
    accuracy = {v: None if scores[v] is None else scores[v]["accuracy"] for v in VARIANTS}
    gate = online_gate(f1[PRODUCTION], f1[STAGING], has_production=evaluation.get("production_version") is not None)
    return AbTestOutput(
        api_url=api.base_url,
        production_share=share,
        requests=requests_by_variant,
        errors=errors,
        f1_macro=f1,
        accuracy=accuracy,
        feedback_lost=delivered.count(False),
        passed=gate.passed,
        reason=gate.reason,
    )


def _json_safe(row: dict[str, Any]) -> dict[str, Any]:
    """Missing values travel as JSON null, which the API reads as missing; numpy scalars as plain numbers."""
    import pandas as pd

    safe: dict[str, Any] = {}
    for name, value in row.items():
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            safe[name] = None
        elif hasattr(value, "item"):
            safe[name] = value.item()
        else:
            safe[name] = value
    return safe
