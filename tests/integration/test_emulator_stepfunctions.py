"""CloudFormation stacks on the emulator: state machines with DefinitionSubstitutions executing deployed code."""

from __future__ import annotations

import copy
import json
import time
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.integration

CHECK_CODE = """
import helpers


def handler(event, context):
    return {"doubled": event["value"] * 2, "execution": event["execution"], "layer": helpers.NAME}
"""

# Attempts are counted in a file per execution: a retry may land on another warm worker.
WORK_CODE = """
import os
import tempfile


class TransientError(Exception):
    pass


class PermanentError(Exception):
    pass


def handler(event, context):
    marker = os.path.join(tempfile.gettempdir(), "attempts-" + event["name"])
    with open(marker, "a") as counter:
        counter.write("x")
    attempts = os.path.getsize(marker)
    if event["mode"] == "flaky" and attempts == 1:
        raise TransientError("try again")
    if event["mode"] == "permanent":
        raise PermanentError("bad input")
    if event["mode"] == "other":
        raise KeyError("surprise")
    return {"attempts": attempts, "stage": os.environ["STAGE"]}
"""

LAYER_FILES = {"python/helpers.py": 'NAME = "helpers-layer"\n'}

DEFINITION: dict[str, Any] = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Task",
            "Resource": "${CheckArn}",
            "Parameters": {
                "value.$": "$.value",
                "execution": {
                    "name.$": "$$.Execution.Name",
                    "id.$": "$$.Execution.Id",
                    "start.$": "$$.Execution.StartTime",
                },
            },
            "ResultPath": "$.check",
            "Next": "Route",
        },
        "Route": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.skip", "IsPresent": True, "Next": "Skipped"}],
            "Default": "Work",
        },
        "Skipped": {"Type": "Pass", "Result": "skipped", "ResultPath": "$.handled", "End": True},
        "Work": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {
                "FunctionName": "${WorkArn}",
                "Payload": {"mode.$": "$.mode", "name.$": "$$.Execution.Name"},
            },
            "ResultSelector": {"result.$": "$.Payload"},
            "ResultPath": "$.work",
            "Retry": [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1}],
            "Catch": [
                {"ErrorEquals": ["PermanentError"], "ResultPath": "$.error", "Next": "HandledPermanent"},
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "HandledOther"},
            ],
            "End": True,
        },
        "HandledPermanent": {"Type": "Pass", "Result": "permanent", "ResultPath": "$.handled", "End": True},
        "HandledOther": {"Type": "Pass", "Result": "other", "ResultPath": "$.handled", "End": True},
    },
}


def _get_att(resource: str, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [resource, attribute]}


def cloudformation_template(bucket: str, keys: dict[str, str], definition_key: str) -> dict[str, Any]:
    """Plain CloudFormation: a layer and two functions from S3, a state machine wired by substitutions."""

    def function(handler: str, code_key: str) -> dict[str, Any]:
        return {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.11",
                "Handler": handler,
                "Role": _get_att("Role"),
                "Code": {"S3Bucket": bucket, "S3Key": keys[code_key]},
                "Layers": [{"Ref": "HelpersLayer"}],
                "Environment": {"Variables": {"STAGE": "cfn"}},
                "Timeout": 10,
            },
        }

    machine_properties: dict[str, Any] = {
        "RoleArn": _get_att("Role"),
        "DefinitionSubstitutions": {"CheckArn": _get_att("CheckFunction"), "WorkArn": _get_att("WorkFunction")},
    }
    if definition_key == "DefinitionString":
        machine_properties["DefinitionString"] = json.dumps(DEFINITION)
    else:
        machine_properties["Definition"] = DEFINITION
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                },
            },
            "HelpersLayer": {
                "Type": "AWS::Lambda::LayerVersion",
                "Properties": {"Content": {"S3Bucket": bucket, "S3Key": keys["layer"]}, "LayerName": "helpers"},
            },
            "CheckFunction": function("check.handler", "check"),
            "WorkFunction": function("work.handler", "work"),
            "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": machine_properties},
        },
        "Outputs": {"MachineArn": {"Value": {"Ref": "Machine"}}},
    }


@pytest.fixture(scope="module")
def code_bucket(emulator, make_zip) -> tuple[str, dict[str, str]]:
    """A deployment bucket holding the function and layer zips, as `sam package` leaves it."""
    s3 = emulator.client("s3")
    bucket = f"deploy-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    keys = {"check": "code/check.zip", "work": "code/work.zip", "layer": "code/layer.zip"}
    s3.put_object(Bucket=bucket, Key=keys["check"], Body=make_zip({"check.py": CHECK_CODE}))
    s3.put_object(Bucket=bucket, Key=keys["work"], Body=make_zip({"work.py": WORK_CODE}))
    s3.put_object(Bucket=bucket, Key=keys["layer"], Body=make_zip(LAYER_FILES))
    return bucket, keys


def create_stack(cloudformation, template: dict[str, Any]) -> dict[str, str]:
    name = f"stack-{uuid.uuid4().hex[:8]}"
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"])
    return wait_for_stack(cloudformation, name, "CREATE_COMPLETE")


def wait_for_stack(cloudformation, name: str, wanted: str) -> dict[str, str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            break
        time.sleep(0.2)
    assert stack["StackStatus"] == wanted, stack
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return {"StackName": name, **outputs}


def run_executions(sfn, machine_arn: str, inputs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Start one execution per input (unique names), wait for all, return describe_execution by key."""
    arns = {
        key: sfn.start_execution(
            stateMachineArn=machine_arn, name=f"{key}-{uuid.uuid4().hex[:8]}", input=json.dumps(value)
        )["executionArn"]
        for key, value in inputs.items()
    }
    results: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 90
    while len(results) < len(arns) and time.monotonic() < deadline:
        for key, arn in arns.items():
            described = sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                results[key] = described
        time.sleep(0.2)
    assert len(results) == len(arns), f"executions still running: {set(arns) - set(results)}"
    for key, described in results.items():
        if described["status"] != "SUCCEEDED":
            history = sfn.get_execution_history(executionArn=arns[key], maxResults=1000)["events"]
            described["failure"] = [e for e in history if "Failed" in e["type"] or "Aborted" in e["type"]]
    return results


def history_types(sfn, execution_arn: str) -> list[str]:
    return [event["type"] for event in sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]]


@pytest.mark.parametrize("definition_key", ["DefinitionString", "Definition"])
def test_stack_state_machine_runs_task_choice_retry_and_catch(emulator, code_bucket, definition_key):
    sfn = emulator.client("stepfunctions")
    bucket, keys = code_bucket
    stack = create_stack(emulator.client("cloudformation"), cloudformation_template(bucket, keys, definition_key))
    machine_arn = stack["MachineArn"]

    definition = sfn.describe_state_machine(stateMachineArn=machine_arn)["definition"]
    assert "${" not in definition
    assert machine_arn in [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]

    runs = run_executions(
        sfn,
        machine_arn,
        {
            "flaky": {"value": 2, "mode": "flaky"},
            "permanent": {"value": 3, "mode": "permanent"},
            "other": {"value": 4, "mode": "other"},
            "skip": {"value": 5, "mode": "flaky", "skip": True},
        },
    )

    assert {key: run["status"] for key, run in runs.items()} == dict.fromkeys(runs, "SUCCEEDED"), {
        key: run.get("failure") for key, run in runs.items()
    }
    flaky = json.loads(runs["flaky"]["output"])
    assert flaky["check"]["doubled"] == 4
    assert flaky["check"]["layer"] == "helpers-layer"
    assert flaky["check"]["execution"]["name"] == runs["flaky"]["name"]
    assert flaky["check"]["execution"]["id"] == runs["flaky"]["executionArn"]
    assert flaky["check"]["execution"]["start"].startswith(runs["flaky"]["startDate"].strftime("%Y-%m-%dT%H:%M"))
    assert flaky["work"] == {"result": {"attempts": 2, "stage": "cfn"}}
    flaky_history = history_types(sfn, runs["flaky"]["executionArn"])
    assert flaky_history.count("TaskFailed") == 1
    assert flaky_history.count("TaskSucceeded") == 1
    assert flaky_history[-1] == "ExecutionSucceeded"

    permanent = json.loads(runs["permanent"]["output"])
    assert permanent["handled"] == "permanent"
    assert permanent["error"]["Error"] == "PermanentError"
    assert json.loads(permanent["error"]["Cause"])["errorMessage"] == "bad input"
    assert "work" not in permanent

    other = json.loads(runs["other"]["output"])
    assert other["handled"] == "other"
    assert other["error"]["Error"] == "KeyError"

    skipped = json.loads(runs["skip"]["output"])
    assert skipped["handled"] == "skipped"
    skipped_history = history_types(sfn, runs["skip"]["executionArn"])
    assert "TaskScheduled" not in skipped_history
    assert skipped_history.count("LambdaFunctionSucceeded") == 1


def sam_template(bucket: str, keys: dict[str, str], stage: str, work_key: str) -> dict[str, Any]:
    """The shape of the product's template.yaml: layer, functions from S3, bucket, table with TTL, schedule."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Globals": {"Function": {"Runtime": "python3.11", "Timeout": 10, "Layers": [{"Ref": "HelpersLayer"}]}},
        "Resources": {
            "HelpersLayer": {
                "Type": "AWS::Serverless::LayerVersion",
                "Properties": {"ContentUri": f"s3://{bucket}/{keys['layer']}", "CompatibleRuntimes": ["python3.11"]},
            },
            "CheckFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"CodeUri": f"s3://{bucket}/{keys['check']}", "Handler": "check.handler"},
            },
            "WorkFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": f"s3://{bucket}/{work_key}",
                    "Handler": "work.handler",
                    "Environment": {"Variables": {"STAGE": stage, "TABLE": {"Ref": "Table"}}},
                },
            },
            "DataBucket": {"Type": "AWS::S3::Bucket"},
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                },
            },
            "Pipeline": {
                "Type": "AWS::Serverless::StateMachine",
                "Properties": {
                    "Definition": DEFINITION,
                    "DefinitionSubstitutions": {
                        "CheckArn": _get_att("CheckFunction"),
                        "WorkArn": _get_att("WorkFunction"),
                    },
                    "Policies": [
                        {"LambdaInvokePolicy": {"FunctionName": {"Ref": "CheckFunction"}}},
                        {"LambdaInvokePolicy": {"FunctionName": {"Ref": "WorkFunction"}}},
                    ],
                    "Events": {"Daily": {"Type": "Schedule", "Properties": {"Schedule": "cron(0 6 * * ? *)"}}},
                },
            },
        },
        "Outputs": {
            "PipelineArn": {"Value": {"Ref": "Pipeline"}},
            "WorkFunctionName": {"Value": {"Ref": "WorkFunction"}},
            "TableName": {"Value": {"Ref": "Table"}},
            "DataBucketName": {"Value": {"Ref": "DataBucket"}},
        },
    }


class _NoManagedPolicies:
    """The translator asks for managed policy ARNs only when a template names one; ours names none."""

    def load(self) -> dict[str, str]:
        return {}


def transform(template: dict[str, Any]) -> dict[str, Any]:
    from samtranslator.translator.transform import transform as sam_transform

    return sam_transform(copy.deepcopy(template), {}, _NoManagedPolicies())


def test_transformed_sam_stack_creates_every_resource_and_updates_in_place(
    emulator, code_bucket, make_zip, monkeypatch
):
    monkeypatch.setenv("AWS_DEFAULT_REGION", emulator.region)  # the translator resolves pseudo parameters from it
    bucket, keys = code_bucket
    cloudformation = emulator.client("cloudformation")
    lam = emulator.client("lambda")
    sfn = emulator.client("stepfunctions")
    stack = create_stack(cloudformation, transform(sam_template(bucket, keys, "first", keys["work"])))

    ttl = emulator.client("dynamodb").describe_time_to_live(TableName=stack["TableName"])
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    emulator.client("s3").head_bucket(Bucket=stack["DataBucketName"])
    events = emulator.client("events")
    rules = [r for r in events.list_rules()["Rules"] if r.get("ScheduleExpression") == "cron(0 6 * * ? *)"]
    assert rules, events.list_rules()["Rules"]
    targets = [t["Arn"] for rule in rules for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]]
    assert stack["PipelineArn"] in targets
    function = stack["WorkFunctionName"]
    assert lam.get_function(FunctionName=function)["Configuration"]["Layers"]

    def invoke() -> dict[str, Any]:
        event = {"mode": "ok", "name": uuid.uuid4().hex}
        response = lam.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        assert "FunctionError" not in response
        return json.loads(response["Payload"].read())

    assert invoke() == {"attempts": 1, "stage": "first"}
    run = run_executions(sfn, stack["PipelineArn"], {"sam": {"value": 1, "mode": "flaky"}})["sam"]
    assert run["status"] == "SUCCEEDED", run
    assert json.loads(run["output"])["work"]["result"]["stage"] == "first"

    # Update: new code under a new key (as `sam package` names zips by content) and a changed variable.
    new_key = "code/work-v2.zip"
    new_code = WORK_CODE.replace('"stage": os.environ["STAGE"]', '"stage": "v2:" + os.environ["STAGE"]')
    emulator.client("s3").put_object(Bucket=bucket, Key=new_key, Body=make_zip({"work.py": new_code}))
    cloudformation.update_stack(
        StackName=stack["StackName"],
        TemplateBody=json.dumps(transform(sam_template(bucket, keys, "second", new_key))),
        Capabilities=["CAPABILITY_IAM"],
    )
    wait_for_stack(cloudformation, stack["StackName"], "UPDATE_COMPLETE")

    assert invoke() == {"attempts": 1, "stage": "v2:second"}
    run = run_executions(sfn, stack["PipelineArn"], {"updated": {"value": 1, "mode": "ok"}})["updated"]
    assert json.loads(run["output"])["work"]["result"]["stage"] == "v2:second"
