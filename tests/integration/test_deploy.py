"""The real template.yaml deployed to the emulator as `mlops up` deploys it: outputs, layers, env, ARNs."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from mlops_local.api_gateway import invoke_url
from mlops_local.cli import _parameters as cli_parameters
from mlops_local.deployer import DeployResult, deploy
from mlops_local.exceptions import DeployError
from mlops_local.services import Ports, StackState, api_environment
from mlops_local.targets import Target

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"
STEP_FUNCTION_OUTPUTS = {
    "CheckDataDriftFunction": "CheckDataDriftFunctionName",
    "TrainModelFunction": "TrainModelFunctionName",
    "EvaluateCandidateFunction": "EvaluateCandidateFunctionName",
    "RunAbTestFunction": "RunAbTestFunctionName",
    "FindPendingCandidateFunction": "FindPendingCandidateFunctionName",
    "PromoteIfBetterFunction": "PromoteIfBetterFunctionName",
    "GenerateReportFunction": "GenerateReportFunctionName",
}
DEPLOY_TIMEOUT_SECONDS = 60


def _target(emulator: Any) -> Target:
    return Target("emulator", emulator.endpoint_url, emulator.region, "mlops-deployment-artifacts")


def _state(emulator: Any) -> StackState:
    # Nothing listens on the MLflow and API ports: deploying only records them.
    return StackState(
        state_dir="unused", ports=Ports(emulator=emulator.port, mlflow=59999, api=59998), api_key="integration-key"
    )


def _parameters(emulator: Any) -> dict[str, str]:
    """What `mlops up` passes, with the schedule off so the session's emulator never starts a run on its own."""
    return {**cli_parameters(_state(emulator)), "ScheduleState": "DISABLED"}


def _stack_name(label: str) -> str:
    return f"it-{label}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def deployed(emulator: Any) -> DeployResult:
    return deploy(
        _target(emulator),
        template_path=TEMPLATE,
        stack_name=_stack_name("deploy"),
        parameters=_parameters(emulator),
        timeout_seconds=DEPLOY_TIMEOUT_SECONDS,
    )


def test_stack_is_created_with_every_output(deployed: DeployResult, emulator: Any) -> None:
    from mlops_local.cli import STEP_FUNCTIONS

    assert deployed.status == "CREATE_COMPLETE"
    expected = {
        "DataBucketName",
        "ReportsBucketName",
        "ArtifactsBucketName",
        "AbTableName",
        "SharedLayerArn",
        "StateMachineArn",
        "DailyScheduleRuleName",
        "ReportsWebsiteUrl",
        "ApiUrl",
        *STEP_FUNCTIONS.values(),
    }
    assert expected <= set(deployed.outputs)
    assert all(deployed.outputs[key] for key in expected), deployed.outputs
    # The stack's own stage, at the emulator's API Gateway (what `mlops up` passes: no ApiUrl of its own).
    api_id = emulator.client("cloudformation").describe_stack_resource(
        StackName=deployed.stack_name, LogicalResourceId="PredictionApi"
    )["StackResourceDetail"]["PhysicalResourceId"]
    assert deployed.outputs["ApiUrl"] == invoke_url(emulator.endpoint_url, api_id, "Prod")
    assert deployed.outputs["StateMachineArn"].startswith("arn:aws:states:us-east-1:")


def test_resources_exist_where_the_outputs_say(emulator: Any, deployed: DeployResult) -> None:
    outputs = deployed.outputs
    s3 = emulator.client("s3")
    for key in ("DataBucketName", "ReportsBucketName", "ArtifactsBucketName"):
        s3.head_bucket(Bucket=outputs[key])
    table = emulator.client("dynamodb").describe_table(TableName=outputs["AbTableName"])["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    ttl = emulator.client("dynamodb").describe_time_to_live(TableName=outputs["AbTableName"])
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    # The machine lives in the backend that executes: listing is what `mlops run` relies on.
    machines = emulator.client("stepfunctions").list_state_machines()["stateMachines"]
    assert outputs["StateMachineArn"] in {m["stateMachineArn"] for m in machines}
    rule = emulator.client("events").describe_rule(Name=outputs["DailyScheduleRuleName"])
    assert rule["ScheduleExpression"] == "cron(0 6 * * ? *)"
    assert rule["State"] == "DISABLED"


def test_functions_have_the_layer_and_resolved_environment(emulator: Any, deployed: DeployResult) -> None:
    outputs = deployed.outputs
    lambda_client = emulator.client("lambda")
    names = {logical_id: outputs[key] for logical_id, key in STEP_FUNCTION_OUTPUTS.items()}
    names["ApiFunction"] = outputs["ApiFunctionName"]
    for logical_id, name in names.items():
        config = lambda_client.get_function_configuration(FunctionName=name)
        assert [layer["Arn"] for layer in config["Layers"]] == [outputs["SharedLayerArn"]], logical_id
        env = config["Environment"]["Variables"]
        assert env["DATA_BUCKET"] == outputs["DataBucketName"]
        assert env["REPORTS_BUCKET"] == outputs["ReportsBucketName"]
        assert env["ARTIFACTS_BUCKET"] == outputs["ArtifactsBucketName"]
        assert env["AB_TABLE"] == outputs["AbTableName"]
        assert env["DATASET"] == "iris"
        assert env["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:59999"
        assert env["MLFLOW_UI_URL"] == "http://127.0.0.1:59999"
        assert env["REPORTS_WEBSITE_URL"] == f"{emulator.endpoint_url}/{outputs['ReportsBucketName']}"
        assert env["REPORTS_WEBSITE_URL"] == outputs["ReportsWebsiteUrl"]
        # Number parameters: moto keeps them as numbers here; the executor hands the worker str() of each.
        assert str(env["DRIFT_SHARE"]) == "0.5"
        assert str(env["BOOTSTRAP_RESAMPLES"]) == "2000"
        # Nothing unresolved may reach a handler: no intrinsic left as text.
        assert not any("Ref" in str(value) or "${" in str(value) for value in env.values()), env
    run_ab_test = lambda_client.get_function_configuration(FunctionName=names["RunAbTestFunction"])
    assert run_ab_test["Environment"]["Variables"]["API_URL"] == outputs["ApiUrl"]
    assert "/restapis/" in outputs["ApiUrl"]
    api = lambda_client.get_function_configuration(FunctionName=names["ApiFunction"])
    assert api["Environment"]["Variables"]["API_KEY"] == "integration-key"
    assert api["Handler"] == "app.app"


def test_the_api_gets_the_environment_the_stack_gives_its_function(emulator: Any, deployed: DeployResult) -> None:
    """`chalice local` runs the app outside the stack: its environment must be the deployed ApiFunction's."""
    state = _state(emulator)
    state.stack_name, state.outputs, state.parameters = deployed.stack_name, deployed.outputs, _parameters(emulator)
    api = emulator.client("lambda").get_function_configuration(FunctionName=deployed.outputs["ApiFunctionName"])
    deployed_env = {name: str(value) for name, value in api["Environment"]["Variables"].items()}

    env = api_environment(state)

    assert {name: env.get(name) for name in deployed_env} == deployed_env


def test_state_machine_definition_has_the_function_arns(emulator: Any, deployed: DeployResult) -> None:
    outputs = deployed.outputs
    described = emulator.client("stepfunctions").describe_state_machine(stateMachineArn=outputs["StateMachineArn"])
    assert "${" not in described["definition"]
    states = json.loads(described["definition"])["States"]
    lambda_client = emulator.client("lambda")
    for logical_id, key in STEP_FUNCTION_OUTPUTS.items():
        arn = lambda_client.get_function(FunctionName=outputs[key])["Configuration"]["FunctionArn"]
        state = logical_id.removesuffix("Function")
        assert states[state]["Resource"] == arn


def test_second_deploy_of_unchanged_code_keeps_the_stack(emulator: Any, deployed: DeployResult) -> None:
    again = deploy(
        _target(emulator),
        template_path=TEMPLATE,
        stack_name=deployed.stack_name,
        parameters=_parameters(emulator),
        timeout_seconds=DEPLOY_TIMEOUT_SECONDS,
    )
    assert again.status in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
    assert again.outputs == deployed.outputs
    # Same code, same bytes, same keys: nothing new to upload.
    assert again.packaged == deployed.packaged


def _copy_repository(destination: Path) -> Path:
    shutil.copy(TEMPLATE, destination / "template.yaml")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".chalice")
    for folder in ("statemachine", "functions", "layers", "app"):
        shutil.copytree(REPO_ROOT / folder, destination / folder, ignore=ignore)
    return destination / "template.yaml"


def test_broken_state_machine_fails_the_deploy_naming_the_state(emulator: Any, tmp_path: Path) -> None:
    template = _copy_repository(tmp_path)
    asl = tmp_path / "statemachine" / "pipeline.asl.json"
    definition = json.loads(asl.read_text())
    definition["States"]["RunAbTest"]["Next"] = "PromoteIfBeter"
    asl.write_text(json.dumps(definition, indent=2))
    stack_name = _stack_name("broken")
    with pytest.raises(DeployError) as raised:
        deploy(
            _target(emulator),
            template_path=template,
            stack_name=stack_name,
            parameters=_parameters(emulator),
            timeout_seconds=DEPLOY_TIMEOUT_SECONDS,
        )
    assert re.search(r"state RunAbTest: transition to unknown state 'PromoteIfBeter'", str(raised.value))
    # Refused before CloudFormation: no half-made stack is left behind.
    stacks = emulator.client("cloudformation").list_stacks()["StackSummaries"]
    assert stack_name not in {s["StackName"] for s in stacks}
