"""Runs of the pipeline on the fakes: the iris dataset seeded into an in-memory data store, simulated batches,
and run states built step by step through the real services, as the state machine would build them."""

from __future__ import annotations

from typing import Any

from mlops_core.data import read_table, seed_dataset, simulate_drift, write_batch
from mlops_core.pipeline import check_drift, train
from mlops_core.pipeline.deps import Deps

DATASET = "iris"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:mlops-pipeline"


def envelope(run_id: str = "run-1", **run_input: Any) -> dict[str, Any]:
    """What the state machine's StartRun state passes to the first step."""
    return {
        "run_id": run_id,
        "execution_arn": f"{EXECUTION}:{run_id}",
        "started_at": "2026-11-28T06:00:00.000Z",
        "input": {"dataset": DATASET, **run_input},
    }


def seed(deps: Deps) -> None:
    seed_dataset(deps.data, DATASET)


def add_batch(deps: Deps, *, strength: float = 1.5, seed: int = 11, rows: int = 300, fmt: str = "parquet") -> str:
    """A simulated batch under the dataset's current/ prefix; strength 0 draws it like the baseline."""
    from mlops_core.data import load_dataset_config

    config = load_dataset_config(deps.data, DATASET)
    baseline = read_table(deps.data, config.baseline_key)
    batch, _ = simulate_drift(baseline, target=config.target, seed=seed, strength=strength, rows=rows)
    return write_batch(deps.data, DATASET, batch, fmt, seed=seed)  # type: ignore[arg-type]


def drifted(deps: Deps, run_id: str = "run-1", **batch: Any) -> dict[str, Any]:
    """A seeded dataset, a drifted batch, and the state after check_data_drift."""
    if not deps.data.head(f"datasets/{DATASET}/dataset.json"):
        seed(deps)
    add_batch(deps, **batch)
    state = envelope(run_id)
    state["drift"] = check_drift.run(state, deps)
    return state


def trained(deps: Deps, run_id: str = "run-1", **batch: Any) -> dict[str, Any]:
    """The state after train_model registered a candidate (the fake trainer's model) as staging."""
    state = drifted(deps, run_id, **batch)
    state["training"] = train.run(state, deps)
    return state


def holdout(deps: Deps, state: dict[str, Any]) -> tuple[Any, list[str]]:
    """(feature frame, labels) of the run's held-out rows."""
    from mlops_core.pipeline.holdout import load_holdout

    return load_holdout(deps.data, state["training"]["holdout_key"], "species")
