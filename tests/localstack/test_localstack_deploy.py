"""template.yaml deployed to LocalStack 4.14 in host mode by our deployer, as `mlops deploy --target localstack`.

Covered: the stack reaches CREATE_COMPLETE with every output; the API URL the functions get is LocalStack's
gateway form; the deploy is recorded so `mlops status`, `env`, `seed` and `trigger` work on LocalStack; the daily
rule has no fixed Input, and an execution EventBridge itself starts (the rule set to rate(1 minute)) enters
CheckDataDrift; a stack left CREATE_FAILED is deleted and created again.

What needs Docker: LocalStack runs Lambda code only in containers. Here every invocation fails ("Docker not
available"), so an execution stops at its first Task: the tests assert that it entered CheckDataDrift and
scheduled that function, not what the function returns. The whole pipeline on LocalStack needs
docker-compose.yml (README, "LocalStack (Docker)").
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from mlops_local import deployments
from mlops_local.cli import main
from mlops_local.deployer import deploy, load_template
from mlops_local.exceptions import DeployError
from mlops_local.services import DEFAULT_STACK, TEMPLATE
from mlops_local.targets import EMULATED_DEPLOY_BUCKET, Target

from tests.localstack.conftest import REGION, LocalStack

pytestmark = pytest.mark.localstack

EVENTBRIDGE_TIMEOUT_SECONDS = 150  # LocalStack fires rate() rules on about a minute's granularity


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def deployed(localstack: LocalStack, state_dir: Path) -> deployments.Deployment:
    """`mlops deploy --target localstack`, the functions reaching LocalStack's gateway where it listens here."""
    argv = [
        "--state-dir",
        str(state_dir),
        "deploy",
        "--target",
        "localstack",
        "--endpoint-url",
        localstack.endpoint_url,
    ]
    parameters = [f"LocalStackHost=127.0.0.1:{localstack.port}", "ApiKey=localstack-key", "ScheduleState=ENABLED"]
    assert main([*argv, *(arg for p in parameters for arg in ("--parameter", p))]) == 0
    return deployments.load(state_dir, "localstack")


def _mlops(state_dir: Path, *args: str) -> None:
    assert main(["--state-dir", str(state_dir), *args]) == 0


def test_the_stack_is_created_with_every_output(localstack: LocalStack, deployed: deployments.Deployment) -> None:
    stack = localstack.client("cloudformation").describe_stacks(StackName=DEFAULT_STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert set(outputs) == set(load_template(TEMPLATE)["Outputs"])
    assert outputs == deployed.outputs
    (api,) = [
        a for a in localstack.client("apigateway").get_rest_apis()["items"] if a["name"] == f"{DEFAULT_STACK}-api"
    ]
    assert outputs["ApiUrl"] == f"http://127.0.0.1:{localstack.port}/restapis/{api['id']}/Prod/_user_request_"
    assert outputs["ReportsWebsiteUrl"] == f"{localstack.endpoint_url}/{outputs['ReportsBucketName']}"


def test_the_functions_get_the_compose_urls_and_the_layer(
    localstack: LocalStack, deployed: deployments.Deployment
) -> None:
    lam = localstack.client("lambda")
    ab_step = lam.get_function_configuration(FunctionName=deployed.outputs["RunAbTestFunctionName"])
    variables = ab_step["Environment"]["Variables"]
    assert variables["API_URL"] == deployed.outputs["ApiUrl"]
    assert (variables["MLFLOW_TRACKING_URI"], variables["MLFLOW_UI_URL"]) == (
        "http://mlflow:5000",
        "http://localhost:5000",
    )
    assert [layer["Arn"] for layer in ab_step["Layers"]] == [deployed.outputs["SharedLayerArn"]]


def test_the_deploy_is_recorded_for_the_other_commands(
    localstack: LocalStack, deployed: deployments.Deployment, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (deployed.endpoint_url, deployed.region, deployed.stack_name) == (
        localstack.endpoint_url,
        REGION,
        DEFAULT_STACK,
    )
    assert "ApiKey" not in deployed.parameters
    capsys.readouterr()
    _mlops(state_dir, "status")
    assert f"stack {DEFAULT_STACK}: CREATE_COMPLETE" in capsys.readouterr().out
    _mlops(state_dir, "env")
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in capsys.readouterr().out.splitlines() if "=" in line
    )
    assert exports["AWS_ENDPOINT_URL"] == localstack.endpoint_url
    assert exports["API_URL"] == deployed.outputs["ApiUrl"]  # LocalStackHost is this very endpoint here


def test_seed_puts_the_dataset_in_the_stacks_bucket(
    localstack: LocalStack, deployed: deployments.Deployment, state_dir: Path
) -> None:
    _mlops(state_dir, "seed")
    keys = [
        o["Key"] for o in localstack.client("s3").list_objects_v2(Bucket=deployed.outputs["DataBucketName"])["Contents"]
    ]
    assert "datasets/iris/dataset.json" in keys


def test_the_daily_rule_sends_the_scheduled_event_itself(
    localstack: LocalStack, deployed: deployments.Deployment
) -> None:
    events = localstack.client("events")
    rule = events.describe_rule(Name=deployed.outputs["DailyScheduleRuleName"])
    assert (rule["ScheduleExpression"], rule["State"]) == ("cron(0 6 * * ? *)", "ENABLED")
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == deployed.outputs["StateMachineArn"]
    assert "Input" not in target and "InputPath" not in target


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    return sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


def _entered_check_data_drift(sfn: Any, execution_arn: str, function_name: str) -> bool:
    events = _history(sfn, execution_arn)
    entered = any(e.get("stateEnteredEventDetails", {}).get("name") == "CheckDataDrift" for e in events)
    scheduled = [
        e["lambdaFunctionScheduledEventDetails"]["resource"] for e in events if e["type"] == "LambdaFunctionScheduled"
    ]
    return entered and bool(scheduled) and scheduled[0].endswith(f":function:{function_name}")


def test_an_execution_eventbridge_starts_enters_check_data_drift(
    localstack: LocalStack, deployed: deployments.Deployment
) -> None:
    events, sfn = localstack.client("events"), localstack.client("stepfunctions")
    rule = deployed.outputs["DailyScheduleRuleName"]
    machine = deployed.outputs["StateMachineArn"]
    # Fire within a minute instead of at 06:00 UTC. LocalStack 4.14 schedules a rule's job when targets are put
    # (as CloudFormation does after PutRule), not on PutRule: put the template's own target again, unchanged.
    (target,) = events.list_targets_by_rule(Rule=rule)["Targets"]
    events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)", State="ENABLED")
    events.put_targets(Rule=rule, Targets=[target])
    deadline = time.monotonic() + EVENTBRIDGE_TIMEOUT_SECONDS
    started: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not started:
        started = [
            e
            for e in sfn.list_executions(stateMachineArn=machine)["executions"]
            if not e["name"].startswith(rule)  # `mlops trigger` names its executions after the rule
        ]
        time.sleep(2)
    assert started, f"EventBridge started no execution within {EVENTBRIDGE_TIMEOUT_SECONDS} s"
    execution = started[0]["executionArn"]
    event = json.loads(sfn.describe_execution(executionArn=execution)["input"])
    assert event["detail-type"] == "Scheduled Event" and event["resources"][0].endswith(f":rule/{rule}")
    function = deployed.outputs["CheckDataDriftFunctionName"]
    deadline = time.monotonic() + 30
    while not _entered_check_data_drift(sfn, execution, function):
        assert time.monotonic() < deadline, [e["type"] for e in _history(sfn, execution)]
        time.sleep(1)


def test_trigger_starts_what_the_rule_starts(
    localstack: LocalStack, deployed: deployments.Deployment, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    _mlops(state_dir, "trigger", "--target", "localstack")
    out = capsys.readouterr().out
    assert "EventBridge on localstack has no call that fires a scheduled rule by hand" in out
    arn = out.split(f"fired {deployed.outputs['DailyScheduleRuleName']}: ", 1)[1].split()[0]
    sfn = localstack.client("stepfunctions")
    deadline = time.monotonic() + 30
    while not _entered_check_data_drift(sfn, arn, deployed.outputs["CheckDataDriftFunctionName"]):
        assert time.monotonic() < deadline, [e["type"] for e in _history(sfn, arn)]
        time.sleep(1)


BUCKET_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties: {{BucketName: {name}}}
Outputs:
  BucketName: {{Value: !Ref Bucket}}
"""


def test_a_stack_left_create_failed_is_deleted_and_created_again(localstack: LocalStack, tmp_path: Path) -> None:
    target = Target("localstack", localstack.endpoint_url, REGION, EMULATED_DEPLOY_BUCKET)
    template = tmp_path / "template.yaml"
    template.write_text(BUCKET_TEMPLATE.format(name="Not_A_Valid_Bucket_Name"))
    with pytest.raises(DeployError, match=r"stack recreated-stack ended CREATE_FAILED"):
        deploy(target, template_path=template, stack_name="recreated-stack", timeout_seconds=120)
    template.write_text(BUCKET_TEMPLATE.format(name="a-valid-bucket-name"))
    result = deploy(target, template_path=template, stack_name="recreated-stack", timeout_seconds=120)
    assert (result.status, result.outputs["BucketName"]) == ("CREATE_COMPLETE", "a-valid-bucket-name")
