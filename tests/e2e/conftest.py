"""The whole local stack, started the way a user starts it (`mlops up --detach`), on free ports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from mlops_local import environment

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    state_dir: Path
    env: dict[str, str]  # what `mlops env` exports, plus the ports
    outputs: dict[str, str]

    def mlops(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(BIN / "mlops"), "--state-dir", str(self.state_dir), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
        )
        if check and result.returncode != 0:
            command = " ".join(args)
            raise AssertionError(f"mlops {command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def cli(self, *args: str, timeout: float = 120) -> Any:
        """A real AWS CLI call (`aws` or `awslocal`), JSON output parsed."""
        result = subprocess.run(
            [str(BIN / args[0]), *args[1:]], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stderr}"
        return json.loads(result.stdout) if result.stdout.strip() else None

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            **environment.CLIENT_CREDENTIALS,
        )

    def wait_execution(self, arn: str, timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.cli("awslocal", "stepfunctions", "describe-execution", "--execution-arn", arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(1)
        raise AssertionError(f"execution {arn} still running after {timeout} s")

    def report(self, run_id: str) -> dict[str, Any]:
        body = self.client("s3").get_object(
            Bucket=self.outputs["ReportsBucketName"], Key=f"reports/{run_id}/report.json"
        )["Body"]
        return json.loads(body.read())


def user_env(**extra: str) -> dict[str, str]:
    """A user's shell without AWS or MLflow settings, on free ports, with `mlops` on the PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_"))}
    env.update({variable: str(_free_port()) for variable in environment.PORT_VARIABLES.values()})
    # Small AutoML budget and three quick models: the tests check the pipeline's behaviour, not the best model.
    env[environment.TRAINING_BUDGET_SECONDS] = "20"
    env[environment.TRAINING_MODELS] = "lr,nb,dt"
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    env.update(extra)
    return env


@contextmanager
def running_stack(state_dir: Path, dataset: str) -> Iterator[Stack]:
    env = user_env(**{environment.API_KEY: "e2e-secret-key"})
    stack = Stack(state_dir, env, {})
    stack.mlops("up", "--detach", "--dataset", dataset, timeout=600)
    try:
        exports = stack.mlops("env").stdout
        for line in exports.splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value
        stack.outputs = json.loads((state_dir / "stack.json").read_text())["outputs"]
        yield stack
    finally:
        stack.mlops("down", check=False, timeout=120)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The stack watching iris, as `make demo` runs it."""
    with running_stack(tmp_path_factory.mktemp("stack"), "iris") as started:
        yield started


@pytest.fixture(scope="session")
def penguins_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A second stack, deployed with DatasetName=penguins: the dataset is configuration, not code."""
    with running_stack(tmp_path_factory.mktemp("penguins"), "penguins") as started:
        yield started
