"""run_ab_test: the online gate, on rows nobody trained on or tested offline.

A new candidate's own online rows (train_model's third part), or, for a candidate already waiting in Staging,
this run's labelled batch, go through the running API's /predict in batches, each row with its own user id so
the sticky split spreads them over the variants. The API scores every request with both models (shadow mode)
and records both answers under the prediction id; the labels go back through /feedback, which counts each
labelled request as a pair. The gate is then the paired sequential test (`stats.sequential`) on ALL pairs the
API has counted for this candidate against this Production model: this run's, earlier runs', and live
traffic's. It is always valid, so looking after every run does not inflate its error rate.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from mlops_core.contracts import AbTestOutput, OnlineEvidence
from mlops_core.data import read_table
from mlops_core.pipeline.context import run_context, step_output, training_output
from mlops_core.pipeline.handler import log_event
from mlops_core.pipeline.holdout import load_holdout
from mlops_core.policy import online_gate
from mlops_core.stats import classification_metrics
from mlops_core.stats.sequential import paired_sequential_test
from mlops_core.variants import PRODUCTION, STAGING, VARIANTS

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.pipeline.deps import Deps

PARALLEL_REQUESTS = 4
BATCH_ROWS = 250  # well under the API's MAX_BATCH, so one slow batch costs little to retry
AWAIT_SECONDS = 60  # the API's alias cache lives 5 s per instance; a deployed API may be cold too
UNROUTED = "unrouted"  # rows of batches the API refused or never answered, and answers naming no variant


def run(state: dict[str, Any], deps: Deps) -> AbTestOutput:
    ctx = run_context(state, deps)
    target = ctx.config.target
    pending = state.get("pending") or {}
    if pending.get("found"):
        mode, staging_version, staged_at = "pending_candidate", str(pending["version"]), str(pending["staged_at"])
        production_version = deps.registry.production_version()
        features, labels = _batch_rows(state, deps, target)
    else:
        training, evaluation = training_output(state, deps), step_output(state, "evaluation")
        mode, staging_version = "new_candidate", str(training["model_version"])
        staged_at = deps.clock.now().isoformat()
        production_version = evaluation.get("production_version")
        features, labels = load_holdout(deps.data, training["online_key"], target)
    traffic = _send(ctx.run_id, deps, features, labels, staging_version, production_version)

    evidence = None
    if production_version is not None:
        # DynamoDB hands counters back as Decimal: the test takes integers.
        counts = {k: int(v) for k, v in deps.api.paired_evidence(str(production_version), staging_version).items()}
        test = paired_sequential_test(
            counts["staging_only"],
            counts["production_only"],
            counts["both_correct"] + counts["both_wrong"],
            margin=deps.settings.online_margin,
            alpha=deps.settings.alpha,
        )
        evidence = OnlineEvidence(
            production_version=str(production_version),
            staging_version=staging_version,
            pairs=counts["pairs"],
            both_correct=counts["both_correct"],
            staging_only=counts["staging_only"],
            production_only=counts["production_only"],
            both_wrong=counts["both_wrong"],
            test=test.to_dict(),
        )
    gate = online_gate(evidence, traffic["answered_staging"], has_production=production_version is not None)
    return AbTestOutput(
        mode=mode,
        staging_version=staging_version,
        production_version=None if production_version is None else str(production_version),
        api_url=deps.api.base_url,
        production_share=traffic["share"],
        sample_size=traffic["sample"],
        requests=traffic["requests"],
        errors=traffic["errors"],
        f1_macro=traffic["f1"],
        accuracy=traffic["accuracy"],
        feedback_lost=traffic["lost"],
        evidence=evidence,
        staged_at=staged_at,
        passed=gate.passed,
        reason=gate.reason,
    )


def _batch_rows(state: dict[str, Any], deps: Deps, target: str) -> tuple[pd.DataFrame, list[str]]:
    """A waiting candidate was trained on an earlier batch: this run's labelled batch is fresh evidence."""
    drift = step_output(state, "drift")
    categorical = [c for c, kind in (drift.get("column_kinds") or {}).items() if kind == "cat" and c != target]
    batch = read_table(deps.data, drift["batch_key"], categorical=categorical)
    return batch.drop(columns=[target]), batch[target].astype(str).tolist()


def _send(
    run_id: str,
    deps: Deps,
    features: pd.DataFrame,
    labels: list[str],
    staging_version: str,
    production_version: str | None,
) -> dict[str, Any]:
    """The rows through /predict, their labels through /feedback; what each variant answered, scored."""
    sample = min(len(labels), deps.settings.ab_test_sample_size)
    # The rows are already a random stratified draw of the batch: the first ones are a fair sample.
    records = [_json_safe(row) for row in features.head(sample).to_dict(orient="records")]
    labels = labels[:sample]
    api = deps.api
    expected_version = {STAGING: staging_version, PRODUCTION: production_version}
    # Rows answered by another version (the API's alias cache is a few seconds old) would be errors, not
    # evidence: give the API the time to pick up the candidate first.
    serving = {variant: version for variant, version in expected_version.items() if version is not None}
    if not api.await_versions(serving, AWAIT_SECONDS):
        log_event(step="run_ab_test", phase="warning", run_id=run_id, api_serves_other_versions=serving)
    share = api.get_traffic()
    user_ids = [f"{run_id}-{i}" for i in range(sample)]
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
        log_event(step="run_ab_test", phase="warning", run_id=run_id, feedback_lost=lost)

    scores = {v: classification_metrics(*zip(*answered[v], strict=True)) if answered[v] else None for v in VARIANTS}
    return {
        "share": share,
        "sample": sample,
        "requests": requests_by_variant,
        "errors": errors,
        "lost": lost,
        "answered_staging": len(answered[STAGING]),
        "f1": {v: None if scores[v] is None else scores[v]["f1_macro"] for v in VARIANTS},
        "accuracy": {v: None if scores[v] is None else scores[v]["accuracy"] for v in VARIANTS},
    }


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
