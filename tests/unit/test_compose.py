"""docker-compose.yml: LocalStack pinned, the auth token passed through, MLflow on PostgreSQL + LocalStack S3."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_PATH = REPO_ROOT / "docker-compose.yml"
# Compose's `${NAME:-default}` interpolation.
_INTERPOLATION = re.compile(r"^\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    parsed = yaml.safe_load(COMPOSE_PATH.read_text())
    assert isinstance(parsed, dict)
    return parsed


def _resolved_default(value: str) -> str:
    """What compose uses when the variable is unset."""
    match = _INTERPOLATION.match(value)
    return (match.group(2) or "") if match else value


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: str(value) for key, value in env.items()}


def _command_text(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def test_the_three_services_exist(compose: dict[str, Any]) -> None:
    assert {"localstack", "postgres", "mlflow"} <= set(compose["services"])


def test_localstack_image_is_pinned_to_a_version(compose: dict[str, Any]) -> None:
    image = _resolved_default(compose["services"]["localstack"]["image"])
    repository, _, tag = image.rpartition(":")
    assert repository == "localstack/localstack"
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", tag), f"LocalStack image {image!r} is not pinned to a version"


def test_postgres_image_is_pinned_too(compose: dict[str, Any]) -> None:
    _, _, tag = _resolved_default(compose["services"]["postgres"]["image"]).rpartition(":")
    assert tag and tag != "latest"


def test_localstack_auth_token_comes_from_the_environment(compose: dict[str, Any]) -> None:
    value = _environment(compose["services"]["localstack"])["LOCALSTACK_AUTH_TOKEN"]
    match = _INTERPOLATION.match(value)
    assert match and match.group(1) == "LOCALSTACK_AUTH_TOKEN", value
    # No token is written into the file: the default is empty.
    assert not match.group(2)


def test_localstack_runs_the_services_the_template_needs(compose: dict[str, Any]) -> None:
    services = set(_environment(compose["services"]["localstack"])["SERVICES"].split(","))
    assert {"s3", "lambda", "stepfunctions", "events", "dynamodb", "cloudformation", "iam", "apigateway"} <= services


def test_mlflow_uses_postgres_and_localstack_s3(compose: dict[str, Any]) -> None:
    mlflow = compose["services"]["mlflow"]
    command = _command_text(mlflow)
    backend = re.search(r"--backend-store-uri\s+(\S+)", command)
    assert backend and backend.group(1).startswith("postgresql://"), command
    assert "@postgres:" in backend.group(1)
    artifacts = re.search(r"--(?:default-artifact-root|artifacts-destination)\s+(\S+)", command)
    assert artifacts and artifacts.group(1).startswith("s3://"), command
    endpoint = _environment(mlflow)["MLFLOW_S3_ENDPOINT_URL"]
    assert re.fullmatch(r"http://localstack:4566/?", endpoint), endpoint
    depends = mlflow["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["localstack"]["condition"] == "service_healthy"


def test_mlflow_creates_the_bucket_its_artifacts_go_to(compose: dict[str, Any]) -> None:
    command = _command_text(compose["services"]["mlflow"])
    bucket = re.search(r"--(?:default-artifact-root|artifacts-destination)\s+s3://([^/\s]+)", command).group(1)
    assert f"create_bucket(Bucket='{bucket}')" in command


def test_published_ports_bind_to_loopback_only(compose: dict[str, Any]) -> None:
    published = [
        (name, str(port)) for name, service in compose["services"].items() for port in service.get("ports", [])
    ]
    assert {name for name, _ in published} >= {"localstack", "mlflow"}
    for name, port in published:
        assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_compose_config_is_valid() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("the docker client is not on PATH")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip("the docker client has no compose plugin")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE_PATH), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
