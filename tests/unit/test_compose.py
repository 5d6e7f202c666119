"""docker-compose.yml: LocalStack pinned, the auth token passed through, MLflow on PostgreSQL with its artifacts in
the stack's bucket on LocalStack S3, and the deploy defaults that name its services."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import yaml
from mlops_local import targets
from mlops_local.services import DEFAULT_STACK

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_PATH = REPO_ROOT / "docker-compose.yml"


def _load_bucket_script() -> Any:
    """The script the mlflow service runs; it is not in a package, so load it by path."""
    path = REPO_ROOT / "infra" / "compose" / "mlflow_artifacts_bucket.py"
    spec = importlib.util.spec_from_file_location("mlflow_artifacts_bucket", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUCKET_SCRIPT = _load_bucket_script()
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


def test_mlflow_keeps_its_artifacts_in_the_stacks_bucket(compose: dict[str, Any]) -> None:
    mlflow = compose["services"]["mlflow"]
    command = _command_text(mlflow)
    destination = re.search(r"--artifacts-destination\s+s3://(\S+?)/", command).group(1)
    # `$$` is compose's escape for the shell's `$`: the bucket is the script's answer, set before mlflow starts.
    assert destination == "$${ARTIFACTS_BUCKET}"
    assert "ARTIFACTS_BUCKET=$$(python /opt/mlops-compose/mlflow_artifacts_bucket.py) &&" in command
    assert command.index("mlflow_artifacts_bucket.py") < command.index("mlflow server")
    assert "./infra/compose:/opt/mlops-compose:ro" in mlflow["volumes"]
    assert (REPO_ROOT / "infra" / "compose" / "mlflow_artifacts_bucket.py").is_file()
    assert "mlflow-artifacts" not in COMPOSE_PATH.read_text()
    env = _environment(mlflow)
    assert _resolved_default(env["MLOPS_STACK_NAME"]) == DEFAULT_STACK == BUCKET_SCRIPT.DEFAULT_STACK
    assert _resolved_default(env["MLFLOW_ARTIFACTS_BUCKET"]) == ""
    assert env["AWS_ENDPOINT_URL"] == "http://localstack:4566"


def test_the_localstack_deploy_defaults_name_this_files_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    host, _, port = targets.COMPOSE_LOCALSTACK_HOST.partition(":")
    assert host in services and f"127.0.0.1:4566:{port}" in services[host]["ports"]
    mlflow = urlsplit(targets.COMPOSE_MLFLOW_URL)
    assert mlflow.hostname in services and f"--port {mlflow.port}" in _command_text(services[mlflow.hostname])
    ui = urlsplit(targets.COMPOSE_MLFLOW_UI_URL)
    assert f"127.0.0.1:{ui.port}:{mlflow.port}" in services["mlflow"]["ports"]
    # The Lambda containers join the compose network, where those service names resolve.
    network = _environment(services["localstack"])["LAMBDA_DOCKER_NETWORK"]
    assert network == f"{compose['name']}_default"


# ---------------------------------------------------------------- infra/compose/mlflow_artifacts_bucket.py

STACK_WITH_BUCKET = {
    "Resources": {"Artifacts": {"Type": "AWS::S3::Bucket"}},
    "Outputs": {"ArtifactsBucketName": {"Value": {"Ref": "Artifacts"}}},
}


def test_the_bucket_is_the_stacks_artifacts_bucket_output(aws: None) -> None:
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName="mlops-pipeline", TemplateBody=json.dumps(STACK_WITH_BUCKET))
    bucket = BUCKET_SCRIPT.artifacts_bucket(cloudformation, "mlops-pipeline")
    assert bucket in {b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]}


def test_no_stack_yet_says_to_deploy_first(aws: None) -> None:
    with pytest.raises(BUCKET_SCRIPT.NoBucketError, match=r"^no stack mlops-pipeline on LocalStack .*deploy it first"):
        BUCKET_SCRIPT.artifacts_bucket(boto3.client("cloudformation"), "mlops-pipeline")


def test_a_stack_without_the_output_says_to_deploy_first(aws: None) -> None:
    cloudformation = boto3.client("cloudformation")
    template = {"Resources": {"Other": {"Type": "AWS::S3::Bucket"}}}
    cloudformation.create_stack(StackName="other", TemplateBody=json.dumps(template))
    with pytest.raises(
        BUCKET_SCRIPT.NoBucketError, match=r"^stack other \(CREATE_COMPLETE\) has no ArtifactsBucketName"
    ):
        BUCKET_SCRIPT.artifacts_bucket(cloudformation, "other")


def test_the_script_prints_the_bucket_or_one_line_and_fails(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MLFLOW_ARTIFACTS_BUCKET", raising=False)
    monkeypatch.setenv("MLOPS_STACK_NAME", "missing")
    assert BUCKET_SCRIPT.main() == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("mlflow: no stack missing on LocalStack")
    assert len(captured.err.splitlines()) == 1
    monkeypatch.setenv("MLFLOW_ARTIFACTS_BUCKET", "chosen-bucket")
    assert BUCKET_SCRIPT.main() == 0
    assert capsys.readouterr().out == "chosen-bucket\n"


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
