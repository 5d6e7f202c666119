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
