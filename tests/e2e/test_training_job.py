"""TrainModel's job path through the deployed state machine: the row threshold chooses Lambda or the ECS task,
and the task's success, failure and timeout end as on AWS (a report on every path).

One stack of its own (iris, 150 rows), so no candidate left waiting by other tests sends a run to the online
review instead of training. Each case redeploys parameters on it (`mlops deploy --parameter`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Stack, running_stack
from tests.e2e.test_pipeline import entered_states, simulate, start

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

JOB_STATES = ["StageTrainingInput", "TrainModelJob", "LoadTrainingOutput", "UnwrapTrainingOutput"]


@pytest.fixture(scope="module")
def job_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("jobs"), "iris") as started:
        started.mlops("seed", "--dataset", "iris")
        yield started


def deploy(stack: Stack, **parameters: str) -> None:
    args = [arg for key, value in parameters.items() for arg in ("--parameter", f"{key}={value}")]
    stack.mlops("deploy", *args)


def run(stack: Stack, name: str, seed: int) -> dict[str, Any]:
    arn = start(stack, {"batch_key": simulate(stack, "iris", 1.0, seed=seed)}, name)
    described = stack.wait_execution(arn)
    return {"described": described, "states": entered_states(stack, arn), "report": stack.report(name)}


def job_log(stack: Stack) -> list[str]:
    logs = stack.client("logs")
    group = stack.outputs["TrainingJobLogGroupName"]
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    events = [logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"] for s in streams]
    return [event["message"] for stream in events for event in stream]


def test_small_data_takes_the_lambda_path(job_stack: Stack) -> None:
    # The first run promotes (no Production yet), so no candidate waits and later runs train.
    deploy(job_stack, TrainingModels="dummy")
    small = run(job_stack, "job-default", seed=21)
    assert "TrainModel" in small["states"] and "TrainModelJob" not in small["states"], small["states"]
    assert small["described"]["status"] == "SUCCEEDED", small["described"]


def test_a_job_that_exits_non_zero_fails_the_run_with_a_report(job_stack: Stack) -> None:
    deploy(job_stack, TrainingModels="no_such_model", TrainingJobThresholdRows="0")
    failed = run(job_stack, "job-fails", seed=23)
    assert failed["described"]["status"] == "FAILED"
    assert "TrainModelJob" in failed["states"] and "EvaluateCandidate" not in failed["states"]
    report = failed["report"]
    assert report["status"] == "failed"
    assert report["error"]["type"] == "States.TaskFailed"


def test_a_job_past_its_timeout_is_stopped_and_the_run_reports_it(job_stack: Stack) -> None:
    deploy(job_stack, TrainingModels="dummy", TrainingJobThresholdRows="0", TrainingJobTimeoutSeconds="2")
    timed_out = run(job_stack, "job-timeout", seed=24)
    assert timed_out["described"]["status"] == "FAILED"
    assert timed_out["report"]["status"] == "failed"
    assert timed_out["report"]["error"]["type"] == "States.Timeout"
    ecs = job_stack.client("ecs")
    cluster = ecs.list_clusters()["clusterArns"]
    tasks = [
        task
        for arn in cluster
        if (arns := ecs.list_tasks(cluster=arn)["taskArns"])
        for task in ecs.describe_tasks(cluster=arn, tasks=arns)["tasks"]
    ]
    assert any(t.get("stoppedReason", "").startswith("Task stopped by Step Functions") for t in tasks), tasks


def test_threshold_zero_takes_the_job_path_to_a_candidate(job_stack: Stack) -> None:
    # Last: its candidate waits in Staging for online evidence, and the next run would review it instead.
    deploy(job_stack, TrainingModels="dummy", TrainingJobThresholdRows="0", TrainingJobTimeoutSeconds="600")
    job = run(job_stack, "job-path", seed=22)
    assert job["described"]["status"] == "SUCCEEDED", job_log(job_stack)[-8:]
    assert "TrainModel" not in job["states"]
    assert [s for s in job["states"] if s in JOB_STATES] == JOB_STATES
    report = job["report"]
    assert report["status"] != "failed", report
    # The task's TrainingOutput reached the later steps as the Lambda's does.
    output = json.loads(job["described"]["output"])
    assert output["training"]["train_rows"] > 0 and output["training"]["model_version"]
    assert any('"step": "train_model"' in line for line in job_log(job_stack))


def test_readme_names_the_job_path(job_stack: Stack) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "TrainingJobThresholdRows" in readme
