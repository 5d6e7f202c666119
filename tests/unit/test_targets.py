"""Deploy targets: picking one, and the AWS target's rewrite of zip functions into one container image."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import boto3
import pytest
from mlops_local import environment
from mlops_local.deployer import load_template, package_template, transform
from mlops_local.exceptions import DeployError
from mlops_local.targets import DEFAULT_ENDPOINT, Target, emulator_target, resolve_target, to_image_functions

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-pipeline:abc123"
STEP_FUNCTIONS = {
    "CheckDataDriftFunction": "check_data_drift",
    "TrainModelFunction": "train_model",
    "EvaluateCandidateFunction": "evaluate_candidate",
    "RunAbTestFunction": "run_ab_test",
    "PromoteIfBetterFunction": "promote_if_better",
    "GenerateReportFunction": "generate_report",
}
ZIP_ONLY_PROPERTIES = ("CodeUri", "Handler", "Runtime", "Layers")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(REPO_ROOT / "template.yaml")


@pytest.fixture
def imaged(template: dict[str, Any]) -> dict[str, Any]:
    return to_image_functions(template, IMAGE_URI)


@pytest.fixture
def clean_target_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (environment.TARGET, "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)


# ---------------------------------------------------------------- to_image_functions


def test_step_functions_become_image_functions_with_their_handler(imaged: dict[str, Any]) -> None:
    for logical_id, step in STEP_FUNCTIONS.items():
        props = imaged["Resources"][logical_id]["Properties"]
        assert props["PackageType"] == "Image"
        assert props["ImageUri"] == IMAGE_URI
        assert props["ImageConfig"] == {"Command": [f"functions.{step}.app.lambda_handler"]}
        for key in ZIP_ONLY_PROPERTIES:
            assert key not in props, f"{logical_id} keeps {key}"


def test_api_function_points_at_the_chalice_app_object(imaged: dict[str, Any]) -> None:
    props = imaged["Resources"]["ApiFunction"]["Properties"]
    assert props["PackageType"] == "Image"
    assert props["ImageConfig"] == {"Command": ["app.app.app"]}
    assert "Handler" not in props and "CodeUri" not in props


def test_image_commands_name_importable_handlers(imaged: dict[str, Any]) -> None:
    # The Dockerfile copies functions/ and app/ under the task root: each command is a path from there.
    for logical_id, resource in imaged["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        (command,) = resource["Properties"]["ImageConfig"]["Command"]
        module, _, attribute = command.rpartition(".")
        source = REPO_ROOT / (module.replace(".", "/") + ".py")
        assert source.is_file(), f"{logical_id}: {source}"
        assert f"{attribute} = " in source.read_text() or f"def {attribute}(" in source.read_text()


def test_globals_lose_the_zip_only_keys_and_keep_the_rest(template: dict[str, Any], imaged: dict[str, Any]) -> None:
    function_globals = imaged["Globals"]["Function"]
    for key in ZIP_ONLY_PROPERTIES:
        assert key not in function_globals
    assert function_globals["Environment"] == template["Globals"]["Function"]["Environment"]
    assert function_globals["Timeout"] == template["Globals"]["Function"]["Timeout"]


def test_the_input_template_is_not_modified(template: dict[str, Any]) -> None:
    before = copy.deepcopy(template)
    to_image_functions(template, IMAGE_URI)
    assert template == before


def test_functions_without_docker_metadata_are_left_alone(template: dict[str, Any]) -> None:
    edited = copy.deepcopy(template)
    del edited["Resources"]["GenerateReportFunction"]["Metadata"]
    props = to_image_functions(edited, IMAGE_URI)["Resources"]["GenerateReportFunction"]["Properties"]
    assert "PackageType" not in props
    assert props["CodeUri"] == "functions/generate_report/"


def test_image_function_without_code_folder_is_a_deploy_error(template: dict[str, Any]) -> None:
    edited = copy.deepcopy(template)
    del edited["Resources"]["TrainModelFunction"]["Properties"]["CodeUri"]
    with pytest.raises(DeployError, match="TrainModelFunction"):
        to_image_functions(edited, IMAGE_URI)


def test_image_template_transforms_with_the_sam_translator(aws: None, imaged: dict[str, Any]) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="deploy")
    packaged, uploaded = package_template(imaged, REPO_ROOT, s3, "deploy")
    # Image functions ship in the image; only the layer is still uploaded.
    assert set(uploaded) == {"SharedLayer"}
    transformed = transform(packaged, {}, boto3.client("iam"), "us-east-1")
    functions = {
        logical_id: resource["Properties"]
        for logical_id, resource in transformed["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    assert set(functions) == {*STEP_FUNCTIONS, "ApiFunction"}
    for logical_id, props in functions.items():
        assert props["PackageType"] == "Image", logical_id
        assert props["Code"] == {"ImageUri": IMAGE_URI}
        assert "Handler" not in props and "Runtime" not in props and "Layers" not in props
    assert functions["TrainModelFunction"]["ImageConfig"]["Command"] == ["functions.train_model.app.lambda_handler"]


# ---------------------------------------------------------------- resolve_target


def test_default_target_is_the_emulator(clean_target_env: None) -> None:
    target = resolve_target()
    assert target == Target("emulator", DEFAULT_ENDPOINT, "us-east-1", "mlops-deployment-artifacts")
    assert target == emulator_target(DEFAULT_ENDPOINT)
    assert target.emulated


def test_environment_beats_the_default(clean_target_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(environment.TARGET, "localstack")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566/")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    target = resolve_target()
    assert (target.name, target.endpoint_url, target.region) == ("localstack", "http://localhost:4566", "eu-west-1")


def test_argument_beats_the_environment(clean_target_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(environment.TARGET, "localstack")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://from-env:4566")
    target = resolve_target("emulator", endpoint_url="http://127.0.0.1:4999/")
    assert (target.name, target.endpoint_url) == ("emulator", "http://127.0.0.1:4999")


def test_unknown_target_is_a_deploy_error(clean_target_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DeployError, match=r"unknown target 'bogus': use emulator, localstack or aws"):
        resolve_target("bogus")
    monkeypatch.setenv(environment.TARGET, "lokalstack")
    with pytest.raises(DeployError, match="'lokalstack'"):
        resolve_target()


def test_aws_target_is_not_emulated_and_names_its_bucket_after_the_account(aws: None) -> None:
    target = resolve_target("aws", image_uri=IMAGE_URI)
    account = boto3.client("sts").get_caller_identity()["Account"]
    assert target == Target("aws", None, "us-east-1", f"mlops-deployment-{account}-us-east-1", IMAGE_URI)
    assert not target.emulated


def test_aws_target_without_image_uri_is_a_deploy_error(template: dict[str, Any]) -> None:
    target = Target("aws", None, "us-east-1", "mlops-deployment-123456789012-us-east-1")
    with pytest.raises(DeployError, match="--image-uri"):
        target.prepare_template(template)


def test_emulated_targets_deploy_the_template_unchanged(template: dict[str, Any]) -> None:
    for name in ("emulator", "localstack"):
        target = Target(name, DEFAULT_ENDPOINT, "us-east-1", "mlops-deployment-artifacts")
        assert target.prepare_template(template) == template


def test_aws_target_with_image_uri_rewrites_the_functions(template: dict[str, Any]) -> None:
    target = Target("aws", None, "us-east-1", "bucket", IMAGE_URI)
    assert target.prepare_template(template) == to_image_functions(template, IMAGE_URI)


def test_emulated_clients_use_throwaway_credentials(clean_target_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKINGKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    client = Target("emulator", "http://127.0.0.1:4999", "us-east-1", "b").client("s3")
    assert client.meta.endpoint_url == "http://127.0.0.1:4999"
    credentials = client._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key) == (
        environment.ACCESS_KEY_ID,
        environment.SECRET_ACCESS_KEY,
    )
