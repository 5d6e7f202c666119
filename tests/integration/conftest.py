"""Integration fixtures: one embedded emulator per test session, on a free port, in a temporary state folder."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlops_local.environment import CLIENT_CREDENTIALS, CREDENTIALS_ENV

INFRA_DIR = Path(__file__).resolve().parents[2] / "infra"
READY_LINE = "emulator ready on "
START_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class RunningEmulator:
    """A running emulator process: where it listens and where it keeps its state and its own log."""

    endpoint_url: str
    region: str
    state_dir: Path
    port: int
    log_path: Path

    def client(self, service: str) -> Any:
        """A boto3 client for this emulator, independent of the caller's environment."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            **CLIENT_CREDENTIALS,
        )

    def environ(self) -> dict[str, str]:
        """Environment variables that point AWS SDKs and CLIs at this emulator."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            **CREDENTIALS_ENV,
        }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_ready(process: subprocess.Popen[bytes], log_path: Path, offset: int = 0) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if READY_LINE in log_path.read_bytes()[offset:].decode(errors="replace"):
            return
        if process.poll() is not None:
            pytest.fail(f"the emulator exited with {process.returncode}:\n{log_path.read_text()}")
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"the emulator did not start within {START_TIMEOUT_SECONDS} s:\n{log_path.read_text()}")


def start_emulator(
    state_dir: Path, port: int | None = None, *args: str
) -> tuple[subprocess.Popen[bytes], RunningEmulator]:
    """`python -m mlops_local.emulator` in its own process, logging to state_dir/emulator.log (appended)."""
    log_path = state_dir / "emulator.log"
    port = port or free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(INFRA_DIR), os.environ.get("PYTHONPATH", "")])}
    offset = log_path.stat().st_size if log_path.exists() else 0
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlops_local.emulator", "--port", str(port), "--state-dir", str(state_dir), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    _wait_until_ready(process, log_path, offset)
    return process, RunningEmulator(f"http://127.0.0.1:{port}", "us-east-1", state_dir, port, log_path)


def stop_emulator(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """The emulator as the command line runs it: `python -m mlops_local.emulator` in its own process.

    A process of its own keeps moto's global state away from tests that use moto's in-process mocks.
    """
    process, running = start_emulator(tmp_path_factory.mktemp("emulator"))
    try:
        yield running
    finally:
        stop_emulator(process)


def build_zip(files: dict[str, str]) -> bytes:
    """A zip archive of the given {path: text} files, as a deployment package or a layer."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def make_zip() -> Callable[[dict[str, str]], bytes]:
    return build_zip


@pytest.fixture(scope="session")
def lambda_role(emulator: RunningEmulator) -> str:
    """An execution role ARN (moto checks that a function's role exists)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = emulator.client("iam").create_role(RoleName="integration-lambda", AssumeRolePolicyDocument=json.dumps(trust))
    return role["Role"]["Arn"]
