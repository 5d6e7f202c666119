"""Deploy targets: picking one, the AWS target's rewrite of zip functions into one container image, what a deploy
to LocalStack or AWS records, and the CLI's commands on a recorded target."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from mlops_local import deployments, environment
from mlops_local.cli import main
from mlops_local.deployer import DeployResult, load_template, package_template, transform
from mlops_local.deployments import Deployment
from mlops_local.exceptions import DeployError, StackNotUpError, ToolError
from mlops_local.targets import DEFAULT_ENDPOINT, Target, emulator_target, resolve_target, to_image_functions

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-pipeline:abc123"
STEP_FUNCTIONS = {
    "CheckDataDriftFunction": "check_data_drift",
    "TrainModelFunction": "train_model",
    "EvaluateCandidateFunction": "evaluate_candidate",
    "RunAbTestFunction": "run_ab_test",
    "FindPendingCandidateFunction": "find_pending_candidate",
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


# ---------------------------------------------------------------- defaults a target passes


def test_localstack_passes_what_docker_compose_needs_unless_given() -> None:
    target = Target("localstack", "http://127.0.0.1:4566", "us-east-1", "b")
    assert target.default_parameters() == {
        "LocalStackHost": "localstack:4566",
        "MlflowTrackingUri": "http://mlflow:5000",
        "MlflowUiUrl": "http://localhost:5000",
        "S3PublicEndpoint": "http://127.0.0.1:4566",
    }
    for other in (emulator_target(DEFAULT_ENDPOINT), Target("aws", None, "us-east-1", "b", IMAGE_URI)):
        assert other.default_parameters() == {}


# ---------------------------------------------------------------- what a deploy records

LOCALSTACK_OUTPUTS = {
    "ApiUrl": "http://localstack:4566/restapis/abc123/Prod/_user_request_",
    "StateMachineArn": "arn:aws:states:us-east-1:000000000000:stateMachine:pipeline",
    "DataBucketName": "stack-databucket-1",
    "ReportsBucketName": "stack-reportsbucket-2",
    "DailyScheduleRuleName": "stack-daily",
}


def _deployment(name: str = "localstack", **changes: Any) -> Deployment:
    endpoint = "http://127.0.0.1:4566" if name == "localstack" else None
    record = Deployment(
        name=name,
        endpoint_url=endpoint,
        region="us-east-1",
        deploy_bucket="mlops-deployment-artifacts",
        stack_name="mlops-pipeline",
        outputs=dict(LOCALSTACK_OUTPUTS),
        parameters={"DatasetName": "penguins", "LocalStackHost": "localstack:4566", "MlflowUiUrl": ""},
        deployed_at="2026-12-01T06:00:00Z",
    )
    return dataclasses.replace(record, **changes)


def test_recorded_parameters_are_the_values_the_stack_runs_with_secrets_left_out(template: dict[str, Any]) -> None:
    given = {"DatasetName": "penguins", "ApiKey": "s3cret", "MlflowTrackingPassword": "pw", "DriftShare": "0.3"}
    values = deployments.effective_parameters(template, given)
    assert (values["DatasetName"], values["DriftShare"], values["BootstrapResamples"]) == ("penguins", "0.3", "2000")
    assert "ApiKey" not in values and "MlflowTrackingPassword" not in values
    assert set(values) == {name for name, p in template["Parameters"].items() if not p.get("NoEcho")}


def test_a_record_round_trips_through_the_state_folder(tmp_path: Path) -> None:
    record = _deployment()
    path = deployments.save(tmp_path, record)
    assert path == tmp_path / "targets" / "localstack.json"
    assert deployments.load(tmp_path, "localstack") == record
    assert deployments.recorded(tmp_path) == ["localstack"]


def test_a_damaged_record_is_one_line_naming_the_redeploy(tmp_path: Path) -> None:
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "aws.json").write_text('{"name": "aws"}')
    with pytest.raises(ToolError, match=r"aws\.json is not a deploy record .*`mlops deploy --target aws`$"):
        deployments.load(tmp_path, "aws")


def test_the_api_from_this_machine_is_localstacks_gateway_under_the_endpoint() -> None:
    assert _deployment().api_url == "http://127.0.0.1:4566/restapis/abc123/Prod/_user_request_"
    aws_url = "https://abc123.execute-api.eu-west-1.amazonaws.com/Prod"
    aws = _deployment("aws", outputs={"ApiUrl": aws_url}, parameters={})
    assert aws.api_url == aws_url
    given = _deployment(outputs={"ApiUrl": "http://api.example:8000"})
    assert given.api_url == "http://api.example:8000"


def test_a_record_reads_its_dataset_and_mlflow_link_from_the_parameters() -> None:
    record = _deployment(parameters={"DatasetName": "penguins", "MlflowTrackingUri": "http://mlflow:5000"})
    assert (record.dataset, record.mlflow_url) == ("penguins", "http://mlflow:5000")
    record = _deployment(parameters={"MlflowTrackingUri": "http://mlflow:5000", "MlflowUiUrl": "http://localhost:5000"})
    assert (record.dataset, record.mlflow_url) == ("iris", "http://localhost:5000")
    assert record.target() == Target("localstack", "http://127.0.0.1:4566", "us-east-1", "mlops-deployment-artifacts")


# ---------------------------------------------------------------- which stack a command works on


def _record(state_dir: Path, *names: str) -> None:
    for name in names:
        deployments.save(state_dir, _deployment(name))


@pytest.mark.parametrize(
    ("embedded", "records", "requested", "chosen"),
    [
        (True, (), None, "emulator"),
        (True, ("localstack",), None, "emulator"),
        (False, ("localstack",), None, "localstack"),
        (False, ("aws",), None, "aws"),
        (True, ("localstack", "aws"), "aws", "aws"),
        (False, (), "emulator", "emulator"),
    ],
)
def test_the_chosen_stack(
    tmp_path: Path, embedded: bool, records: tuple[str, ...], requested: str | None, chosen: str
) -> None:
    _record(tmp_path, *records)
    assert deployments.choose(tmp_path, requested, embedded=embedded) == chosen


def test_no_stack_at_all_says_how_to_start_or_deploy_one(tmp_path: Path) -> None:
    with pytest.raises(StackNotUpError) as raised:
        deployments.choose(tmp_path, None, embedded=False)
    assert str(raised.value) == (
        "the stack is not up: run `mlops up` (or `make demo`) first, or deploy one with "
        "`mlops deploy --target localstack|aws`"
    )


def test_several_recorded_targets_and_no_embedded_stack_ask_for_one(tmp_path: Path) -> None:
    _record(tmp_path, "localstack", "aws")
    with pytest.raises(ToolError) as raised:
        deployments.choose(tmp_path, None, embedded=False)
    assert str(raised.value) == (
        f"deploys to localstack and aws are recorded in {tmp_path} and no embedded stack: pick one with --target"
    )


def test_a_target_without_a_record_names_the_deploy_and_the_others(tmp_path: Path) -> None:
    _record(tmp_path, "localstack")
    with pytest.raises(ToolError) as raised:
        deployments.choose(tmp_path, "aws", embedded=True)
    assert str(raised.value) == (
        f"no deploy to aws is recorded in {tmp_path}: run `mlops deploy --target aws` first, "
        "or pick one of: emulator, localstack"
    )


# ---------------------------------------------------------------- the CLI on a recorded target


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlops: error: "), lines
    return lines[0]


@pytest.mark.parametrize("command", [["run"], ["seed"], ["simulate"], ["trigger"], ["logs", "train_model"], ["env"]])
def test_commands_without_any_stack_say_how_to_get_one(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--state-dir", str(tmp_path / "state"), *command]) == 1
    assert "`mlops deploy --target localstack|aws`" in _one_error_line(capsys)
    assert not (tmp_path / "state").exists()


def test_a_command_on_a_target_never_deployed_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state-dir", str(tmp_path), "env", "--target", "aws"]) == 1
    assert "no deploy to aws is recorded" in _one_error_line(capsys)


def test_status_with_two_targets_asks_for_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _record(tmp_path, "localstack", "aws")
    assert main(["--state-dir", str(tmp_path), "status"]) == 1
    assert "pick one with --target" in _one_error_line(capsys)


def test_an_unreachable_localstack_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    deployments.save(tmp_path, _deployment(endpoint_url="http://127.0.0.1:9"))
    assert main(["--state-dir", str(tmp_path), "run", "--no-wait"]) == 1
    line = _one_error_line(capsys)
    assert "cannot reach the stack" in line and line.endswith(
        "is LocalStack up at http://127.0.0.1:9? (`docker compose up -d localstack`)"
    )


def _exports(out: str) -> dict[str, str]:
    return dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines() if line.startswith("export "))


def test_env_of_a_localstack_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _record(tmp_path, "localstack")
    assert main(["--state-dir", str(tmp_path), "env"]) == 0
    out = capsys.readouterr().out
    exports = _exports(out)
    assert exports["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert exports["LOCALSTACK_HOST"] == "127.0.0.1:4566"
    assert exports["API_URL"] == "http://127.0.0.1:4566/restapis/abc123/Prod/_user_request_"
    assert exports["STATE_MACHINE_ARN"] == LOCALSTACK_OUTPUTS["StateMachineArn"]
    assert exports["AWS_ACCESS_KEY_ID"] == environment.ACCESS_KEY_ID
    # The key is a NoEcho parameter: never recorded, so never printed.
    assert "API_KEY" not in exports and "# API_KEY" in out


def test_env_of_an_aws_stack_unsets_the_endpoint_and_keeps_your_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployments.save(tmp_path, _deployment("aws", region="eu-west-1"))
    assert main(["--state-dir", str(tmp_path), "env", "--target", "aws"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("unset AWS_ENDPOINT_URL LOCALSTACK_HOST")
    exports = _exports(out)
    assert exports["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert not {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(exports)


def test_deploy_to_localstack_records_the_target_with_compose_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_local import deployer

    passed: dict[str, Any] = {}

    def fake_deploy(target: Target, **kwargs: Any) -> DeployResult:
        passed.update(kwargs, target=target)
        return DeployResult(kwargs["stack_name"], "CREATE_COMPLETE", {**LOCALSTACK_OUTPUTS, "ArtifactsBucketName": "a"})

    monkeypatch.setattr(deployer, "deploy", fake_deploy)
    argv = [
        "--state-dir",
        str(tmp_path),
        "deploy",
        "--target",
        "localstack",
        "--endpoint-url",
        "http://127.0.0.1:4566/",
    ]
    assert main([*argv, "--parameter", "ApiKey=k", "--parameter", "MlflowUiUrl=https://mlflow.example"]) == 0
    assert passed["parameters"] == {
        "LocalStackHost": "localstack:4566",
        "MlflowTrackingUri": "http://mlflow:5000",
        "MlflowUiUrl": "https://mlflow.example",
        "S3PublicEndpoint": "http://127.0.0.1:4566",
        "ApiKey": "k",
    }
    record = deployments.load(tmp_path, "localstack")
    assert (record.endpoint_url, record.region, record.stack_name) == (
        "http://127.0.0.1:4566",
        "us-east-1",
        "mlops-pipeline",
    )
    assert record.outputs["ArtifactsBucketName"] == "a"
    assert record.parameters["MlflowUiUrl"] == "https://mlflow.example" and "ApiKey" not in record.parameters
    out = capsys.readouterr().out
    assert "docker compose up -d mlflow" in out and " a " in out


# ---------------------------------------------------------------- the CLI on AWS (moto in process)


@pytest.fixture
def aws_stack(aws: None, tmp_path: Path) -> Deployment:
    """An AWS record whose stack, buckets, state machine and rule exist in moto."""
    s3, sfn, events = boto3.client("s3"), boto3.client("stepfunctions"), boto3.client("events")
    s3.create_bucket(Bucket="data-bucket")
    machine = sfn.create_state_machine(
        name="pipeline",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    events.put_rule(Name="daily", ScheduleExpression="cron(0 6 * * ? *)", State="ENABLED")
    events.put_targets(Rule="daily", Targets=[{"Id": "pipeline", "Arn": machine}])
    boto3.client("cloudformation").create_stack(
        StackName="mlops-pipeline", TemplateBody=json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}})
    )
    outputs = {"StateMachineArn": machine, "DataBucketName": "data-bucket", "DailyScheduleRuleName": "daily"}
    record = _deployment("aws", outputs=outputs, parameters={"DatasetName": "iris"})
    deployments.save(tmp_path, record)
    return record


def test_seed_writes_to_the_recorded_stacks_bucket(
    aws_stack: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--state-dir", str(tmp_path), "seed"]) == 0
    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="data-bucket")["Contents"]}
    assert "datasets/iris/dataset.json" in keys
    assert "s3://data-bucket/" in capsys.readouterr().out


def test_trigger_on_aws_starts_what_the_rule_starts_with_the_scheduled_event(
    aws_stack: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--state-dir", str(tmp_path), "trigger", "--target", "aws"]) == 0
    out = capsys.readouterr().out
    assert "EventBridge on aws has no call that fires a scheduled rule by hand" in out
    sfn = boto3.client("stepfunctions")
    (execution,) = sfn.list_executions(stateMachineArn=aws_stack.outputs["StateMachineArn"])["executions"]
    assert execution["name"].startswith("daily-") and f"fired daily: {execution['executionArn']}" in out
    event = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert event["detail-type"] == "Scheduled Event" and event["resources"][0].endswith(":rule/daily")


def test_status_of_an_aws_stack(aws_stack: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state-dir", str(tmp_path), "status"]) == 0
    out = capsys.readouterr().out
    assert "aws (region us-east-1), stack mlops-pipeline: CREATE_COMPLETE" in out
    assert "recent executions:" in out


def test_status_of_a_deleted_stack_says_to_deploy_again(
    aws_stack: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("cloudformation").delete_stack(StackName="mlops-pipeline")
    assert main(["--state-dir", str(tmp_path), "status", "--target", "aws"]) == 1
    assert _one_error_line(capsys).endswith(
        "stack mlops-pipeline no longer exists on aws: deploy it again with `mlops deploy --target aws`"
    )
