"""The training run as MLflow's users read it: a duration that is the training's, and the data it used as
dataset inputs. A real MLflow sqlite store; the candidate is a small scikit-learn pipeline with the timings
AutoML would have measured."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
from mlops_core.training.register import register_candidate

from tests.support.candidates import small_candidate

MODEL = "iris-classifier"
TRAIN_URIS = ["s3://data/datasets/iris/baseline.parquet", "s3://data/splits/run-7/train.parquet"]
HOLDOUT_URI = "s3://data/splits/run-7/holdout.parquet"


def register(**options) -> dict:
    candidate = replace(small_candidate(), timings={"import": 9.0, "setup": 8.0, "compare": 60.0, "finalize": 8.0})
    return register_candidate(
        candidate,
        model_name=MODEL,
        train_uris=TRAIN_URIS,
        holdout_uri=HOLDOUT_URI,
        drift_summary={"detected": True},
        idempotency_key="iris-run-7",
        params={},
        **options,
    )


def test_the_run_starts_when_training_started_and_ends_after_logging(mlflow_tracking_uri) -> None:
    import mlflow

    before = time.time()
    registration = register()
    after = time.time()

    run = mlflow.MlflowClient().get_run(registration["mlflow_run_id"])
    start, end = run.info.start_time / 1000, run.info.end_time / 1000
    assert before - 85 - 1 <= start <= after - 85  # the 85 s AutoML measured, not the moment logging began
    assert before <= end <= after + 1
    assert end - start >= 85
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "train-iris-run-7"
    assert run.data.tags["idempotency_key"] == "iris-run-7"


def test_a_known_start_is_used_as_is_and_the_run_lands_in_the_named_experiment(
    mlflow_tracking_uri, tmp_path, monkeypatch
) -> None:
    import mlflow

    monkeypatch.chdir(tmp_path)  # a new experiment's artifacts go to ./mlruns on a sqlite store
    started = time.time() - 300
    registration = register(started_at=started, experiment_name="iris-pipeline")

    client = mlflow.MlflowClient()
    run = client.get_run(registration["mlflow_run_id"])
    assert run.info.start_time == int(started * 1000)
    assert run.info.experiment_id == client.get_experiment_by_name("iris-pipeline").experiment_id


def test_the_training_and_held_out_data_are_dataset_inputs_with_uri_and_schema(mlflow_tracking_uri) -> None:
    import mlflow

    run = mlflow.MlflowClient().get_run(register()["mlflow_run_id"])

    inputs = {
        entry.dataset.name: (entry.dataset, {tag.key: tag.value for tag in entry.tags})
        for entry in run.inputs.dataset_inputs
    }
    assert set(inputs) == {
        "datasets/iris/baseline.parquet",
        "splits/run-7/train.parquet",
        "splits/run-7/holdout.parquet",
    }
    contexts = {name: tags["mlflow.data.context"] for name, (_, tags) in inputs.items()}
    assert contexts == {
        "datasets/iris/baseline.parquet": "training",
        "splits/run-7/train.parquet": "training",
        "splits/run-7/holdout.parquet": "evaluation",
    }
    holdout = inputs["splits/run-7/holdout.parquet"][0]
    assert holdout.source_type == "s3"
    assert json.loads(holdout.source) == {"uri": HOLDOUT_URI}
    columns = json.loads(holdout.schema)["mlflow_colspec"]
    assert [(c["name"], c["type"]) for c in columns] == [
        ("sepal length (cm)", "double"),
        ("sepal width (cm)", "double"),
        ("petal length (cm)", "double"),
        ("petal width (cm)", "double"),
        ("species", "string"),
    ]
    assert len({dataset.digest for dataset, _ in inputs.values()}) == 3


def test_a_failure_while_logging_leaves_a_failed_run_and_no_version(mlflow_tracking_uri, monkeypatch) -> None:
    import mlflow
    import mlflow.sklearn

    def broken(*args, **kwargs):
        raise RuntimeError("artifact store unreachable")

    monkeypatch.setattr(mlflow.sklearn, "log_model", broken)
    with pytest.raises(RuntimeError, match="artifact store unreachable"):
        register()
    client = mlflow.MlflowClient()
    runs = client.search_runs(["0"])
    assert [r.info.status for r in runs] == ["FAILED"]
    assert client.search_model_versions(f"name = '{MODEL}'") == []
