"""The six pipeline Lambda handlers, event in and dict out, over moto's S3 and DynamoDB, a real MLflow sqlite
registry, real Evidently, real PyCaret and a real HTTP server running the Chalice app.

Training is the slow part, so one module fixture runs the pipeline's first steps twice: run A trains v1 (no
Production yet), v1 is then made Production and run B trains v2 on another drifted batch. Each of those two
points is saved (S3 objects and a copy of the MLflow database) and every test starts from a fresh moto and a
fresh copy of the point it needs, so no test sees another's writes.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlops_core import layout, settings
from mlops_core.contracts import (
    AbTestOutput,
    DriftOutput,
    EvaluationOutput,
    PromotionOutput,
    ReportOutput,
    StatisticalTest,
    TrainingOutput,
)
from mlops_core.exceptions import DataValidationError, InvalidRequestError, NotFoundError
from mlops_core.pipeline import clients

from functions.check_data_drift import app as check_data_drift
from functions.evaluate_candidate import app as evaluate_candidate
from functions.generate_report import app as generate_report
from functions.promote_if_better import app as promote_if_better
from functions.run_ab_test import app as run_ab_test
from functions.train_model import app as train_model
from tests.conftest import AB_TABLE_NAME, AWS_REGION, FakeLambdaContext

EVENTS = Path(__file__).resolve().parents[1] / "events"
DATA_BUCKET = "mlops-data-test"
REPORTS_BUCKET = "mlops-reports-test"
MODEL_NAME = "iris-classifier"
EXPERIMENT = "iris-pipeline"  # the experiment train_model logs into
REPORTS_URL = "http://reports.example.test"
API_KEY = "test-api-key"
DRIFTED = {"strength": 1.5, "rows": 300}
SEED_A, SEED_B = 11, 12
STATE_KEYS = ("run_id", "execution_arn", "started_at", "input")
TRAINS = pytest.mark.slow  # the tests that need the module's trained models


# sample events and run states
def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"step_input_{name}.json").read_text())


def envelope(run_id: str, **run_input: Any) -> dict[str, Any]:
    """What the state machine's StartRun state builds from the execution's name, id, start time and input."""
    base = load_event("check_data_drift")
    arn = base["execution_arn"].rsplit(":", 1)[0]
    return {
        "run_id": run_id,
        "execution_arn": f"{arn}:{run_id}",
        "started_at": base["started_at"],
        "input": {"dataset": "iris", **run_input},
    }


def pipeline_env(mlflow_uri: str | None) -> dict[str, str]:
    env = {
        settings.DATA_BUCKET: DATA_BUCKET,
        settings.REPORTS_BUCKET: REPORTS_BUCKET,
        settings.AB_TABLE: AB_TABLE_NAME,
        settings.DATASET: "iris",
        settings.REPORTS_WEBSITE_URL: REPORTS_URL,
        settings.API_URL: unreachable_url(),  # the A/B tests start their own server
        settings.TRAINING_BUDGET_SECONDS: "30",
        settings.TRAINING_MODELS: "lr,dt",
        settings.BOOTSTRAP_RESAMPLES: "200",
    }
    if mlflow_uri:
        env[settings.MLFLOW_TRACKING_URI] = mlflow_uri
    return env


def unreachable_url() -> str:
    """A URL on a port that was free a moment ago, so nothing answers there."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def aws_env() -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": AWS_REGION,
    }


def s3() -> Any:
    return clients.s3()


def keys_under(bucket: str, prefix: str) -> dict[str, tuple[str, Any]]:
    """{key: (ETag, LastModified)} of every object under prefix."""
    found = {}
    for page in s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            found[obj["Key"]] = (obj["ETag"], obj["LastModified"])
    return found


def keep_versions(bucket: str) -> None:
    """With versioning on, any overwrite leaves a second version behind: "written once" becomes observable even
    when the same bytes are written again within the same second."""
    s3().put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def version_counts(bucket: str, prefix: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for page in s3().get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            counts[version["Key"]] = counts.get(version["Key"], 0) + 1
    return counts


def read_parquet(bucket: str, key: str) -> Any:
    import io

    import pandas as pd

    return pd.read_parquet(io.BytesIO(s3().get_object(Bucket=bucket, Key=key)["Body"].read()))


def baseline_frame() -> Any:
    from mlops_core.data import load_dataset_config, read_table

    config = load_dataset_config(s3(), DATA_BUCKET, "iris")
    return read_table(s3(), DATA_BUCKET, config.baseline_key)


def drifted_batch(seed: int, strength: float = DRIFTED["strength"]) -> Any:
    from mlops_core.data import simulate_drift

    batch, _ = simulate_drift(baseline_frame(), target="species", seed=seed, strength=strength, rows=DRIFTED["rows"])
    return batch


def put_csv(key: str, text: str) -> str:
    s3().put_object(Bucket=DATA_BUCKET, Key=key, Body=text.encode())
    return key


def forget_mlflow_experiment() -> None:
    """mlflow.set_experiment (called by train_model) leaves the experiment id in a global and in the
    environment; other tests' stores do not have it."""
    import mlflow.tracking.fluent as fluent

    fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)


# saved points of the pipeline
@dataclass(frozen=True)
class Snapshot:
    objects: dict[tuple[str, str], tuple[bytes, str | None]]  # (bucket, key) -> (body, content type)
    database: Path

    @classmethod
    def take(cls, database: Path, copy_to: Path) -> Snapshot:
        objects = {}
        for bucket in (DATA_BUCKET, REPORTS_BUCKET):
            for key in keys_under(bucket, ""):
                obj = s3().get_object(Bucket=bucket, Key=key)
                objects[(bucket, key)] = (obj["Body"].read(), obj.get("ContentType"))
        shutil.copyfile(database, copy_to)
        return cls(objects, copy_to)


@dataclass(frozen=True)
class World:
    trained: Snapshot  # run A done: v1 registered as staging, no Production
    challenged: Snapshot  # v1 Production, run B done: v2 registered as staging
    state_a: dict[str, Any]  # run A's state after train_model
    state_b: dict[str, Any]  # run B's state after train_model


def create_buckets() -> None:
    for bucket in (DATA_BUCKET, REPORTS_BUCKET):
        s3().create_bucket(Bucket=bucket)


def create_experiment(uri: str, artifacts: Path) -> None:
    """Created beforehand so the runs' artifacts land in the test's folder, not under the working directory."""
    from mlflow import MlflowClient

    MlflowClient(uri).create_experiment(EXPERIMENT, artifact_location=artifacts.as_uri())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    import mlflow
    from mlops_core.data import seed_dataset, write_table
    from mlops_core.registry import ModelRegistry
    from moto import mock_aws

    folder = tmp_path_factory.mktemp("step-handlers")
    database = folder / "mlflow.db"
    uri = f"sqlite:///{database}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**aws_env(), **pipeline_env(uri)}.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "MODEL_NAME", "MLFLOW_REGISTRY_URI"):
            patch.delenv(name, raising=False)
        mlflow.set_tracking_uri(uri)
        clients.client.cache_clear()
        try:
            with mock_aws():
                create_buckets()
                create_experiment(uri, folder / "artifacts")
                seed_dataset(s3(), DATA_BUCKET, "iris")
                context = FakeLambdaContext()

                # Run A is the drift check's sample event, run B the training step's: each batch is written
                # under the key its sample names.
                state_a = load_event("check_data_drift")
                write_table(s3(), DATA_BUCKET, state_a["input"]["batch_key"], drifted_batch(SEED_A))
                state_a["drift"] = check_data_drift.lambda_handler(state_a, context)
                state_a["training"] = train_model.lambda_handler(state_a, context)
                trained = Snapshot.take(database, folder / "trained.db")

                ModelRegistry(model_name=MODEL_NAME).promote(
                    state_a["training"]["model_version"], actor="test-setup", reason="first model", evidence={}
                )
                state_b = {key: load_event("train_model")[key] for key in STATE_KEYS}
                write_table(s3(), DATA_BUCKET, state_b["input"]["batch_key"], drifted_batch(SEED_B))
                state_b["drift"] = check_data_drift.lambda_handler(state_b, context)
                state_b["training"] = train_model.lambda_handler(state_b, context)
                challenged = Snapshot.take(database, folder / "challenged.db")
        finally:
            clients.client.cache_clear()
            while mlflow.active_run() is not None:
                mlflow.end_run()
            mlflow.set_tracking_uri(None)
            forget_mlflow_experiment()
    yield World(trained, challenged, state_a, state_b)


@dataclass
class Env:
    """One test's resources: empty buckets in a fresh moto, restore() fills them and the registry."""

    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch

    def restore(self, snapshot: Snapshot) -> str:
        import mlflow

        for (bucket, key), (body, content_type) in snapshot.objects.items():
            extra = {"ContentType": content_type} if content_type else {}
            s3().put_object(Bucket=bucket, Key=key, Body=body, **extra)
        database = self.tmp_path / "mlflow.db"
        shutil.copyfile(snapshot.database, database)
        uri = f"sqlite:///{database}"
        self.monkeypatch.setenv(settings.MLFLOW_TRACKING_URI, uri)
        mlflow.set_tracking_uri(uri)
        return uri


@pytest.fixture
def env(aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    import mlflow

    for name, value in pipeline_env(None).items():
        monkeypatch.setenv(name, value)
    for name in ("MODEL_NAME", "MLFLOW_REGISTRY_URI", settings.MLFLOW_TRACKING_URI, settings.MLFLOW_UI_URL):
        monkeypatch.delenv(name, raising=False)
    # Clients are cached per process: build them inside this test's moto.
    clients.client.cache_clear()
    create_buckets()
    yield Env(tmp_path, monkeypatch)
    clients.client.cache_clear()
    mlflow.set_tracking_uri(None)
    forget_mlflow_experiment()


@pytest.fixture
def seeded(env: Env) -> Env:
    from mlops_core.data import seed_dataset

    seed_dataset(s3(), DATA_BUCKET, "iris")
    return env


def registry() -> Any:
    from mlops_core.registry import ModelRegistry

    return ModelRegistry(model_name=MODEL_NAME)


def aliases() -> dict[str, str]:
    from mlflow import MlflowClient

    return {alias: str(version) for alias, version in MlflowClient().get_registered_model(MODEL_NAME).aliases.items()}


def version_count() -> int:
    from mlflow import MlflowClient

    return len(MlflowClient().search_model_versions(f"name = '{MODEL_NAME}'"))


# check_data_drift
def test_drifted_batch_is_detected_and_output_has_exactly_the_contract_keys(seeded, lambda_context) -> None:
    from mlops_core.data import write_table

    state = load_event("check_data_drift")
    key = state["input"]["batch_key"]
    write_table(s3(), DATA_BUCKET, key, drifted_batch(SEED_A))

    out = check_data_drift.lambda_handler(state, lambda_context)

    assert set(out) == set(DriftOutput.__annotations__)
    assert out["detected"] is True
    assert (out["dataset"], out["batch_key"], out["batch_rows"]) == ("iris", key, DRIFTED["rows"])
    assert (out["reference_key"], out["reference_rows"]) == ("datasets/iris/baseline.parquet", 150)
    features = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert list(out["columns"]) == [*features, "species"]
    drifted = [c for c, result in out["columns"].items() if result["drifted"]]
    assert out["number_of_drifted_columns"] == len(drifted) and out["number_of_columns"] == 5
    assert out["share_of_drifted_columns"] == pytest.approx(len(drifted) / 5)
    assert out["share_of_drifted_columns"] >= out["drift_share"] == 0.5
    for column in features:
        assert out["columns"][column]["column_type"] == "num"
        assert out["columns"][column]["method"] == "K-S p_value"
        # K-S: drifted exactly when the p-value falls under the threshold.
        assert out["columns"][column]["drifted"] == (out["columns"][column]["score"] < 0.05)
    assert out["columns"]["species"]["column_type"] == "cat"
    assert json.loads(json.dumps(out)) == out  # the state Step Functions stores is plain JSON

    assert out["report_key"] == f"reports/{state['run_id']}/drift_report.html"
    report = s3().get_object(Bucket=REPORTS_BUCKET, Key=out["report_key"])
    html = report["Body"].read().decode()
    assert report["ContentType"] == "text/html"
    # Evidently's own page, with its own verdict agreeing with the step's.
    assert "Data Drift Summary" in html and "Dataset Drift is detected" in html and "petal_length" in html
    assert (out["report_sampled"], out["report_rows"]) == (False, {"reference": 150, "current": 300})


def test_a_resample_of_the_baseline_is_no_drift(seeded, lambda_context) -> None:
    from mlops_core.data import write_batch

    key = write_batch(s3(), DATA_BUCKET, "iris", drifted_batch(5, strength=0), "parquet", seed=5)
    out = check_data_drift.lambda_handler(envelope("run-no-drift", batch_key=key), lambda_context)
    assert out["detected"] is False
    assert out["share_of_drifted_columns"] < out["drift_share"]
    assert out["number_of_drifted_columns"] == sum(c["drifted"] for c in out["columns"].values())


def test_without_batch_key_the_newest_batch_is_checked(seeded, lambda_context) -> None:
    from datetime import UTC, datetime

    from mlops_core.data import write_batch

    older = write_batch(s3(), DATA_BUCKET, "iris", drifted_batch(5, 0), "csv", now=datetime(2026, 1, 1, tzinfo=UTC))
    newer = write_batch(s3(), DATA_BUCKET, "iris", drifted_batch(6, 0), "csv", now=datetime(2026, 1, 2, tzinfo=UTC))
    assert older < newer
    out = check_data_drift.lambda_handler(envelope("run-latest"), lambda_context)
    assert out["batch_key"] == newer
    # A state without any execution input checks the newest batch of the DATASET setting.
    bare = {key: value for key, value in envelope("run-bare").items() if key != "input"}
    assert check_data_drift.lambda_handler(bare, lambda_context)["batch_key"] == newer


@pytest.mark.parametrize("batch_key", [7, ["batch.csv"], {"key": "batch.csv"}])
def test_a_batch_key_that_is_not_a_string_is_refused(seeded, lambda_context, batch_key: Any) -> None:
    with pytest.raises(InvalidRequestError, match="batch_key must be a string") as raised:
        check_data_drift.lambda_handler(envelope("run-odd-key", batch_key=batch_key), lambda_context)
    assert raised.value.field == "batch_key"


def test_reference_profile_is_stored_once_and_reused(seeded, lambda_context) -> None:
    from mlops_core.data import write_batch

    key = write_batch(s3(), DATA_BUCKET, "iris", drifted_batch(SEED_A), "parquet")
    etag = s3().head_object(Bucket=DATA_BUCKET, Key="datasets/iris/baseline.parquet")["ETag"].strip('"')
    prefix = f"profiles/iris/{etag}/v1/"
    assert keys_under(DATA_BUCKET, "profiles/") == {}
    keep_versions(DATA_BUCKET)

    first = check_data_drift.lambda_handler(envelope("run-first", batch_key=key), lambda_context)
    stored = keys_under(DATA_BUCKET, "profiles/")
    assert first["profile_prefix"] == prefix
    assert sorted(stored) == [prefix + name for name in ("meta.json", "profile.bin", "sample.parquet")]

    second = check_data_drift.lambda_handler(envelope("run-second", batch_key=key), lambda_context)
    assert keys_under(DATA_BUCKET, "profiles/") == stored  # same objects, same ETags, same LastModified
    assert version_counts(DATA_BUCKET, "profiles/") == dict.fromkeys(stored, 1)
    assert second["profile_prefix"] == prefix
    assert {k: v for k, v in second.items() if k != "report_key"} == {
        k: v for k, v in first.items() if k != "report_key"
    }


def test_a_new_baseline_gets_a_new_profile(seeded, lambda_context) -> None:
    from mlops_core.data import write_batch
    from mlops_core.data.io import frame_to_bytes

    key = write_batch(s3(), DATA_BUCKET, "iris", drifted_batch(SEED_A), "parquet")
    first = check_data_drift.lambda_handler(envelope("run-old-baseline", batch_key=key), lambda_context)
    # Replacing the baseline is an operator's act outside the pipeline (the pipeline never overwrites).
    baseline = frame_to_bytes(baseline_frame().iloc[:120], "parquet")
    s3().put_object(Bucket=DATA_BUCKET, Key="datasets/iris/baseline.parquet", Body=baseline)
    second = check_data_drift.lambda_handler(envelope("run-new-baseline", batch_key=key), lambda_context)
    assert second["profile_prefix"] != first["profile_prefix"]
    assert second["reference_rows"] == 120
    assert len(keys_under(DATA_BUCKET, "profiles/iris/")) == 6


HEADER = "sepal_length,sepal_width,petal_length,petal_width,species"
ROWS = ["5.1,3.5,1.4,0.2,setosa", "6.2,2.9,4.3,1.3,versicolor", "6.3,3.3,6.0,2.5,virginica"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "sepal_length,sepal_width,petal_length,species\n5.1,3.5,1.4,setosa\n6.2,2.9,4.3,versicolor\n",
            ["missing columns: petal_width"],
            id="missing-column",
        ),
        pytest.param(
            HEADER + ",colour\n" + "\n".join(f"{row},red" for row in ROWS) + "\n",
            ["unexpected columns: colour"],
            id="unexpected-column",
        ),
        pytest.param(
            HEADER + "\n" + "\n".join([*ROWS, "five,3.0,1.5,0.3,setosa"]) + "\n",
            ["'sepal_length' should be numeric", "'five'"],
            id="non-numeric-value",
        ),
        pytest.param(
            HEADER + "\n" + "\n".join(row.replace(",0.2,", ",,").replace(",1.3,", ",,") for row in ROWS[:2]) + "\n",
            ["all missing", "petal_width"],
            id="all-missing-column",
        ),
        pytest.param("", ["empty file"], id="empty-file"),
        pytest.param(HEADER + "\n", ["is empty: 0 rows"], id="header-only"),
    ],
)
def test_an_invalid_batch_fails_naming_the_problem_and_writes_no_report(
    seeded, lambda_context, body: str, expected: list[str]
) -> None:
    key = put_csv("datasets/iris/current/batch-bad.csv", body)
    state = envelope("run-bad-batch", batch_key=key)
    with pytest.raises(DataValidationError) as raised:
        check_data_drift.lambda_handler(state, lambda_context)
    message = str(raised.value)
    assert key in message
    for fragment in expected:
        assert fragment in message
    assert keys_under(REPORTS_BUCKET, layout.report_prefix(state["run_id"])) == {}


@pytest.mark.parametrize(
    "batch_key",
    [
        "datasets/iris/baseline.parquet",
        "datasets/penguins/current/batch-1.csv",
        "datasets/iris/current/../baseline.parquet",
        "s3://another-bucket/datasets/iris/current/batch-1.csv",
        "datasets/iris/current/notes.txt",
    ],
)
def test_a_batch_key_outside_current_is_refused(seeded, lambda_context, batch_key: str) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        check_data_drift.lambda_handler(envelope("run-outside", batch_key=batch_key), lambda_context)
    assert raised.value.field == "batch_key"
    assert keys_under(REPORTS_BUCKET, "") == {}


def test_no_batch_at_all_is_not_found(seeded, lambda_context) -> None:
    with pytest.raises(NotFoundError, match="datasets/iris/current/"):
        check_data_drift.lambda_handler(envelope("run-no-batch"), lambda_context)
    with pytest.raises(NotFoundError, match=r"batch-missing\.csv"):
        check_data_drift.lambda_handler(envelope("run-missing-batch", batch_key="batch-missing.csv"), lambda_context)


def test_an_unseeded_dataset_is_not_found(env, lambda_context) -> None:
    with pytest.raises(NotFoundError, match="dataset 'iris' is not configured"):
        check_data_drift.lambda_handler(envelope("run-unseeded"), lambda_context)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        pytest.param(["not", "a", "dict"], None, id="list"),
        pytest.param("run-1", None, id="string"),
        pytest.param(None, None, id="null"),
        pytest.param({"input": {}}, "run_id", id="no-run-id"),
        pytest.param({"run_id": "../x", "input": {}}, "run_id", id="dot-dot"),
        pytest.param({"run_id": "a/b", "input": {}}, "run_id", id="slash"),
        pytest.param({"run_id": 7, "input": {}}, "run_id", id="number"),
        pytest.param({"run_id": "run-1", "input": ["iris"]}, "input", id="input-not-object"),
    ],
)
def test_a_malformed_event_is_refused_before_any_work(env, lambda_context, event: Any, field: str | None) -> None:
    handlers = (check_data_drift, train_model, evaluate_candidate, run_ab_test, promote_if_better, generate_report)
    for handler in handlers:
        with pytest.raises(InvalidRequestError) as raised:
            handler.lambda_handler(event, lambda_context)
        assert raised.value.field == field
    assert keys_under(REPORTS_BUCKET, "") == {}


def test_an_unsafe_dataset_name_in_the_input_is_refused(seeded, lambda_context) -> None:
    state = envelope("run-unsafe-dataset")
    state["input"]["dataset"] = "../iris"
    with pytest.raises(InvalidRequestError) as raised:
        check_data_drift.lambda_handler(state, lambda_context)
    assert raised.value.field == "dataset"


# train_model
@TRAINS
def test_training_registers_a_staging_version_and_writes_disjoint_splits(world, env) -> None:
    env.restore(world.trained)
    state = world.state_a
    out = state["training"]
    run_id = state["run_id"]

    assert set(out) == set(TrainingOutput.__annotations__)
    assert (out["model_name"], out["model_version"], out["reused"]) == (MODEL_NAME, "1", False)
    assert out["algorithm"] in {"LogisticRegression", "DecisionTreeClassifier"}
    assert set(out["metrics"]) == {"accuracy", "precision_macro", "recall_macro", "f1_macro"}
    assert aliases() == {"staging": "1"}

    assert out["train_key"] == f"splits/{run_id}/train.parquet"
    assert out["holdout_key"] == f"splits/{run_id}/holdout.parquet"
    assert set(keys_under(DATA_BUCKET, f"splits/{run_id}/")) == {out["train_key"], out["holdout_key"]}
    train = read_parquet(DATA_BUCKET, out["train_key"])
    holdout = read_parquet(DATA_BUCKET, out["holdout_key"])
    batch = read_parquet(DATA_BUCKET, state["drift"]["batch_key"])
    # The splits keep the batch's row numbers: no row is both trained on and judged on, none is lost.
    assert set(train.index).isdisjoint(holdout.index)
    assert sorted([*train.index, *holdout.index]) == list(range(len(batch)))
    assert (out["train_rows"], out["holdout_rows"], out["baseline_rows"]) == (len(train), len(holdout), 150)
    assert len(holdout) == pytest.approx(0.3 * len(batch), abs=3)
    assert train.equals(batch.loc[train.index]) and holdout.equals(batch.loc[holdout.index])
    # Stratified: every class is judged.
    assert set(holdout["species"]) == set(batch["species"])

    from mlflow import MlflowClient

    client = MlflowClient()
    version = client.get_model_version(MODEL_NAME, "1")
    assert version.run_id == out["mlflow_run_id"]
    run = client.get_run(out["mlflow_run_id"])
    assert run.data.params["run_id"] == run_id
    assert run.data.tags["data.holdout_uri"] == f"s3://{DATA_BUCKET}/{out['holdout_key']}"
    assert json.loads(run.data.tags["data.train_uris"]) == [
        f"s3://{DATA_BUCKET}/datasets/iris/baseline.parquet",
        f"s3://{DATA_BUCKET}/{out['train_key']}",
    ]
    assert run.data.metrics["f1_macro"] == pytest.approx(out["metrics"]["f1_macro"])


@TRAINS
def test_the_same_input_again_reuses_the_registered_version(world, env, lambda_context) -> None:
    env.restore(world.trained)
    state = {**world.state_a, "run_id": "run-20261127T060000Z-retry"}
    state.pop("training")
    before = version_count()

    out = train_model.lambda_handler(state, lambda_context)

    assert out["reused"] is True
    assert version_count() == before == 1
    first = world.state_a["training"]
    same = ("model_name", "model_version", "mlflow_run_id", "algorithm", "train_rows", "holdout_rows")
    assert {k: out[k] for k in same} == {k: first[k] for k in same}
    assert out["metrics"] == pytest.approx(first["metrics"])
    # The new run still gets its own splits, identical to the first run's (the split is seeded by the input).
    assert out["holdout_key"] == "splits/run-20261127T060000Z-retry/holdout.parquet"
    assert read_parquet(DATA_BUCKET, out["holdout_key"]).equals(read_parquet(DATA_BUCKET, first["holdout_key"]))
    assert aliases() == {"staging": "1"}


@TRAINS
@pytest.mark.parametrize(
    ("handler", "missing"),
    [
        (train_model, "drift"),
        (evaluate_candidate, "training"),
        (run_ab_test, "training"),
        (run_ab_test, "evaluation"),
        (promote_if_better, "training"),
        (promote_if_better, "evaluation"),
        (promote_if_better, "ab_test"),
    ],
)
def test_a_step_run_without_an_earlier_result_names_it(world, env, lambda_context, handler: Any, missing: str) -> None:
    env.restore(world.challenged)
    state = promotion_state(world)
    del state[missing]
    with pytest.raises(InvalidRequestError, match=rf"no '{missing}' result") as raised:
        handler.lambda_handler(state, lambda_context)
    assert raised.value.field == missing
    # Refused before any work: no new version, Production and Staging where they were.
    assert version_count() == 2
    assert aliases() == {"production": "1", "staging": "2"}


# evaluate_candidate
@TRAINS
def test_first_candidate_has_no_production_to_beat(world, env, lambda_context) -> None:
    env.restore(world.trained)
    out = evaluate_candidate.lambda_handler(world.state_a, lambda_context)

    assert set(out) == set(EvaluationOutput.__annotations__)
    assert (out["production_version"], out["staging_version"]) == (None, "1")
    assert out["statistical_test"] is None and out["production_metrics"] is None
    assert (out["passed"], out["reason"]) == (True, "no_production_model")
    assert_metrics_on_holdout(out["staging_metrics"], "1", world.state_a["training"]["holdout_key"])


@TRAINS
def test_a_challenger_gets_a_paired_bootstrap_against_production(world, env, lambda_context) -> None:
    env.restore(world.challenged)
    out = evaluate_candidate.lambda_handler(world.state_b, lambda_context)

    assert (out["production_version"], out["staging_version"]) == ("1", "2")
    holdout_key = world.state_b["training"]["holdout_key"]
    staging_f1 = assert_metrics_on_holdout(out["staging_metrics"], "2", holdout_key)
    production_f1 = assert_metrics_on_holdout(out["production_metrics"], "1", holdout_key)

    test = out["statistical_test"]
    assert set(test) == set(StatisticalTest.__annotations__)
    assert (test["n_resamples"], test["n"], test["alpha"]) == (200, world.state_b["training"]["holdout_rows"], 0.05)
    assert test["observed_delta"] == pytest.approx(staging_f1 - production_f1)
    assert test["ci_low"] <= test["ci_high"] and 0 <= test["p_value"] <= 1
    assert sum(test["histogram"]["counts"]) == 200
    assert test["significant"] == (test["p_value"] < test["alpha"] and test["ci_low"] > 0)
    assert out["passed"] == test["significant"]
    assert out["reason"] == ("significant_improvement" if out["passed"] else "not_significant")
    # Same seed, same rows: the same verdict on a retry.
    again = evaluate_candidate.lambda_handler(world.state_b, lambda_context)
    assert again == out


def assert_metrics_on_holdout(metrics: dict[str, float], version: str, holdout_key: str) -> float:
    """The step's figures equal sklearn's on the held-out rows for that version's predictions."""
    from sklearn.metrics import accuracy_score, f1_score

    holdout = read_parquet(DATA_BUCKET, holdout_key)
    model = registry().load_version(version)
    predicted = [str(p) for p in model.predict(holdout[model.feature_names])]
    labels = holdout["species"].astype(str).tolist()
    assert metrics["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    f1 = float(f1_score(labels, predicted, average="macro"))
    assert metrics["f1_macro"] == pytest.approx(f1)
    return f1


# run_ab_test
@dataclass
class Api:
    url: str
    module: Any


def serialize_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """One mocked AWS request at a time, as DynamoDB applies each request atomically. moto's backends are not
    thread-safe: an UpdateItem ADD reads then writes the item, and a failed TransactWriteItems puts back a copy
    of the whole table, so the server's threads and the API's counter flusher could lose counts."""
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.RLock()
    process = BotocoreStubber.process_request

    def serialized(self: Any, request: Any) -> Any:
        with lock:
            return process(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", serialized)


@pytest.fixture
def api_server(env: Env, dynamodb_table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The Chalice app served over real HTTP by Chalice's own local server, in a thread of this process so it
    shares the test's moto and MLflow store."""
    from chalice.config import Config
    from chalice.local import create_local_server

    from app import app as app_module

    monkeypatch.setenv(settings.API_KEY, API_KEY)
    serialize_moto(monkeypatch)
    app_module.reset_wiring()
    original_class = app_module.app.__class__
    # Port 0: the operating system picks a free port.
    server = create_local_server(app_module.app, Config.create(), "127.0.0.1", 0)
    thread = threading.Thread(target=server.server.serve_forever, name="chalice-local", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server.server_address[1]}"
    monkeypatch.setenv(settings.API_URL, url)
    try:
        yield Api(url, app_module)
    finally:
        server.shutdown()
        server.server.server_close()
        thread.join(timeout=10)
        app_module.ab_store().close()
        app_module.reset_wiring()
        # create_local_server swaps the app's class for a thread-safe one; other tests get the original back.
        app_module.app.__class__ = original_class


@TRAINS
def test_ab_test_runs_the_holdout_through_the_api_and_scores_each_variant(
    world, env, api_server, lambda_context
) -> None:
    import requests
    from mlops_core.policy import online_gate
    from mlops_core.routing import choose_variant
    from sklearn.metrics import f1_score

    env.restore(world.challenged)
    state = dict(world.state_b)
    state["evaluation"] = evaluate_candidate.lambda_handler(state, lambda_context)

    out = run_ab_test.lambda_handler(state, lambda_context)

    assert set(out) == set(AbTestOutput.__annotations__)
    assert (out["api_url"], out["production_share"]) == (api_server.url, 0.5)
    holdout = read_parquet(DATA_BUCKET, state["training"]["holdout_key"])
    assert sum(out["requests"].values()) == len(holdout) == state["training"]["holdout_rows"]
    assert out["errors"] == {"production": 0, "staging": 0, "unrouted": 0}

    # Rebuild who answered which row (the API routes each row's user id stickily) and score it with sklearn.
    versions = {"production": "1", "staging": "2"}
    routed = [choose_variant(0.5, key=f"{state['run_id']}-{i}") for i in range(len(holdout))]
    for variant, version in versions.items():
        rows = holdout[[v == variant for v in routed]]
        assert out["requests"][variant] == len(rows) > 0
        model = registry().load_version(version)
        predicted = [str(p) for p in model.predict(rows[model.feature_names])]
        expected = f1_score(rows["species"].astype(str), predicted, average="macro")
        assert out["f1_macro"][variant] == pytest.approx(expected)

    # The labels went back through /feedback: the API's own statistics saw every answered row once.
    stats = requests.get(f"{api_server.url}/stats/ab", timeout=30).json()
    for variant in versions:
        assert stats["variants"][variant]["requests"] == out["requests"][variant]
        assert stats["variants"][variant]["labelled"] == out["requests"][variant]
        assert stats["variants"][variant]["f1_macro"] == pytest.approx(out["f1_macro"][variant])
        assert stats["variants"][variant]["accuracy"] == pytest.approx(out["accuracy"][variant])

    gate = online_gate(out["f1_macro"]["production"], out["f1_macro"]["staging"], has_production=True)
    assert (out["passed"], out["reason"]) == (gate.passed, gate.reason)
    staging_not_worse = out["f1_macro"]["staging"] >= out["f1_macro"]["production"]
    assert out["reason"] == ("staging_not_worse" if staging_not_worse else "staging_worse")


@TRAINS
def test_ab_test_follows_the_configured_split(world, env, api_server, lambda_context) -> None:
    import requests

    env.restore(world.challenged)
    response = requests.post(
        f"{api_server.url}/config/traffic",
        json={"production": 1.0},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    state = dict(world.state_b)
    state["evaluation"] = evaluate_candidate.lambda_handler(state, lambda_context)

    out = run_ab_test.lambda_handler(state, lambda_context)

    assert out["production_share"] == 1.0
    assert out["requests"] == {"production": state["training"]["holdout_rows"], "staging": 0}
    assert out["f1_macro"]["staging"] is None
    assert (out["passed"], out["reason"]) == (False, "no_ab_data")


@TRAINS
def test_ab_test_fails_when_the_api_is_unreachable(world, env, lambda_context, monkeypatch) -> None:
    import requests

    env.restore(world.challenged)
    state = dict(world.state_b)
    state["evaluation"] = load_event("run_ab_test")["evaluation"]
    monkeypatch.setenv(settings.API_URL, unreachable_url())
    with pytest.raises(requests.ConnectionError):
        run_ab_test.lambda_handler(state, lambda_context)


# promote_if_better
def promotion_state(world: World, *, offline: bool = True, online: bool = True) -> dict[str, Any]:
    """The sample state of a run whose gates both passed, bound to run B's real candidate; a gate can be
    made to fail by its own figures (the decision recomputes the gates from them)."""
    state = load_event("promote_if_better")
    state["drift"] = world.state_b["drift"]
    state["training"] = world.state_b["training"]
    state["evaluation"]["production_version"] = "1"
    state["evaluation"]["staging_version"] = world.state_b["training"]["model_version"]
    if not offline:
        test = state["evaluation"]["statistical_test"]
        test.update(p_value=0.31, ci_low=-0.02, significant=False)
        state["evaluation"].update(passed=False, reason="not_significant")
    if not online:
        state["ab_test"]["f1_macro"] = {"production": 0.95, "staging": 0.9}
        state["ab_test"].update(passed=False, reason="staging_worse")
    return state


@TRAINS
def test_both_gates_passed_moves_production_to_the_candidate(world, env, lambda_context) -> None:
    env.restore(world.challenged)
    state = promotion_state(world)
    assert aliases() == {"production": "1", "staging": "2"}

    out = promote_if_better.lambda_handler(state, lambda_context)

    assert set(out) == set(PromotionOutput.__annotations__)
    assert out == {
        "promoted": True,
        "reason": "better_offline_and_online",
        "model_name": MODEL_NAME,
        "previous_version": "1",
        "new_version": "2",
    }
    assert aliases() == {"production": "2"}  # staging is cleared once its version is Production
    from mlflow import MlflowClient

    tags = MlflowClient().get_model_version(MODEL_NAME, "2").tags
    assert tags["promoted_by"] == state["execution_arn"]
    assert tags["promotion_reason"] == "better_offline_and_online"
    assert tags["previous_production_version"] == "1"
    evidence = json.loads(tags["promotion_evidence"])
    assert evidence["run_id"] == state["run_id"]
    assert evidence["offline"]["p_value"] == state["evaluation"]["statistical_test"]["p_value"]
    assert evidence["ab"]["f1_macro"] == state["ab_test"]["f1_macro"]
    history = registry().history()
    assert (history[0].version, history[0].previous_version, history[0].by) == ("2", "1", state["execution_arn"])

    # A retried step (same state) changes nothing and still reports the promotion.
    again = promote_if_better.lambda_handler(state, lambda_context)
    assert again["promoted"] is True and again["new_version"] == "2"
    assert len(registry().history()) == len(history)


@TRAINS
@pytest.mark.parametrize(
    ("offline", "online", "reason"),
    [(False, True, "not_significant"), (True, False, "staging_worse"), (False, False, "not_significant")],
)
def test_a_failed_gate_leaves_production_alone(
    world, env, lambda_context, offline: bool, online: bool, reason: str
) -> None:
    env.restore(world.challenged)
    history = registry().history()

    out = promote_if_better.lambda_handler(promotion_state(world, offline=offline, online=online), lambda_context)

    assert out == {
        "promoted": False,
        "reason": reason,
        "model_name": MODEL_NAME,
        "previous_version": "1",
        "new_version": None,
    }
    assert aliases() == {"production": "1", "staging": "2"}
    assert registry().history() == history
    from mlflow import MlflowClient

    assert "promoted_by" not in MlflowClient().get_model_version(MODEL_NAME, "2").tags


@TRAINS
def test_the_first_model_is_promoted_without_a_comparison(world, env, lambda_context) -> None:
    env.restore(world.trained)
    state = dict(world.state_a)
    state["evaluation"] = evaluate_candidate.lambda_handler(state, lambda_context)
    # No Production: the A/B test serves staging alone and the online gate passes it through.
    state["ab_test"] = {
        **load_event("promote_if_better")["ab_test"],
        "requests": {"production": 0, "staging": 45},
        "f1_macro": {"production": None, "staging": 0.93},
        "accuracy": {"production": None, "staging": 0.93},
        "reason": "no_production_model",
    }

    out = promote_if_better.lambda_handler(state, lambda_context)

    assert out == {
        "promoted": True,
        "reason": "no_production_model",
        "model_name": MODEL_NAME,
        "previous_version": None,
        "new_version": "1",
    }
    assert aliases() == {"production": "1"}
    from mlflow import MlflowClient

    tags = MlflowClient().get_model_version(MODEL_NAME, "1").tags
    assert tags["promoted_by"] == state["execution_arn"]
    assert tags["previous_production_version"] == ""


# generate_report
def report_objects(run_id: str) -> dict[str, tuple[str, Any]]:
    return keys_under(REPORTS_BUCKET, layout.report_prefix(run_id))


def report_states() -> dict[str, dict[str, Any]]:
    """One run state per outcome, all from the sample events as Step Functions hands them over."""
    promoted = load_event("generate_report")
    blocked = json.loads(json.dumps(promoted))
    blocked["run_id"] = "run-blocked"
    blocked["ab_test"].update(f1_macro={"production": 0.95, "staging": 0.9}, passed=False, reason="staging_worse")
    blocked["promotion"] = {**blocked["promotion"], "promoted": False, "reason": "staging_worse", "new_version": None}
    no_drift = {key: promoted[key] for key in STATE_KEYS}
    no_drift["run_id"] = "run-no-drift"
    no_drift["drift"] = {**promoted["drift"], "detected": False, "share_of_drifted_columns": 0.2}
    return {
        "promoted": promoted,
        "blocked": blocked,
        "no_drift": no_drift,
        "failed": load_event("generate_report_failed"),
    }


@pytest.mark.parametrize("status", ["promoted", "blocked", "no_drift", "failed"])
def test_report_is_written_once_with_the_derived_status(env, lambda_context, status: str) -> None:
    state = report_states()[status]
    run_id = state["run_id"]
    keep_versions(REPORTS_BUCKET)

    out = generate_report.lambda_handler(state, lambda_context)

    assert set(out) == set(ReportOutput.__annotations__)
    assert out == {
        "report_id": run_id,
        "status": status,
        "json_key": f"reports/{run_id}/report.json",
        "html_key": f"reports/{run_id}/report.html",
        "json_url": f"{REPORTS_URL}/reports/{run_id}/report.json",
        "html_url": f"{REPORTS_URL}/reports/{run_id}/report.html",
    }
    written = report_objects(run_id)
    assert set(written) == {out["json_key"], out["html_key"]}
    report = json.loads(s3().get_object(Bucket=REPORTS_BUCKET, Key=out["json_key"])["Body"].read())
    assert (report["run_id"], report["status"], report["execution_arn"]) == (run_id, status, state["execution_arn"])
    html = s3().get_object(Bucket=REPORTS_BUCKET, Key=out["html_key"])
    assert html["ContentType"].startswith("text/html")
    page = html["Body"].read().decode()
    assert run_id in page and f'class="badge status-{status}" id="status"' in page

    if status == "failed":
        cause = json.loads(state["error"]["Cause"])
        assert report["error"]["type"] == cause["errorType"] == "DataValidationError"
        assert report["error"]["message"] == cause["errorMessage"]
        assert report["error"]["stack_trace"] == cause["stackTrace"]
        assert "Production untouched" in page and cause["errorType"] in page
    else:
        assert report["error"] is None
        assert report["links"]["drift_report"] == f"{REPORTS_URL}/{state['drift']['report_key']}"
    if status == "promoted":
        assert report["statistical_test"] == state["evaluation"]["statistical_test"]
        assert report["ab_testing_api"] == state["ab_test"]
    if status == "no_drift":
        assert (report["training"], report["promotion"]) == (None, None)

    # A second invocation (a retry, or a re-driven execution) returns the same report and rewrites nothing.
    again = generate_report.lambda_handler(state, lambda_context)
    assert again == out
    assert report_objects(run_id) == written
    assert version_counts(REPORTS_BUCKET, layout.report_prefix(run_id)) == dict.fromkeys(written, 1)
    stored = json.loads(s3().get_object(Bucket=REPORTS_BUCKET, Key=out["json_key"])["Body"].read())
    assert stored == report


def test_a_report_for_a_state_that_never_ran_the_drift_check_is_refused(env, lambda_context) -> None:
    state = {key: load_event("generate_report")[key] for key in STATE_KEYS}
    with pytest.raises(InvalidRequestError, match="neither a drift result nor an error"):
        generate_report.lambda_handler(state, lambda_context)
    assert report_objects(state["run_id"]) == {}


def test_a_real_step_failure_becomes_a_failure_report(seeded, lambda_context) -> None:
    """The Catch path end to end: a handler raises, the error is shaped as the Lambda runtime shapes it, and
    generate_report turns it into a failed report."""
    import traceback

    key = put_csv("datasets/iris/current/batch-broken.csv", HEADER + "\n" + ROWS[0].replace("5.1", "abc") + "\n")
    state = envelope("run-caught", batch_key=key)
    with pytest.raises(DataValidationError) as raised:
        check_data_drift.lambda_handler(state, lambda_context)
    payload = {
        "errorMessage": str(raised.value),
        "errorType": type(raised.value).__name__,
        "requestId": lambda_context.aws_request_id,
        "stackTrace": traceback.format_tb(raised.value.__traceback__),
    }
    state["error"] = {"Error": payload["errorType"], "Cause": json.dumps(payload)}

    out = generate_report.lambda_handler(state, lambda_context)

    assert out["status"] == "failed"
    report = json.loads(s3().get_object(Bucket=REPORTS_BUCKET, Key=out["json_key"])["Body"].read())
    assert report["error"]["type"] == "DataValidationError"
    assert "sepal_length" in report["error"]["message"] and "'abc'" in report["error"]["message"]
    assert set(report_objects("run-caught")) == {out["json_key"], out["html_key"]}


# the sample events themselves
@pytest.mark.parametrize(
    ("name", "sections"),
    [
        ("check_data_drift", {}),
        ("train_model", {"drift": DriftOutput}),
        ("evaluate_candidate", {"drift": DriftOutput, "training": TrainingOutput}),
        ("run_ab_test", {"drift": DriftOutput, "training": TrainingOutput, "evaluation": EvaluationOutput}),
        (
            "promote_if_better",
            {
                "drift": DriftOutput,
                "training": TrainingOutput,
                "evaluation": EvaluationOutput,
                "ab_test": AbTestOutput,
            },
        ),
        (
            "generate_report",
            {
                "drift": DriftOutput,
                "training": TrainingOutput,
                "evaluation": EvaluationOutput,
                "ab_test": AbTestOutput,
                "promotion": PromotionOutput,
            },
        ),
        ("generate_report_failed", {}),
    ],
)
def test_sample_events_follow_the_contracts(name: str, sections: dict[str, Any]) -> None:
    """The samples are what the state machine builds: the StartRun envelope plus one key per step that ran."""
    event = load_event(name)
    extra = {"error"} if name.endswith("failed") else set()
    assert set(event) == {*STATE_KEYS, *sections, *extra}
    assert layout.is_safe_id(event["run_id"]) and event["execution_arn"].endswith(f":{event['run_id']}")
    for key, contract in sections.items():
        assert set(event[key]) == set(contract.__annotations__), key
    if "evaluation" in sections and event["evaluation"]["statistical_test"] is not None:
        assert set(event["evaluation"]["statistical_test"]) == set(StatisticalTest.__annotations__)
