"""A dataset brought with `mlops dataset add` and a batch brought with `mlops dataset batch`, as those commands
write them (intake, then publish_dataset and write_batch), are what the pipeline's first two steps read: on the
in-memory fakes, with scikit-learn's wine set (a column name with a slash in it, integer-free float features)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from mlops_core.data import write_batch
from mlops_core.data.intake import prepare_baseline, prepare_batch
from mlops_core.data.publish import publish_dataset
from mlops_core.pipeline import check_drift, train

from tests.fakes import fake_deps
from tests.support.wine import wine_frame

RUN = {
    "run_id": "run-1",
    "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:mlops-pipeline:run-1",
    "started_at": "2026-11-28T06:00:00.000Z",
}


@pytest.fixture
def wine() -> pd.DataFrame:
    return wine_frame()


def test_a_drifted_batch_of_an_added_dataset_is_detected_and_trained_on(wine: pd.DataFrame) -> None:
    deps: Any = fake_deps(settings={"dataset": "wine", "model_name": "wine-classifier"})
    intake, config = prepare_baseline(
        wine.to_csv(index=False).encode(), source="wine.csv", name="wine", target="cultivar"
    )
    publish_dataset(deps.data, intake.frame, config)
    shifted = wine.sample(120, random_state=4)
    features = list(wine.columns[:-1])
    shifted[features] = shifted[features] + wine[features].std()  # every feature one standard deviation up
    batch = prepare_batch(
        shifted.to_csv(index=False).encode(), source="batch.csv", config=config, baseline=intake.frame
    )
    key = write_batch(deps.data, "wine", batch.frame, config.format)

    state: dict[str, Any] = {**RUN, "input": {"dataset": "wine", "batch_key": key}}
    state["drift"] = check_drift.run(state, deps)

    drift = state["drift"]
    assert drift["batch_key"] == key and drift["batch_rows"] == 120 and drift["reference_rows"] == 178
    assert drift["detected"] is True
    assert drift["column_kinds"] == {**{c: "num" for c in wine.columns[:-1]}, "cultivar": "cat"}
    assert drift["columns"]["od280/od315_of_diluted_wines"]["status"] == "tested"

    training = train.run(state, deps)
    assert training["baseline_rows"] == 178
    (call,) = deps.trainer.calls
    assert call["target"] == "cultivar" and call["categorical"] == []


def test_text_columns_of_an_added_dataset_go_to_the_model_but_are_not_tested_for_drift(wine: pd.DataFrame) -> None:
    """A free-text feature (a name per row) is left out of `categorical`, so the drift check excludes it with its
    reason instead of finding every batch drifted on names it never saw; the model still gets it."""
    deps: Any = fake_deps(settings={"dataset": "wine", "model_name": "wine-classifier"})
    named = wine.assign(label=[f"bottle {i}" for i in range(len(wine))], cellar=["north", "south"] * (len(wine) // 2))
    intake, config = prepare_baseline(
        named.to_csv(index=False).encode(), source="wine.csv", name="wine", target="cultivar"
    )
    assert intake.text == ["label"] and config.categorical == ["cellar"]
    publish_dataset(deps.data, intake.frame, config)
    quiet = named.sample(120, random_state=4).assign(label=[f"new bottle {i}" for i in range(120)])
    batch = prepare_batch(quiet.to_csv(index=False).encode(), source="batch.csv", config=config, baseline=intake.frame)
    key = write_batch(deps.data, "wine", batch.frame, config.format)

    state: dict[str, Any] = {**RUN, "input": {"dataset": "wine", "batch_key": key}}
    drift = check_drift.run(state, deps)

    assert drift["detected"] is False and drift["number_of_drifted_columns"] == 0
    assert "label" not in drift["columns"] and drift["column_kinds"]["label"] == "cat"  # to the model
    assert drift["excluded_columns"]["label"].startswith("text (more than half of its values distinct)")
    assert drift["columns"]["cellar"]["status"] == "tested"

    state["drift"] = drift
    train.run(state, deps)
    (call,) = deps.trainer.calls
    assert "label" in call["frame"].columns and set(call["categorical"]) == {"label", "cellar"}
