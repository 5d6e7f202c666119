"""The deployer: reproducible zips, packaging to S3, ASL checks, the SAM transform, and create, update or create
again against CloudFormation (moto in process)."""

from __future__ import annotations

import copy
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from mlops_local.deployer import DeployResult, deploy, load_template, package_template, transform, zip_directory
from mlops_local.exceptions import DeployError, ToolError
from mlops_local.stack_values import DeployedStack
from mlops_local.targets import Target

REPO_ROOT = Path(__file__).resolve().parents[2]
ASL_PATH = REPO_ROOT / "statemachine" / "pipeline.asl.json"
BUCKET = "mlops-deployment-artifacts"


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


CODE = {
    "app.py": "def lambda_handler(event, context):\n    return event\n",
    "pkg/__init__.py": "",
    "pkg/x.py": "X = 1\n",
}


# ---------------------------------------------------------------- zip_directory


def test_zip_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    _write(first, CODE)
    # Same content written in the other order, with other timestamps and permissions.
    _write(second, dict(reversed(list(CODE.items()))))
    os.utime(second / "app.py", (1_000_000_000, 1_000_000_000))
    (second / "pkg" / "x.py").chmod(0o600)
    assert zip_directory(first) == zip_directory(first)
    assert zip_directory(first) == zip_directory(second)


def test_zip_changes_when_the_code_changes(tmp_path: Path) -> None:
    _write(tmp_path, CODE)
    before = zip_directory(tmp_path)
    (tmp_path / "pkg" / "x.py").write_text("X = 2\n")
    assert zip_directory(tmp_path) != before


def test_zip_excludes_caches_and_bytecode(tmp_path: Path) -> None:
    _write(tmp_path, CODE)
    _write(
        tmp_path,
        {
            "__pycache__/app.cpython-311.pyc": "x",
            "pkg/__pycache__/x.cpython-311.pyc": "x",
            "stray.pyc": "x",
            ".chalice/config.json": "{}",
            ".chalice/deployments/x.zip": "x",
            ".pytest_cache/v/cache": "x",
        },
    )
    archive = zipfile.ZipFile(io.BytesIO(zip_directory(tmp_path)))
    assert sorted(archive.namelist()) == sorted(CODE)
    assert archive.read("pkg/x.py") == b"X = 1\n"
    # Lambda runs code as another user: files must be readable by all.
    assert all((info.external_attr >> 16) & 0o444 == 0o444 for info in archive.infolist())


def test_zip_of_a_missing_folder_is_a_deploy_error(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="does not exist"):
        zip_directory(tmp_path / "nope")


# ---------------------------------------------------------------- load_template


def test_load_template_reads_short_form_intrinsics() -> None:
    template = load_template(REPO_ROOT / "template.yaml")
    assert template["Resources"]["ReportsBucketPolicy"]["Properties"]["Bucket"] == {"Ref": "ReportsBucket"}
    # Plain dicts, not cfn-lint's line-marked nodes: the translator and json.dumps take them as they are.
    assert type(template["Resources"]) is dict


def test_unparsable_template_is_a_deploy_error(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  A: [unclosed\n")
    with pytest.raises(DeployError, match="cannot parse template"):
        load_template(path)


# ---------------------------------------------------------------- package_template


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(REPO_ROOT / "template.yaml")


def _s3_object(s3: Any, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_package_uploads_code_and_rewrites_uris(s3: Any, template: dict[str, Any]) -> None:
    packaged, uploaded = package_template(template, REPO_ROOT, s3, BUCKET)
    resources = packaged["Resources"]
    code_resources = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion")
    }
    assert set(uploaded) == set(code_resources)
    for logical_id, original in code_resources.items():
        key = "CodeUri" if original["Type"] == "AWS::Serverless::Function" else "ContentUri"
        uri = resources[logical_id]["Properties"][key]
        assert uri == uploaded[logical_id]
        assert uri.startswith(f"s3://{BUCKET}/artifacts/{logical_id}-") and uri.endswith(".zip")
        assert _s3_object(s3, uri) == zip_directory(REPO_ROOT / original["Properties"][key])
    layer = zipfile.ZipFile(io.BytesIO(_s3_object(s3, uploaded["SharedLayer"])))
    assert "python/mlops_core/__init__.py" in layer.namelist()
    # The input template is left as it was.
    assert template["Resources"]["SharedLayer"]["Properties"]["ContentUri"] == "layers/shared/"


def test_package_inlines_the_state_machine_definition(s3: Any, template: dict[str, Any]) -> None:
    packaged, _ = package_template(template, REPO_ROOT, s3, BUCKET)
    machine = packaged["Resources"]["PipelineStateMachine"]["Properties"]
    assert "DefinitionUri" not in machine
    assert machine["Definition"] == json.loads(ASL_PATH.read_text())
    assert (
        machine["DefinitionSubstitutions"]
        == (template["Resources"]["PipelineStateMachine"]["Properties"]["DefinitionSubstitutions"])
    )


def test_unchanged_code_keeps_its_key(s3: Any, template: dict[str, Any]) -> None:
    _, first = package_template(template, REPO_ROOT, s3, BUCKET)
    _, second = package_template(template, REPO_ROOT, s3, BUCKET)
    assert first == second


def test_already_uploaded_code_is_not_uploaded_again(s3: Any) -> None:
    uri = "s3://elsewhere/code.zip"
    template = {"Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": uri}}}}
    packaged, _ = package_template(template, REPO_ROOT, s3, BUCKET)
    assert packaged["Resources"]["F"]["Properties"]["CodeUri"] == uri
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


def test_missing_code_folder_is_a_deploy_error(s3: Any, tmp_path: Path) -> None:
    template = {"Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "functions/x/"}}}}
    with pytest.raises(DeployError, match="functions/x"):
        package_template(template, tmp_path, s3, BUCKET)


def _machine_template(definition_uri: str = "machine.asl.json", **substitutions: str) -> dict[str, Any]:
    return {
        "Resources": {
            "Machine": {
                "Type": "AWS::Serverless::StateMachine",
                "Properties": {"DefinitionUri": definition_uri, "DefinitionSubstitutions": substitutions},
            }
        }
    }


def test_dangling_next_is_a_deploy_error_naming_the_state(s3: Any, tmp_path: Path) -> None:
    definition = json.loads(ASL_PATH.read_text())
    definition["States"]["RunAbTest"]["Next"] = "PromoteIfBettr"
    (tmp_path / "machine.asl.json").write_text(json.dumps(definition))
    template = load_template(REPO_ROOT / "template.yaml")
    names = template["Resources"]["PipelineStateMachine"]["Properties"]["DefinitionSubstitutions"]
    with pytest.raises(DeployError) as raised:
        package_template(_machine_template(**dict.fromkeys(names, "arn")), tmp_path, s3, BUCKET)
    message = str(raised.value)
    assert "machine.asl.json: invalid ASL" in message
    assert "state RunAbTest: transition to unknown state 'PromoteIfBettr'" in message
    # PromoteIfBetter is now reachable from nowhere: reported in the same message.
    assert "state PromoteIfBetter: unreachable from StartAt" in message


def test_missing_substitution_is_a_deploy_error(s3: Any, tmp_path: Path) -> None:
    (tmp_path / "machine.asl.json").write_text(ASL_PATH.read_text())
    with pytest.raises(DeployError, match=r"placeholder \$\{CheckDataDriftFunctionArn\} has no"):
        package_template(_machine_template(), tmp_path, s3, BUCKET)


def test_missing_definition_file_is_a_deploy_error(s3: Any, tmp_path: Path) -> None:
    with pytest.raises(DeployError, match=r"nope\.asl\.json: cannot read state machine definition"):
        package_template(_machine_template("nope.asl.json"), tmp_path, s3, BUCKET)


def test_invalid_json_definition_is_a_deploy_error(s3: Any, tmp_path: Path) -> None:
    (tmp_path / "machine.asl.json").write_text('{"StartAt": "A", "States": {')
    with pytest.raises(DeployError, match=r"machine\.asl\.json: cannot read state machine definition"):
        package_template(_machine_template(), tmp_path, s3, BUCKET)


def test_definition_that_is_not_an_object_is_a_deploy_error(s3: Any, tmp_path: Path) -> None:
    (tmp_path / "machine.asl.json").write_text("[]")
    with pytest.raises(DeployError, match="invalid ASL: definition: not a JSON object"):
        package_template(_machine_template(), tmp_path, s3, BUCKET)


# ---------------------------------------------------------------- transform


@pytest.fixture
def transformed(s3: Any, template: dict[str, Any]) -> dict[str, Any]:
    packaged, _ = package_template(template, REPO_ROOT, s3, BUCKET)
    return transform(packaged, {"DatasetName": "iris"}, boto3.client("iam"), "us-east-1")


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == kind}


def test_transform_yields_zip_functions_with_the_layer(transformed: dict[str, Any]) -> None:
    layers = _of_type(transformed, "AWS::Lambda::LayerVersion")
    assert len(layers) == 1
    (layer_id,) = layers
    assert layer_id.startswith("SharedLayer")
    assert layers[layer_id]["Content"]["S3Bucket"] == BUCKET
    functions = _of_type(transformed, "AWS::Lambda::Function")
    assert len(functions) == 8  # seven pipeline steps and the API
    for logical_id, props in functions.items():
        assert props["Layers"] == [{"Ref": layer_id}], logical_id
        assert props["Runtime"] == "python3.11"
        assert props["Code"]["S3Bucket"] == BUCKET
        assert props["Code"]["S3Key"].startswith(f"artifacts/{logical_id}-")
        assert props["Environment"]["Variables"]["DATA_BUCKET"] == {"Ref": "DataBucket"}
    assert functions["ApiFunction"]["Handler"] == "app.app"
    assert functions["TrainModelFunction"]["Handler"] == "app.lambda_handler"


def test_transform_wires_the_state_machine_and_the_schedule(transformed: dict[str, Any]) -> None:
    machine = _of_type(transformed, "AWS::StepFunctions::StateMachine")["PipelineStateMachine"]
    assert machine["DefinitionSubstitutions"]["TrainModelFunctionArn"] == {"Fn::GetAtt": ["TrainModelFunction", "Arn"]}
    rule = _of_type(transformed, "AWS::Events::Rule")["PipelineStateMachineDailySchedule"]
    assert rule["ScheduleExpression"] == "cron(0 6 * * ? *)"
    assert rule["Targets"][0]["Arn"] == {"Ref": "PipelineStateMachine"}
    # The execution gets the Scheduled Event: no constant Input on the target.
    assert "Input" not in rule["Targets"][0]


def test_transform_reports_invalid_sam_as_a_deploy_error(aws: None) -> None:
    broken = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {"Runtime": "python3.11"}}},
    }
    with pytest.raises(DeployError, match=r"not valid SAM.*\[F\]"):
        transform(copy.deepcopy(broken), {}, boto3.client("iam"), "us-east-1")


# ---------------------------------------------------------------- values of a deployed template

SMALL_TEMPLATE: dict[str, Any] = {
    "Parameters": {"Stage": {"Type": "String", "Default": "dev"}, "Endpoint": {"Type": "String", "Default": ""}},
    "Conditions": {
        "HasEndpoint": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Endpoint"}, ""]}]},
        "IsProd": {"Fn::And": [{"Condition": "HasEndpoint"}, {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}]},
    },
    "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}, "Queue": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {
        "BucketName": {"Value": {"Ref": "Bucket"}},
        "QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}},
    },
}


def _stack(**parameters: str) -> DeployedStack:
    outputs = {"BucketName": "b-123", "QueueArn": "arn:aws:sqs:eu-west-1:1:q"}
    return DeployedStack(SMALL_TEMPLATE, parameters, outputs, stack_name="demo", region="eu-west-1")


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("plain", "plain"),
        (0.5, "0.5"),
        (False, "false"),
        ({"Ref": "Stage"}, "dev"),
        ({"Ref": "Bucket"}, "b-123"),
        ({"Fn::GetAtt": "Queue.Arn"}, "arn:aws:sqs:eu-west-1:1:q"),
        (
            {"Fn::Sub": "${AWS::StackName}-${Stage}-${Bucket}-${Queue.Arn}-${!Literal}"},
            "demo-dev-b-123-arn:aws:sqs:eu-west-1:1:q-${Literal}",
        ),
        ({"Fn::Sub": ["${Where}/${AWS::Region}", {"Where": {"Ref": "Bucket"}}]}, "b-123/eu-west-1"),
        ({"Fn::If": ["HasEndpoint", "yes", "no"]}, "no"),
        ({"Fn::Join": [":", [{"Ref": "Stage"}, "x"]]}, "dev:x"),
    ],
)
def test_a_deployed_stack_resolves_intrinsics_from_parameters_and_outputs(expression: Any, value: str) -> None:
    assert _stack().resolve(expression) == value


def test_conditions_follow_the_parameters_the_deploy_passed() -> None:
    assert _stack(Endpoint="http://e", Stage="prod").condition("IsProd")
    assert not _stack(Endpoint="http://e").condition("IsProd")
    assert _stack(Endpoint="http://e").resolve({"Fn::If": ["HasEndpoint", {"Ref": "Endpoint"}, "no"]}) == "http://e"


def test_a_value_no_output_records_is_an_error_naming_it() -> None:
    with pytest.raises(ToolError, match=r"^cannot work out QUEUE_URL: no stack output has the value !GetAtt Queue.Url"):
        _stack().resolve({"Fn::GetAtt": ["Queue", "Url"]}, what="QUEUE_URL")


# ---------------------------------------------------------------- create, update, create again

SMALL_SAM_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Label: {Type: String, Default: one}
Resources:
  Bucket:
    Type: AWS::S3::Bucket
Outputs:
  BucketName: {Value: !Ref Bucket}
  Label: {Value: !Ref Label}
"""
STACK = "small-stack"


@pytest.fixture
def small_template(tmp_path: Path) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(SMALL_SAM_TEMPLATE)
    return path


@pytest.fixture
def moto_target(aws: None) -> Target:
    # In-process moto stands in for LocalStack: with no endpoint the clients reach moto's mock.
    return Target("localstack", None, "us-east-1", BUCKET)


def _deploy(target: Target, template_path: Path, label: str = "one") -> DeployResult:
    return deploy(
        target, template_path=template_path, stack_name=STACK, parameters={"Label": label}, timeout_seconds=30
    )


def _stack_id() -> str:
    return boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["StackId"]


def _leave_stack(status: str, reason: str) -> None:
    """Put the stack in `status` with a failure event, as a failed create or update leaves it."""
    from moto.cloudformation.models import cloudformation_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    (stack,) = [s for s in cloudformation_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].stacks.values() if s.name == STACK]
    stack.status = status
    stack._add_stack_event(status.replace("COMPLETE", "FAILED"), resource_status_reason=reason)


def test_a_new_stack_is_created_with_its_outputs(moto_target: Target, small_template: Path) -> None:
    result = _deploy(moto_target, small_template)
    assert (result.stack_name, result.status) == (STACK, "CREATE_COMPLETE")
    assert result.outputs["Label"] == "one"
    assert boto3.client("s3").head_bucket(Bucket=result.outputs["BucketName"])


def test_a_changed_stack_is_updated_in_place(moto_target: Target, small_template: Path) -> None:
    _deploy(moto_target, small_template)
    first = _stack_id()
    result = _deploy(moto_target, small_template, label="two")
    assert (result.status, result.outputs["Label"]) == ("UPDATE_COMPLETE", "two")
    assert _stack_id() == first


@pytest.mark.parametrize("failed", ["CREATE_FAILED", "ROLLBACK_COMPLETE"])
def test_a_stack_whose_create_failed_is_deleted_and_created_again(
    failed: str, moto_target: Target, small_template: Path
) -> None:
    # LocalStack 4.14 leaves a failed create CREATE_FAILED, AWS ROLLBACK_COMPLETE. Redeploying the same template
    # used to get "No updates are to be performed" and report the old failure again.
    _deploy(moto_target, small_template)
    first = _stack_id()
    _leave_stack(failed, "Bucket: the old failure")
    result = _deploy(moto_target, small_template)
    assert (result.status, result.outputs["Label"]) == ("CREATE_COMPLETE", "one")
    assert _stack_id() != first


def test_an_unchanged_template_after_a_rolled_back_update_is_no_error(
    moto_target: Target, small_template: Path
) -> None:
    # The rollback restored this very template: nothing to update, and the update's old failure is not news.
    _deploy(moto_target, small_template)
    _leave_stack("UPDATE_ROLLBACK_COMPLETE", "Bucket: the failed update")
    assert _deploy(moto_target, small_template).status == "UPDATE_ROLLBACK_COMPLETE"


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("http://127.0.0.1:4566", "http://localhost:4566"),
        ("http://[::1]:4566", "http://localhost:4566"),
        ("http://localhost:4566", "http://localhost:4566"),
        ("https://s3.us-east-1.amazonaws.com", "https://s3.us-east-1.amazonaws.com"),
    ],
)
def test_a_large_template_is_referenced_by_a_url_moto_reads_from_its_own_s3(endpoint: str, expected: str) -> None:
    from mlops_local.deployer import _loopback_as_localhost

    assert _loopback_as_localhost(endpoint) == expected


def test_a_template_over_the_inline_limit_goes_through_s3_and_moto_finds_it() -> None:
    from mlops_local.deployer import _loopback_as_localhost, _template_reference
    from moto import mock_aws
    from moto.cloudformation.utils import get_stack_from_s3_url

    body = '{"Resources": {}, "Description": "' + "x" * 60_000 + '"}'
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="deploy-bucket")
        reference = _template_reference(s3, "deploy-bucket", body)
        key = reference["TemplateURL"].split("/deploy-bucket/", 1)[1]
        assert key.startswith("templates/")
        # what the emulator's CloudFormation receives for this object, its S3 being at 127.0.0.1
        url = f"{_loopback_as_localhost('http://127.0.0.1:4566')}/deploy-bucket/{key}"
        assert get_stack_from_s3_url(url, account_id="123456789012", partition="aws") == body
