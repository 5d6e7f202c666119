"""ECS tasks on the emulator: `ecs:runTask.sync` runs the container's command over a function's deployed code,
and Step Functions sees its success, its non-zero exit and its timeout as on AWS."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from tests.integration.test_emulator_stepfunctions import create_stack, run_executions

pytestmark = pytest.mark.integration

# The "image": the deployed code of a function, plus a layer on PYTHONPATH as the image's /opt/python.
JOB_CODE = """
import os
import sys
import time

import helpers

mode = os.environ["MODE"]
print("job", mode, "stage", os.environ["STAGE"], "layer", helpers.NAME, "args", sys.argv[1:], flush=True)
if mode == "sleep":
    time.sleep(120)
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
"""
LAYER_FILES = {"python/helpers.py": 'NAME = "helpers-layer"\n'}

DEFINITION: dict[str, Any] = {
    "StartAt": "Job",
    "States": {
        "Job": {
            "Type": "Task",
            "Resource": "arn:aws:states:::ecs:runTask.sync",
            "Parameters": {
                "Cluster": "${ClusterArn}",
                "TaskDefinition.$": "$.task_definition",
                "LaunchType": "FARGATE",
                "Overrides": {
                    "ContainerOverrides": [
                        {
                            "Name": "job",
                            "Environment": [
                                {"Name": "MODE", "Value.$": "$.mode"},
                                {"Name": "EXIT_CODE", "Value.$": "$.exit_code"},
                            ],
                        }
                    ]
                },
            },
            "ResultSelector": {
                "task_arn.$": "$.TaskArn",
                "containers.$": "$.Containers",
                "stop_code.$": "$.StopCode",
            },
            "ResultPath": "$.job",
            "TimeoutSecondsPath": "$.timeout",
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
            "End": True,
        },
        "Caught": {"Type": "Pass", "End": True},
    },
}


def _task_definition(image: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::ECS::TaskDefinition",
        "Properties": {
            "RequiresCompatibilities": ["FARGATE"],
            "NetworkMode": "awsvpc",
            "Cpu": "256",
            "Memory": "512",
            "ContainerDefinitions": [
                {
                    "Name": "job",
                    "Essential": True,
                    "Memory": 512,
                    "Image": image,
                    "EntryPoint": ["python3"],
                    "Command": ["-m", "job", "--flag"],
                    "Environment": [{"Name": "STAGE", "Value": "cfn"}, {"Name": "MODE", "Value": "unset"}],
                    "LogConfiguration": {
                        "LogDriver": "awslogs",
                        "Options": {"awslogs-group": {"Ref": "Logs"}, "awslogs-stream-prefix": "jobs"},
                    },
                }
            ],
        },
    }


def job_template(bucket: str, keys: dict[str, str]) -> dict[str, Any]:
    role = {
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
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Role": role,
            "Layer": {
                "Type": "AWS::Lambda::LayerVersion",
                "Properties": {"Content": {"S3Bucket": bucket, "S3Key": keys["layer"]}, "LayerName": "job-helpers"},
            },
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.11",
                    "Handler": "job.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"S3Bucket": bucket, "S3Key": keys["code"]},
                    "Layers": [{"Ref": "Layer"}],
                },
            },
            "Cluster": {"Type": "AWS::ECS::Cluster"},
            "Logs": {"Type": "AWS::Logs::LogGroup"},
            "Job": _task_definition({"Fn::GetAtt": ["Function", "Arn"]}),
            "NoImageJob": _task_definition("public.ecr.aws/docker/library/busybox:latest"),
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Definition": DEFINITION,
                    "DefinitionSubstitutions": {"ClusterArn": {"Fn::GetAtt": ["Cluster", "Arn"]}},
                },
            },
        },
        "Outputs": {
            "MachineArn": {"Value": {"Ref": "Machine"}},
            "JobArn": {"Value": {"Ref": "Job"}},
            "NoImageJobArn": {"Value": {"Ref": "NoImageJob"}},
            "ClusterName": {"Value": {"Ref": "Cluster"}},
            "LogGroup": {"Value": {"Ref": "Logs"}},
        },
    }


@pytest.fixture(scope="module")
def job_stack(emulator, make_zip) -> dict[str, str]:
    s3 = emulator.client("s3")
    bucket = f"jobs-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    keys = {"code": "code/job.zip", "layer": "code/layer.zip"}
    s3.put_object(Bucket=bucket, Key=keys["code"], Body=make_zip({"job.py": JOB_CODE}))
    s3.put_object(Bucket=bucket, Key=keys["layer"], Body=make_zip(LAYER_FILES))
    return create_stack(emulator.client("cloudformation"), job_template(bucket, keys))


def _input(task_definition: str, mode: str, exit_code: int = 0, timeout: int = 60) -> dict[str, Any]:
    return {"task_definition": task_definition, "mode": mode, "exit_code": str(exit_code), "timeout": timeout}


def _task(emulator, stack: dict[str, str], task_arn: str) -> dict[str, Any]:
    return emulator.client("ecs").describe_tasks(cluster=stack["ClusterName"], tasks=[task_arn])["tasks"][0]


def _log_lines(emulator, group: str, task_id: str) -> list[str]:
    logs = emulator.client("logs")
    stream = f"jobs/job/{task_id}"
    return [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]]


def test_run_task_sync_reports_success_failure_timeout_and_a_missing_image(emulator, job_stack):
    sfn = emulator.client("stepfunctions")
    results = run_executions(
        sfn,
        job_stack["MachineArn"],
        {
            "ok": _input(job_stack["JobArn"], "ok"),
            "fails": _input(job_stack["JobArn"], "fails", exit_code=3),
            "slow": _input(job_stack["JobArn"], "sleep", timeout=3),
            "noimage": _input(job_stack["NoImageJobArn"], "ok"),
        },
    )
    failed = {key: result.get("failure") for key, result in results.items() if result["status"] != "SUCCEEDED"}
    assert not failed, {
        k: [e.get("executionFailedEventDetails") or e.get("taskFailedEventDetails") for e in v]
        for k, v in failed.items()
    }
    outputs = {key: json.loads(result["output"]) for key, result in results.items()}

    # Success: the task's description, in PascalCase as AWS returns it; the override and the layer reached it.
    ok = outputs["ok"]
    assert "error" not in ok, ok.get("error")
    assert [c["ExitCode"] for c in ok["job"]["containers"]] == [0]
    assert ok["job"]["stop_code"] == "EssentialContainerExited"
    task_id = ok["job"]["task_arn"].rsplit("/", 1)[-1]
    lines = _log_lines(emulator, job_stack["LogGroup"], task_id)
    assert "job ok stage cfn layer helpers-layer args ['--flag']" in lines, lines

    # A non-zero exit fails the state with States.TaskFailed; the cause is the stopped task's description.
    error = outputs["fails"]["error"]
    assert error["Error"] == "States.TaskFailed"
    cause = json.loads(error["Cause"])
    assert cause["LastStatus"] == "STOPPED" and cause["Containers"][0]["ExitCode"] == 3

    # The state's timeout fails it with States.Timeout, and the task is stopped rather than left running.
    assert outputs["slow"]["error"]["Error"] == "States.Timeout"

    # An image the emulator cannot stand in for: the task stops without starting, and the state fails.
    missing = json.loads(outputs["noimage"]["error"]["Cause"])
    assert outputs["noimage"]["error"]["Error"] == "States.TaskFailed"
    assert missing["StopCode"] == "TaskFailedToStart"
    assert "CannotPullContainerError" in missing["StoppedReason"]


def test_a_timed_out_task_is_stopped_and_its_process_ends(emulator, job_stack):
    ecs = emulator.client("ecs")
    sfn = emulator.client("stepfunctions")
    run_executions(sfn, job_stack["MachineArn"], {"slow": _input(job_stack["JobArn"], "sleep", timeout=2)})
    stopped: dict[str, Any] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        arns = ecs.list_tasks(cluster=job_stack["ClusterName"])["taskArns"]
        tasks = ecs.describe_tasks(cluster=job_stack["ClusterName"], tasks=arns)["tasks"]
        sleeping = [t for t in tasks if t.get("stoppedReason", "").startswith("Task stopped by Step Functions")]
        if sleeping and all(t["lastStatus"] == "STOPPED" for t in sleeping):
            stopped = sleeping[-1]
            break
        time.sleep(0.5)
    assert stopped, "the timed-out task was not stopped"
    # SIGTERM ends the sleeping process: Docker's 128 + 15.
    assert stopped["stopCode"] == "UserInitiated"
    assert stopped["containers"][0]["exitCode"] == 143


def test_stop_task_ends_a_running_task(emulator, job_stack):
    ecs = emulator.client("ecs")
    started = ecs.run_task(
        cluster=job_stack["ClusterName"],
        taskDefinition=job_stack["JobArn"],
        launchType="FARGATE",
        overrides={"containerOverrides": [{"name": "job", "environment": [{"name": "MODE", "value": "sleep"}]}]},
    )["tasks"][0]
    time.sleep(1)
    assert _task(emulator, job_stack, started["taskArn"])["lastStatus"] == "RUNNING"
    ecs.stop_task(cluster=job_stack["ClusterName"], task=started["taskArn"], reason="no longer needed")
    deadline = time.monotonic() + 20
    while (task := _task(emulator, job_stack, started["taskArn"]))["lastStatus"] != "STOPPED":
        assert time.monotonic() < deadline, task
        time.sleep(0.2)
    assert task["stoppedReason"] == "no longer needed"
    assert task["containers"][0]["exitCode"] == 143
