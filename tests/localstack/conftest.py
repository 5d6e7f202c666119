"""LocalStack 4.14 in host mode for the opt-in `localstack` tests (`make test-localstack`).

`localstack` starts, once per session, a moto server for LocalStack's DynamoDB and LocalStack itself from the
Python 3.13 environment MLOPS_LOCALSTACK_PYTHON names (`make test-localstack` builds `.venv-localstack/` and
sets it), through `localstack_host.py` and its workarounds. Without that variable every test here is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlops_local import services
from mlops_local.environment import CLIENT_CREDENTIALS

from tests.integration.conftest import free_port

PYTHON_VARIABLE = "MLOPS_LOCALSTACK_PYTHON"
REPO_ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = Path(__file__).with_name("localstack_host.py")
REGION = "us-east-1"
START_TIMEOUT_SECONDS = 120


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "localstack: needs LocalStack 4.14 in host mode (make test-localstack)")


@dataclass(frozen=True)
class LocalStack:
    endpoint_url: str
    port: int
    log: Path

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION, **CLIENT_CREDENTIALS)


def compose_services() -> str:
    """The services docker-compose.yml starts LocalStack with: the host-mode run serves the same ones."""
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    return compose["services"]["localstack"]["environment"]["SERVICES"]


@pytest.fixture(scope="session")
def localstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    python = os.environ.get(PYTHON_VARIABLE)
    if not python:
        pytest.skip(f"opt-in: `make test-localstack` runs these ({PYTHON_VARIABLE} names LocalStack's Python 3.13)")
    if not Path(python).is_file():
        pytest.fail(f"{PYTHON_VARIABLE}={python} does not exist: `make test-localstack` creates it")
    from moto.server import ThreadedMotoServer

    folder = tmp_path_factory.mktemp("localstack")
    dynamodb_port, port = free_port(), free_port()
    dynamodb = ThreadedMotoServer(ip_address="127.0.0.1", port=dynamodb_port, verbose=False)
    dynamodb.start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLOPS_"))},
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "GATEWAY_SERVER": "hypercorn",
        "DNS_ADDRESS": "0",
        "DYNAMODB_LOCAL_PORT": str(dynamodb_port),
        "SERVICES": compose_services(),
        # Host mode keeps its files under FILESYSTEM_ROOT; in a container LocalStack would take the container
        # layout (/var/lib/localstack) unless told it runs on a host.
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": str(folder / "filesystem"),
        # No analytics and no certificate download: there is nothing to reach, and each try costs seconds.
        "DISABLE_EVENTS": "1",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
    }
    pid = services.spawn("localstack", [python, str(LAUNCHER)], state_dir=folder, env=env)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        services.wait_http(
            f"{endpoint}/_localstack/health",
            timeout=START_TIMEOUT_SECONDS,
            name="localstack",
            pid=pid,
            state_dir=folder,
        )
        yield LocalStack(endpoint, port, folder / "logs" / "localstack.log")
    finally:
        services.stop_pid(pid, grace=20)
        dynamodb.stop()
