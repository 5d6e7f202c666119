"""The report says where TrainModel ran (the Lambda function or the ECS task of the job path) and how the
training budget was spent (the comparison's sample, models tried and skipped, the final fit)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mlops_core.report import ReportLinks, build_report, parse_error, render_report_html
from mlops_core.report.build import training_path

from tests.support.chromium import parse_dom

EVENTS = Path(__file__).resolve().parents[1] / "events"
NOW = datetime(2026, 12, 3, 6, 0, 5, tzinfo=UTC)
LINKS = ReportLinks(json="report.json", html="report.html", index="../index.html")
TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/cluster/0f1e2d3c4b5a"
PLAN = {
    "total_rows": 950_000,
    "sample_rows": 85_899,
    "probe_rows": 4000,
    "folds": 5,
    "budget_seconds": 120,
    "in_worker": True,
    "models_tried": ["et", "lr"],
    "models_skipped": {"knn": "stopped after 7 s of cross-validation on 85899 rows"},
    "fit_seconds": {"et": 31.25, "lr": 4.5},
    "final_fit_estimate_seconds": 165.2,
    "final_fit_seconds": 129.4,
}


def job_state() -> dict:
    run = json.loads((EVENTS / "report_state_promoted.json").read_text())
    run["training_size"] = {"rows": 1_000_000, "threshold_rows": 500_000, "timeout_seconds": 7200}
    run["training_job"] = {"task_arn": TASK_ARN, "stopped_reason": "Essential container in task exited"}
    run["training"]["plan"] = PLAN
    return run


def test_the_job_path_is_in_the_json_the_summary_and_the_page():
    report = build_report(job_state(), now=NOW, links=LINKS)
    assert report["training_path"] == {
        "path": "job",
        "rows": 1_000_000,
        "threshold_rows": 500_000,
        "timeout_seconds": 7200,
        "task_id": "0f1e2d3c4b5a",
        "stopped_reason": "Essential container in task exited",
    }
    assert (
        "Trained as an ECS task (the job path): 1,000,000 rows of baseline + batch, over the threshold of 500,000 "
        "(TrainingJobThresholdRows)" in report["summary"]
    )
    assert (
        "Model selection on 85,899 of 950,000 training rows within 120 s: 2 models tried, 1 skipped; final fit on "
        "all rows 129 s (estimated 165 s)" in report["summary"]
    )
    section = parse_dom(render_report_html(report)).find("section", id="training")
    text = section.text()
    assert "job path" in text and "task 0f1e2d3c4b5a" in text
    assert [li.text() for li in section.find("ul", cls="models-tried").find_all("li")] == ["et 31.2 s", "lr 4.5 s"]
    assert "knn: stopped after 7 s" in section.find("ul", cls="models-skipped").text()


def test_rows_within_the_threshold_took_the_lambda_path():
    run = job_state()
    run["training_size"]["rows"] = 500_000
    del run["training_job"]
    path = training_path(run)
    assert path == {"path": "lambda", "rows": 500_000, "threshold_rows": 500_000}
    report = build_report(run, now=NOW, links=LINKS)
    assert report["summary"][1].startswith("Trained in the TrainModel Lambda function: 500,000 rows")


def test_a_job_that_failed_still_reports_its_path_without_a_task():
    run = job_state()
    del run["training_job"], run["training"]
    run["error"] = {"Error": "States.TaskFailed", "Cause": "{}"}
    report = build_report(run, now=NOW, links=LINKS)
    assert report["training_path"]["path"] == "job" and report["training_path"]["task_id"] is None
    assert parse_dom(render_report_html(report)).find("section", id="training").find_all("ul") == []


@pytest.mark.parametrize(
    "size",
    [None, "big", {"rows": 10}, {"rows": True, "threshold_rows": 1}, {"rows": 10, "threshold_rows": float("nan")}],
)
def test_no_or_malformed_sizing_reports_no_path(size):
    run = job_state()
    run["training_size"] = size
    report = build_report(run, now=NOW, links=LINKS)
    assert report["training_path"] is None
    assert not any(line.startswith("Trained") for line in report["summary"])


def test_runs_without_a_plan_or_a_path_have_no_training_section():
    run = json.loads((EVENTS / "report_state_promoted.json").read_text())
    run["training"].pop("plan", None)
    assert parse_dom(render_report_html(build_report(run, now=NOW, links=LINKS))).find_all(id="training") == []


def test_a_failed_task_is_summarised_not_dumped():
    task = {
        "TaskArn": TASK_ARN,
        "StoppedReason": "Essential container in task exited",
        "Containers": [{"Name": "train", "ExitCode": 137, "Memory": "16384"}, "not a container"],
        "Overrides": {"ContainerOverrides": [{"Name": "train", "Environment": []}]},
    }
    error = parse_error({"Error": "States.TaskFailed", "Cause": json.dumps(task)})
    assert error == {
        "error": "States.TaskFailed",
        "type": "States.TaskFailed",
        "message": "ECS task 0f1e2d3c4b5a stopped: Essential container in task exited; container 'train' exited "
        "with code 137 (killed (SIGKILL): out of memory, or stopped past its grace period)",
        "stack_trace": None,
    }
    task["Containers"] = [{"Name": "train", "ExitCode": 1}, {"Name": "sidecar"}]
    message = parse_error({"Error": "States.TaskFailed", "Cause": task})["message"]
    assert message.endswith("code 1 (the step failed: its last log lines say why); container 'sidecar' never started")
