"""Two executions at the same instant against the real services: leases in the emulator's DynamoDB (conditional
writes), the registry on a real MLflow tracking server with its artifacts in the emulator's S3.

Each thread stands for one execution's Lambda container: its own adapter, its own DynamoDB client and owner,
and the same library code the train and promote steps run. A barrier starts them together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mlops_core.adapters.dynamodb_leases import DynamoDbLeases
from mlops_core.adapters.mlflow_registry import MlflowModelRegistry
from mlops_core.exceptions import ProductionChangedError
from mlops_core.registry import PRODUCTION

from tests.integration.conftest import RunningEmulator, free_port
from tests.support.candidates import small_candidate
from tests.support.registry_models import create_ab_table, log_sklearn_model

MODEL = "iris-classifier"
START_SECONDS = 120
TRAINING_SECONDS = 3.0  # long enough that the second execution arrives while the first one trains


@pytest.fixture(scope="module")
def mlflow_server(emulator: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mlflow server` as the stack runs it: sqlite, one worker, artifacts proxied into the emulator's S3."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    bucket = f"artifacts-{uuid.uuid4().hex[:8]}"
    emulator.client("s3").create_bucket(Bucket=bucket)
    port = free_port()
    env = {**os.environ, **emulator.environ(), "MLFLOW_S3_ENDPOINT_URL": emulator.endpoint_url}
    log = (folder / "mlflow.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--serve-artifacts",
            "--artifacts-destination",
            f"s3://{bucket}/mlflow",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # `mlflow server` serves from child processes: stop the whole group
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, folder / "mlflow.log")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"mlflow server exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.3)
    pytest.fail(f"mlflow server did not answer within {START_SECONDS} s:\n{log.read_text()[-4000:]}")


@pytest.fixture
def registry_env(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A registered model name of this test's own on the shared server, the tracking URI set for MLflow."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    mlflow.set_tracking_uri(mlflow_server)
    yield f"{MODEL}-{uuid.uuid4().hex[:8]}"
    mlflow.set_tracking_uri(None)


@pytest.fixture
def table(emulator: RunningEmulator) -> str:
    return create_ab_table(emulator.client("dynamodb"), f"ab-{uuid.uuid4().hex[:8]}")


def execution(emulator: RunningEmulator, table: str, model: str) -> MlflowModelRegistry:
    """One execution's adapter, as bootstrap builds it in its own container (clients made on this thread:
    boto3's default session is not thread-safe)."""
    leases = DynamoDbLeases(emulator.client("dynamodb"), table)
    return MlflowModelRegistry(model, experiment_name=f"{model}-pipeline", leases=leases)


def at_once(calls: list[Callable[[], Any]]) -> list[tuple[str, Any]]:
    """Run the calls in threads released together; ("ok", result) or ("error", exception) for each, in order."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[tuple[str, Any]] = [("missing", None)] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            outcomes[index] = ("ok", call())
        except Exception as error:  # reported to the test
            outcomes[index] = ("error", error)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "an execution never finished"
    return outcomes


def test_two_executions_with_one_key_register_one_version(emulator, table, registry_env) -> None:
    import mlflow

    model, key = registry_env, f"iris-{uuid.uuid4().hex[:24]}"
    trained: list[str] = []

    def train_step(registry: MlflowModelRegistry, name: str) -> dict:
        # pipeline/train.py's order: look the key up (claiming it), train only when nothing was found, register.
        found = registry.find_registration(key)
        if found is not None:
            return found
        trained.append(name)
        time.sleep(TRAINING_SECONDS)
        return registry.register(
            small_candidate(),
            train_uris=["s3://data/datasets/iris/baseline.parquet"],
            holdout_uri="s3://data/splits/holdout.parquet",
            drift_summary={"detected": True},
            idempotency_key=key,
            params={"execution": name},
        )

    first, second = execution(emulator, table, model), execution(emulator, table, model)
    outcomes = at_once([lambda: train_step(first, "a"), lambda: train_step(second, "b")])

    assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
    registrations = [value for _, value in outcomes]
    assert len(trained) == 1
    assert {r["model_version"] for r in registrations} == {"1"}
    assert sorted(r["reused"] for r in registrations) == [False, True]
    assert [v.version for v in mlflow.MlflowClient().search_model_versions(f"name = '{model}'")] == ["1"]
    assert first.staged_version()["version"] == "1"


class SlowAliasReads:
    """An MlflowClient whose alias reads take a while, as over a slow network: both executions have read
    Production before either moves it, which is the window the production lock has to close."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_model_version_by_alias(self, name: str, alias: str) -> Any:
        found = self._client.get_model_version_by_alias(name, alias)
        time.sleep(0.5)
        return found


def test_two_passing_runs_decided_against_one_production_promote_once(emulator, table, registry_env, iris) -> None:
    import mlflow

    model = registry_env
    X, y = iris
    for _ in range(3):
        log_sklearn_model(_fitted(X, y), X, model)
    setup = execution(emulator, table, model)
    setup.promote("1", actor="setup", reason="first", evidence={}, expected_production=None)
    runs = [execution(emulator, table, model), execution(emulator, table, model)]
    for run in runs:
        run._registry.client = SlowAliasReads(run._registry.client)

    outcomes = at_once(
        [
            lambda: runs[0].promote("2", actor="run-2", reason="both gates", evidence={}, expected_production="1"),
            lambda: runs[1].promote("3", actor="run-3", reason="both gates", evidence={}, expected_production="1"),
        ]
    )

    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["error", "ok"], outcomes
    winner = next(value for kind, value in outcomes if kind == "ok")
    loser = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(loser, ProductionChangedError)
    assert f"Production is v{winner.version}, not v1" in str(loser)
    client = mlflow.MlflowClient()
    assert str(client.get_model_version_by_alias(model, PRODUCTION).version) == winner.version
    moves = [(r.version, r.previous_version) for r in setup._registry.history()]
    assert moves == [(winner.version, "1"), ("1", None)]  # exactly one move after the setup's
    other = "3" if winner.version == "2" else "2"
    assert "promoted_at" not in client.get_model_version(model, other).tags


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    return data.data, pd.Series(np.asarray(data.target_names)[data.target], name="species")


def _fitted(X: Any, y: Any) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(LogisticRegression(max_iter=300)).fit(X, y)
