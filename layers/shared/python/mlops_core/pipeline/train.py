"""train_model: split the drifted batch, retrain on baseline + training part, register the candidate as staging."""

from __future__ import annotations

import hashlib
import io
import json
from typing import TYPE_CHECKING, Any

from mlops_core import layout
from mlops_core.contracts import LeaderboardRow, TrainingOutput
from mlops_core.data import put_if_absent, read_table
from mlops_core.exceptions import DataValidationError, InvalidRequestError, NotFoundError
from mlops_core.pipeline.context import run_context, step_output
from mlops_core.training import stratified_split
from mlops_core.training.leaderboard import top_models

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.pipeline.deps import Deps, PipelineSettings


def idempotency_key(dataset: str, batch_key: str, batch_etag: str, profile_prefix: str) -> str:
    """Same dataset, batch content and baseline: same key, so a re-run reuses the version it registered."""
    material = json.dumps([dataset, batch_key, batch_etag.strip('"'), profile_prefix])
    return f"{dataset}-{hashlib.sha256(material.encode()).hexdigest()[:24]}"


def run(state: dict[str, Any], deps: Deps) -> TrainingOutput:
    import pandas as pd

    ctx = run_context(state, deps)
    config, drift, settings = ctx.config, step_output(state, "drift"), deps.settings
    kinds = _column_kinds(drift)
    categorical = [c for c, kind in kinds.items() if kind == "cat" and c != config.target]
    head = deps.data.head(drift["batch_key"])
    if head is None:
        raise NotFoundError(f"batch {deps.data.uri(drift['batch_key'])} no longer exists")
    key = idempotency_key(ctx.dataset, drift["batch_key"], head.etag, drift["profile_prefix"])
    seed = int(key.rsplit("-", 1)[1][:8], 16)

    batch = read_table(deps.data, drift["batch_key"], categorical=categorical)
    train_part, holdout, online = three_way_split(batch, config.target, settings, seed)
    train_key = _write_split(deps, ctx.run_id, "train", train_part)
    holdout_key = _write_split(deps, ctx.run_id, "holdout", holdout)
    online_key = _write_split(deps, ctx.run_id, "online", online)

    # The execution owns the claim: a retried attempt of this step takes it back at once.
    registration = deps.registry.find_registration(key, owner=ctx.run_id)
    plan: dict[str, Any] = {}  # how the training budget was spent; nothing when the version is reused
    leaderboard: list[LeaderboardRow] = []  # a reused version's grid stays in its MLflow run
    if registration is None:
        baseline = read_table(deps.data, config.baseline_key, categorical=categorical)
        columns = list(kinds)
        augmented = pd.concat([baseline[columns], train_part[columns]], ignore_index=True)
        trained = deps.trainer.train(
            augmented,
            config.target,
            categorical=categorical,
            budget_seconds=settings.training_budget_seconds,
            seed=seed % (2**31),
            include=settings.training_models,
            time_left_seconds=_time_left(deps),
        )
        plan = trained.plan
        leaderboard = top_models(trained.leaderboard, trained.plan.get("fit_seconds"))
        registration = deps.registry.register(
            trained,
            train_uris=[deps.data.uri(config.baseline_key), deps.data.uri(train_key)],
            holdout_uri=deps.data.uri(holdout_key),
            drift_summary={k: v for k, v in drift.items() if k not in ("columns", "column_kinds")},
            idempotency_key=key,
            params={
                "dataset": ctx.dataset,
                "run_id": ctx.run_id,
                "seed": seed,
                "baseline_rows": drift["reference_rows"],
            },
        )
    output = TrainingOutput(
        **registration,
        train_key=train_key,
        holdout_key=holdout_key,
        online_key=online_key,
        baseline_rows=drift["reference_rows"],
        train_rows=len(train_part),
        holdout_rows=len(holdout),
        online_rows=len(online),
        leaderboard=leaderboard,
    )
    if plan:
        output["plan"] = plan  # type: ignore[typeddict-item]
    return output


def _time_left(deps: Deps) -> float | None:
    """Seconds training may take: what the invocation has left, less what registration needs after it."""
    if deps.time_left is None:
        return None
    return deps.time_left() - deps.settings.training_reserve_seconds


def three_way_split(
    batch: pd.DataFrame, target: str, settings: PipelineSettings, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(train, offline holdout, online rows), disjoint and each stratified. The online rows are evidence the
    offline test never saw, so the two gates are independent; neither set is ever trained on."""
    held_fraction = settings.holdout_fraction + settings.online_fraction
    if not (settings.online_fraction > 0 and held_fraction < 1):
        raise InvalidRequestError(
            f"holdout_fraction {settings.holdout_fraction} + online_fraction {settings.online_fraction} must stay "
            "below 1, with online_fraction above 0",
            field="online_fraction",
        )
    train_part, held = stratified_split(batch, target, holdout_fraction=held_fraction, seed=seed)
    try:
        holdout, online = stratified_split(
            held, target, holdout_fraction=settings.online_fraction / held_fraction, seed=seed + 1
        )
    except DataValidationError:
        # Too few rows to share (every class held once): the offline test keeps them; the online stage then
        # has only the API's live traffic.
        return train_part, held, held.iloc[:0]
    return train_part, holdout, online


def _column_kinds(drift: dict[str, Any]) -> dict[str, str]:
    kinds = drift.get("column_kinds")
    if not isinstance(kinds, dict) or not kinds or any(k not in ("num", "cat") for k in kinds.values()):
        raise InvalidRequestError(
            "$.drift.column_kinds is missing or malformed: re-run the pipeline from check_data_drift",
            field="drift.column_kinds",
        )
    return kinds


def _write_split(deps: Deps, run_id: str, part: str, frame: pd.DataFrame) -> str:
    key = layout.split_key(run_id, part)
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    # The split is deterministic: a retried step derives the same rows, so the first write stands.
    put_if_absent(deps.data, key, buffer.getvalue())
    return key
