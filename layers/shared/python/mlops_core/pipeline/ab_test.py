"""run_ab_test: the online gate. Held-out rows go through the running API's /predict in batches, each row with
its own user id so the API's sticky split spreads them over the variants, labels kept back; each variant is
then scored on the rows it answered, and the labels go back through /feedback, in batches too, so the API's
own A/B statistics measure online quality as well."""

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

PARALLEL_REQUESTS = 4
BATCH_ROWS = 250  # well under the API's MAX_BATCH, so one slow batch costs little to retry
AWAIT_SECONDS = 60  # the API's alias cache lives 5 s per instance; a deployed API may be cold too
UNROUTED = "unrouted"  # rows of batches the API refused or never answered, and answers naming no variant


def run(state: dict[str, Any], deps: Deps) -> AbTestOutput:
    ctx = run_context(state, deps)
    training, evaluation = training_output(state, deps), step_output(state, "evaluation")
    features, labels = load_holdout(deps.data, training["holdout_key"], ctx.config.target)
    # The held-out rows are already a random stratified draw of the batch: the first ones are a fair sample.
    sample = min(len(labels), deps.settings.ab_test_sample_size)
    records = [_json_safe(row) for row in features.head(sample).to_dict(orient="records")]
    labels = labels[:sample]
    api = deps.api
    expected_version = {STAGING: str(training["model_version"]), PRODUCTION: evaluation.get("production_version")}
    # Rows answered by another version (the API's alias cache is a few seconds old) would be errors, not
    # evidence: give the API the time to pick up the candidate first.
    serving = {variant: version for variant, version in expected_version.items() if version is not None}
    if not api.await_versions(serving, AWAIT_SECONDS):
        log_event(step="run_ab_test", phase="warning", run_id=ctx.run_id, api_serves_other_versions=serving)
    share = api.get_traffic()
    user_ids = [f"{ctx.run_id}-{i}" for i in range(sample)]
    starts = range(0, sample, BATCH_ROWS)

    def predict(at: int) -> list[dict[str, Any]] | None:
        return api.predict_batch(records[at : at + BATCH_ROWS], user_ids[at : at + BATCH_ROWS])

    with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
        batches = list(pool.map(predict, starts))
    answers: list[dict[str, Any] | None] = []
    for at, batch in zip(starts, batches, strict=True):
        answers.extend(batch if batch is not None else [None] * len(records[at : at + BATCH_ROWS]))

    answered: dict[str, list[tuple[str, str]]] = {v: [] for v in VARIANTS}
    errors = dict.fromkeys((*VARIANTS, UNROUTED), 0)
    requests_by_variant = dict.fromkeys(VARIANTS, 0)
    feedback: list[tuple[str, str]] = []
    for answer, label in zip(answers, labels, strict=True):
        if answer is None or answer.get("variant") not in VARIANTS:
            errors[UNROUTED] += 1
            continue
        variant = answer["variant"]
        requests_by_variant[variant] += 1
        # A row answered by another version than the one under test (a stale API cache) says nothing of it.
        if str(answer.get("model_version")) != str(expected_version[variant]):
            errors[variant] += 1
            continue
        answered[variant].append((label, str(answer["prediction"])))
        feedback.append((answer["prediction_id"], label))
    # One feedback batch at a time: each adds to the same few counter items, and concurrent transactions on
    # them cancel each other (TransactionConflict) until a batch runs past the gateway's 29 s.
    chunks = [feedback[at : at + BATCH_ROWS] for at in range(0, len(feedback), BATCH_ROWS)]
    statuses = [status for chunk in chunks for status in api.feedback_batch(chunk)]
    lost = sum(status in ("lost", "rejected") for status in statuses)
    if lost:
        log_event(step="run_ab_test", phase="warning", run_id=ctx.run_id, feedback_lost=lost)

    scores = {v: classification_metrics(*zip(*answered[v], strict=True)) if answered[v] else None for v in VARIANTS}
    f1 = {v: None if scores[v] is None else scores[v]["f1_macro"] for v in VARIANTS}
    accuracy = {v: None if scores[v] is None else scores[v]["accuracy"] for v in VARIANTS}
    gate = online_gate(f1[PRODUCTION], f1[STAGING], has_production=evaluation.get("production_version") is not None)
    return AbTestOutput(
        api_url=api.base_url,
        production_share=share,
        sample_size=sample,
        requests=requests_by_variant,
        errors=errors,
        f1_macro=f1,
        accuracy=accuracy,
        feedback_lost=lost,
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
