"""train_model: split the drifted batch, retrain on baseline + training part, register the candidate as staging."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mlops_core import layout, settings
from mlops_core.contracts import TrainingOutput
from mlops_core.data import put_once, read_table, s3_uri
from mlops_core.pipeline import reference as references
from mlops_core.pipeline.context import run_context, step_output


def idempotency_key(dataset: str, batch_key: str, batch_etag: str, profile_prefix: str) -> str:
    """Same dataset, batch content and baseline: same key, so a re-run reuses the version it registered."""
    material = json.dumps([dataset, batch_key, batch_etag.strip('"'), profile_prefix])
    return f"{dataset}-{hashlib.sha256(material.encode()).hexdigest()[:24]}"


def run(state: dict[str, Any]) -> TrainingOutput:
    import pandas as pd
    from mlflow import MlflowClient

    from mlops_core.training import register_candidate, reuse_registration, stratified_split, train_best_model

    ctx = run_context(state)
    config, drift = ctx.config, step_output(state, "drift")
    reference = references.load_or_build(
        ctx.s3, ctx.data_bucket, config, sample_rows=settings.get_int(settings.DRIFT_REPORT_MAX_ROWS)
    )
    categorical = [c for c in reference.categorical if c != config.target]
    batch_etag = ctx.s3.head_object(Bucket=ctx.data_bucket, Key=drift["batch_key"])["ETag"]
    key = idempotency_key(ctx.dataset, drift["batch_key"], batch_etag, reference.prefix)
    seed = int(key.rsplit("-", 1)[1][:8], 16)

    batch = read_table(ctx.s3, ctx.data_bucket, drift["batch_key"], categorical=categorical)
    train_part, holdout = stratified_split(
        batch, config.target, holdout_fraction=settings.get_float(settings.HOLDOUT_FRACTION), seed=seed
    )
    train_key = _write_split(ctx, "train", train_part)
    holdout_key = _write_split(ctx, "holdout", holdout)
    train_uris = [s3_uri(ctx.data_bucket, config.baseline_key), s3_uri(ctx.data_bucket, train_key)]

    client = MlflowClient()
    registration = reuse_registration(client, ctx.model_name, key)
    baseline_rows = reference.rows
    if registration is None:
        baseline = read_table(ctx.s3, ctx.data_bucket, config.baseline_key, categorical=categorical)
        columns = list(reference.kinds)
        augmented = pd.concat([baseline[columns], train_part[columns]], ignore_index=True)
        trained = train_best_model(
            augmented,
            config.target,
            categorical=categorical,
            budget_seconds=settings.get_float(settings.TRAINING_BUDGET_SECONDS),
            seed=seed % (2**31),
            include=_model_ids(settings.get(settings.TRAINING_MODELS)),
        )
        registration = register_candidate(
            trained,
            model_name=ctx.model_name,
            train_uris=train_uris,
            holdout_uri=s3_uri(ctx.data_bucket, holdout_key),
            drift_summary={k: v for k, v in drift.items() if k != "columns"},
            idempotency_key=key,
            params={"dataset": ctx.dataset, "run_id": ctx.run_id, "seed": seed, "baseline_rows": baseline_rows},
            experiment_name=f"{ctx.dataset}-pipeline",
        )
    return TrainingOutput(
        **registration,
        train_key=train_key,
        holdout_key=holdout_key,
        baseline_rows=baseline_rows,
        train_rows=len(train_part),
        holdout_rows=len(holdout),
    )


def _write_split(ctx: Any, part: str, frame: Any) -> str:
    import io

    key = layout.split_key(ctx.run_id, part)
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    # Deterministic split: a retried step writes the same rows, which put_once accepts.
    put_once(ctx.s3, ctx.data_bucket, key, buffer.getvalue(), same=lambda _: True)
    return key


def _model_ids(raw: str | None) -> list[str] | None:
    ids = [part.strip() for part in (raw or "").split(",") if part.strip()]
    return ids or None
