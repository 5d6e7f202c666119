"""Fixtures shared by every test tier.

- `mlflow_tracking_uri`: a real MLflow tracking store and model registry (sqlite in tmp_path, artifacts in a
  local folder beside it), set as MLFLOW_TRACKING_URI for the test.
- `aws`: moto's in-process `mock_aws` with fake credentials and a region; S3 buckets, DynamoDB tables... made
  inside the test live in the same mock, so tests that need S3 as well as the A/B table request both.
- `dynamodb_table`: the A/B table, created as template.yaml creates it; its name is also in AB_TABLE.
- `lambda_context`: an object shaped like the Lambda runtime's context.
Heavy libraries are imported inside the fixtures, so tests that need none of them collect fast.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from mlops_core import settings

AB_TABLE_NAME = "mlops-ab-test"
AWS_REGION = "us-east-1"


@pytest.fixture(scope="session")
def _mlflow_template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated, empty MLflow database per session: creating the schema costs about a second, a copy
    nothing."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    folder = tmp_path_factory.mktemp("mlflow-template")
    path = folder / "mlflow.db"
    store = SqlAlchemyStore(f"sqlite:///{path}", (folder / "artifacts").as_uri())
    store.engine.dispose()
    return path


@pytest.fixture
def mlflow_tracking_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _mlflow_template_db: Path) -> Iterator[str]:
    """A fresh sqlite tracking store with the registry in it; runs' artifacts go under tmp_path/mlartifacts."""
    import mlflow

    db = tmp_path / "mlflow.db"
    shutil.copyfile(_mlflow_template_db, db)
    artifacts = tmp_path / "mlartifacts"
    artifacts.mkdir()
    # The default experiment stores its artifact root in the database: point the copy at this test's folder.
    with sqlite3.connect(db) as connection:
        connection.execute(
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0", ((artifacts / "0").as_uri(),)
        )
    uri = f"sqlite:///{db}"
    _forget_active_experiment()
    monkeypatch.setenv(settings.MLFLOW_TRACKING_URI, uri)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    mlflow.set_tracking_uri(uri)
    yield uri
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    _forget_active_experiment()


def _forget_active_experiment() -> None:
    """mlflow.set_experiment keeps the id in a module global and in MLFLOW_EXPERIMENT_ID; another test's store
    has no such experiment ("No Experiment with id=1 exists")."""
    import mlflow.tracking.fluent as fluent

    fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's in-process AWS; never the caller's real account, never an emulator endpoint."""
    from mlops_local.environment import CREDENTIALS_ENV, SESSION_TOKEN
    from moto import mock_aws

    for name, value in CREDENTIALS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setenv("AWS_DEFAULT_REGION", AWS_REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def dynamodb_table(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The A/B table as template.yaml defines it: pk (S, HASH) + sk (S, RANGE), on demand, TTL on expires_at.
    Returns its name, which is also set as AB_TABLE."""
    import boto3

    from tests.support.registry_models import create_ab_table

    create_ab_table(boto3.client("dynamodb"), AB_TABLE_NAME)
    monkeypatch.setenv(settings.AB_TABLE, AB_TABLE_NAME)
    return AB_TABLE_NAME


@dataclass
class FakeLambdaContext:
    """The attributes and method of the Lambda runtime's context object that handlers use."""

    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    timeout_seconds: float = 900.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic, repr=False)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{AWS_REGION}:123456789012:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"2026/01/01/[{self.function_version}]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture(autouse=True)
def _real_os_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """chalice.test swaps `os.environ` for a plain dict copy around each request and swaps it back after;
    requests on several threads at once can leave a copy in place, and then every later monkeypatch (and
    boto3, and the lease store's AB_TABLE lookup) works on a stale dict. Put the real mapping back, before
    monkeypatch undoes its changes on it (this fixture is set up after monkeypatch, so it is torn down before)."""
    real = os.environ
    yield
    os.environ = real  # noqa: B003 (restoring the object itself is the point)
