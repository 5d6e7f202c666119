"""Wiring of the six Lambda handlers to the real adapters the bootstrap builds: moto's S3 and DynamoDB, a real
MLflow sqlite registry, real Evidently, real PyCaret and the Chalice app served over real HTTP.

Every branch of every step is tested on in-memory fakes in tests/unit/test_step_*.py. Here the question is
only whether the real adapters carry the same calls: two executions' worth of handler calls, event in and
dict out, checked against what landed in S3 and MLflow.
"""

from __future__ import annotations

import io
import json
import threading
import traceback
from collections.abc import Iterator
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
    TrainingOutput,
)
from mlops_core.exceptions import DataValidationError
from mlops_core.pipeline import bootstrap

from functions.check_data_drift import app as check_data_drift
from functions.evaluate_candidate import app as evaluate_candidate
from functions.find_pending_candidate import app as find_pending_candidate
from functions.generate_report import app as generate_report
from functions.promote_if_better import app as promote_if_better
from functions.run_ab_test import app as run_ab_test
from functions.train_model import app as train_model
from tests.conftest import AB_TABLE_NAME

DATA_BUCKET = "mlops-data-test"
REPORTS_BUCKET = "mlops-reports-test"
MODEL_NAME = "iris-classifier"
REPORTS_URL = "http://reports.example.test"
API_KEY = "test-api-key"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:mlops-pipeline"


def envelope(run_id: str, **run_input: Any) -> dict[str, Any]:
    """What the state machine's StartRun state builds from the execution's name, id, start time and input."""
    return {
        "run_id": run_id,
        "execution_arn": f"{EXECUTION}:{run_id}",
        "started_at": "2026-11-28T06:00:00.000Z",
        "input": {"dataset": "iris", **run_input},
    }


@pytest.fixture
def stack(aws: None, mlflow_tracking_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The stack's buckets in moto and its environment, with the bootstrap's adapters built inside this test."""
    import boto3
    from mlflow import MlflowClient

    for name, value in {
        settings.DATA_BUCKET: DATA_BUCKET,
        settings.REPORTS_BUCKET: REPORTS_BUCKET,
        settings.AB_TABLE: AB_TABLE_NAME,
        settings.DATASET: "iris",
        settings.REPORTS_WEBSITE_URL: REPORTS_URL,
        settings.TRAINING_BUDGET_SECONDS: "30",
        settings.TRAINING_MODELS: "lr,dt",
        settings.BOOTSTRAP_RESAMPLES: "200",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(settings.MODEL_NAME, raising=False)
    s3 = boto3.client("s3")
    for bucket in (DATA_BUCKET, REPORTS_BUCKET):
        s3.create_bucket(Bucket=bucket)
    # Runs' artifacts land in the test's folder, not under the working directory.
    MlflowClient().create_experiment("iris-pipeline", artifact_location=(tmp_path / "artifacts").as_uri())
    bootstrap.deps.cache_clear()
    yield s3
    bootstrap.deps.cache_clear()


def read_parquet(s3: Any, bucket: str, key: str) -> Any:
    import pandas as pd

    return pd.read_parquet(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


def write_drifted_batch(s3: Any, seed: int) -> str:
    from mlops_core.adapters import S3ObjectStore
    from mlops_core.data import load_dataset_config, read_table, simulate_drift, write_batch

    store = S3ObjectStore(s3, DATA_BUCKET)
    baseline = read_table(store, load_dataset_config(store, "iris").baseline_key)
    batch, _ = simulate_drift(baseline, target="species", seed=seed, strength=1.5, rows=300)
    return write_batch(store, "iris", batch, "parquet", seed=seed)


def aliases() -> dict[str, str]:
    from mlflow import MlflowClient

    return {alias: str(version) for alias, version in MlflowClient().get_registered_model(MODEL_NAME).aliases.items()}


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
def api_url(stack: Any, dynamodb_table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The Chalice app served over real HTTP by Chalice's own local server, in a thread of this process so it
    shares the test's moto and MLflow store; API_URL points the bootstrap's HTTP adapter at it."""
    from chalice.config import Config
    from chalice.local import create_local_server

    from app import app as app_module

    monkeypatch.setenv(settings.API_KEY, API_KEY)
    serialize_moto(monkeypatch)
    app_module.reset_wiring()
    original_class = app_module.app.__class__
    server = create_local_server(app_module.app, Config.create(), "127.0.0.1", 0)  # port 0: any free port
    thread = threading.Thread(target=server.server.serve_forever, name="chalice-local", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server.server_address[1]}"
    monkeypatch.setenv(settings.API_URL, url)
    bootstrap.deps.cache_clear()
    try:
        yield url
    finally:
        server.shutdown()
        server.server.server_close()
        thread.join(timeout=10)
        app_module.ab_store().close()
        app_module.reset_wiring()
        # create_local_server swaps the app's class for a thread-safe one; other tests get the original back.
        app_module.app.__class__ = original_class


def execute(s3: Any, run_id: str, batch_key: str, context: Any) -> dict[str, Any]:
    """One drifted run through every handler, as the state machine chains them (ResultPath per step)."""
    state = envelope(run_id, batch_key=batch_key)
    for key, handler in (
        ("drift", check_data_drift),
        ("pending", find_pending_candidate),
        ("training", train_model),
        ("evaluation", evaluate_candidate),
        ("ab_test", run_ab_test),
        ("promotion", promote_if_better),
        ("report", generate_report),
    ):
        state[key] = handler.lambda_handler(state, context)
    return state


@pytest.mark.slow
def test_two_runs_through_the_real_adapters(stack, api_url, lambda_context) -> None:
    import requests
    from mlflow import MlflowClient
    from mlops_core.adapters import S3ObjectStore
    from mlops_core.data import seed_dataset

    s3 = stack
    seed_dataset(S3ObjectStore(s3, DATA_BUCKET), "iris")

    # Run 1: no Production yet. S3 adapter, Evidently, PyCaret, MLflow registration, HTTP to the API.
    first = execute(s3, "run-1", write_drifted_batch(s3, seed=11), lambda_context)
    for key, contract in (
        ("drift", DriftOutput),
        ("training", TrainingOutput),
        ("evaluation", EvaluationOutput),
        ("ab_test", AbTestOutput),
        ("promotion", PromotionOutput),
        ("report", ReportOutput),
    ):
        assert set(first[key]) == set(contract.__annotations__), key
    drift_page = s3.get_object(Bucket=REPORTS_BUCKET, Key=first["drift"]["report_key"])
    page = drift_page["Body"].read()
    # Evidently's own page: a whole HTML document with its rendered metrics inlined.
    assert drift_page["ContentType"] == "text/html" and page.lstrip().lower().startswith(b"<!doctype html>")
    assert b"root_metric_" in page and len(page) > 50_000
    training = first["training"]
    assert (training["model_version"], training["reused"]) == ("1", False)
    assert training["algorithm"] in {"LogisticRegression", "DecisionTreeClassifier"}
    run = MlflowClient().get_run(training["mlflow_run_id"])
    assert run.data.tags["data.holdout_uri"] == f"s3://{DATA_BUCKET}/{training['holdout_key']}"
    assert len(read_parquet(s3, DATA_BUCKET, training["holdout_key"])) == training["holdout_rows"]
    assert first["evaluation"]["reason"] == "no_production_model"
    assert first["ab_test"]["api_url"] == api_url
    assert first["pending"]["found"] is False
    assert first["ab_test"]["requests"] == {"production": 0, "staging": training["online_rows"]}
    assert first["ab_test"]["feedback_lost"] == 0
    assert first["promotion"]["promoted"] is True and aliases() == {"production": "1"}
    report = json.loads(s3.get_object(Bucket=REPORTS_BUCKET, Key=first["report"]["json_key"])["Body"].read())
    assert report["status"] == "promoted" and first["report"]["json_url"].startswith(REPORTS_URL)

    # The labels went back through /feedback: the API's own statistics saw every answered row.
    stats = requests.get(f"{api_url}/stats/ab", timeout=30).json()
    assert stats["variants"]["staging"]["labelled"] == training["online_rows"]

    # The same input again reuses the registered version through the MLflow adapter.
    again = train_model.lambda_handler({**first, "run_id": "run-1-again"}, lambda_context)
    assert (again["model_version"], again["reused"]) == ("1", True)

    # Run 2: a challenger against Production v1, with the bootstrap and both variants answering over HTTP.
    second = execute(s3, "run-2", write_drifted_batch(s3, seed=12), lambda_context)
    evaluation, ab_test = second["evaluation"], second["ab_test"]
    assert (evaluation["production_version"], evaluation["staging_version"]) == ("1", "2")
    # the first test of the ledger: nothing to pool yet (a first model is not tested)
    assert evaluation["decision"]["n"] == second["training"]["holdout_rows"]
    assert evaluation["rows"]["test_number"] == 1 and evaluation["rows"]["pooled_runs"] == 0
    assert sum(ab_test["requests"].values()) == second["training"]["online_rows"]
    assert ab_test["requests"]["production"] > 0 and ab_test["requests"]["staging"] > 0
    # shadow mode over HTTP: every labelled request is a pair of the experiment (v1, v2)
    assert ab_test["evidence"]["pairs"] == second["training"]["online_rows"]
    promoted = second["promotion"]["promoted"]
    assert aliases()["production"] == ("2" if promoted else "1")
    if promoted:
        tags = MlflowClient().get_model_version(MODEL_NAME, "2").tags
        assert tags["promoted_by"] == second["execution_arn"] and tags["previous_production_version"] == "1"
    report = json.loads(s3.get_object(Bucket=REPORTS_BUCKET, Key=second["report"]["json_key"])["Body"].read())
    assert report["status"] == second["promotion"]["outcome"]


def test_a_real_step_failure_becomes_a_failure_report(stack, lambda_context) -> None:
    """The Catch path through the real S3 adapter: a handler raises, the error is shaped as the Lambda runtime
    shapes it, and generate_report turns it into a failed report."""
    from mlops_core.adapters import S3ObjectStore
    from mlops_core.data import seed_dataset

    s3 = stack
    seed_dataset(S3ObjectStore(s3, DATA_BUCKET), "iris")
    key = "datasets/iris/current/batch-broken.csv"
    body = "sepal_length,sepal_width,petal_length,petal_width,species\nabc,3.5,1.4,0.2,setosa\n"
    s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=body.encode())
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
    report = json.loads(s3.get_object(Bucket=REPORTS_BUCKET, Key=out["json_key"])["Body"].read())
    assert report["error"]["type"] == "DataValidationError"
    assert "sepal_length" in report["error"]["message"] and "'abc'" in report["error"]["message"]
    listed = s3.list_objects_v2(Bucket=REPORTS_BUCKET, Prefix=layout.report_prefix("run-caught"))["Contents"]
    assert {obj["Key"] for obj in listed} == {out["json_key"], out["html_key"]}
