"""Whole executions of the deployed state machine on the embedded stack, driven through real clients:
awslocal / aws CLI for Step Functions, S3 and CloudWatch Logs, the MLflow client for the registry, HTTP for the API.

The runs build on each other like days in production: a first promotion, a day without drift, a drifted day
judged by both gates, a broken batch, the same input again, and another dataset.
"""

from __future__ import annotations

import io
import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

GATE_STATES = ["TrainModel", "EvaluateCandidate", "RunAbTest", "PromoteIfBetter"]


def start(stack: Stack, run_input: dict[str, Any], name: str) -> str:
    started = stack.cli(
        "awslocal",
        "stepfunctions",
        "start-execution",
        "--state-machine-arn",
        stack.outputs["StateMachineArn"],
        "--name",
        name,
        "--input",
        json.dumps(run_input),
    )
    return started["executionArn"]


def entered_states(stack: Stack, arn: str) -> list[str]:
    history = stack.cli("awslocal", "stepfunctions", "get-execution-history", "--execution-arn", arn)
    return [e["stateEnteredEventDetails"]["name"] for e in history["events"] if "stateEnteredEventDetails" in e]


def simulate(stack: Stack, dataset: str, strength: float, seed: int) -> str:
    out = stack.mlops("simulate", "--dataset", dataset, "--strength", str(strength), "--seed", str(seed)).stdout
    return out.strip().splitlines()[-1]


def registry(stack: Stack) -> MlflowClient:
    return MlflowClient(tracking_uri=stack.env["MLFLOW_TRACKING_URI"])


def production_version(stack: Stack, model: str) -> str | None:
    try:
        return registry(stack).get_model_version_by_alias(model, "production").version
    except Exception:
        return None


@pytest.fixture(scope="module")
def iris(stack: Stack) -> Stack:
    stack.mlops("seed", "--dataset", "iris")
    return stack


@pytest.fixture(scope="module")
def first_run(iris: Stack) -> dict[str, Any]:
    batch = simulate(iris, "iris", 1.0, seed=11)
    arn = start(iris, {"batch_key": batch}, "e2e-first")
    described = iris.wait_execution(arn)
    return {"arn": arn, "batch": batch, "described": described, "report": iris.report("e2e-first")}


def test_stack_is_reachable_with_the_plain_aws_cli(stack: Stack) -> None:
    listed = stack.cli("aws", "--endpoint-url", stack.env["AWS_ENDPOINT_URL"], "s3api", "list-buckets")
    names = {b["Name"] for b in listed["Buckets"]}
    assert {stack.outputs["DataBucketName"], stack.outputs["ReportsBucketName"]} <= names
    rules = stack.cli("awslocal", "events", "list-rules")["Rules"]
    daily = next(r for r in rules if r["Name"] == stack.outputs["DailyScheduleRuleName"])
    assert daily["ScheduleExpression"] == "cron(0 6 * * ? *)"


def test_first_drifted_run_promotes_without_a_production_model(iris: Stack, first_run: dict[str, Any]) -> None:
    assert first_run["described"]["status"] == "SUCCEEDED", first_run["described"]
    states = entered_states(iris, first_run["arn"])
    assert states[:4] == ["StartRun", "CheckDataDrift", "FindPendingCandidate", "PendingOrDrift"]
    assert all(s in states for s in [*GATE_STATES, "GenerateReport"])
    report = first_run["report"]
    assert report["status"] == "promoted"
    assert report["drift"]["detected"] is True
    assert report["evaluation"]["reason"] == "no_production_model"
    version = report["promotion"]["new_version"]
    assert production_version(iris, report["promotion"]["model_name"]) == version
    tags = registry(iris).get_model_version(report["promotion"]["model_name"], version).tags
    assert tags["promoted_by"] == first_run["arn"]


def test_a_day_without_drift_skips_to_the_report(iris: Stack, first_run: dict[str, Any]) -> None:
    model = first_run["report"]["promotion"]["model_name"]
    before = production_version(iris, model)
    batch = simulate(iris, "iris", 0.0, seed=12)
    arn = start(iris, {"batch_key": batch}, "e2e-no-drift")
    assert iris.wait_execution(arn)["status"] == "SUCCEEDED"
    states = entered_states(iris, arn)
    assert not set(GATE_STATES) & set(states)
    report = iris.report("e2e-no-drift")
    assert report["status"] == "no_drift"
    assert report["training"] is None and report["promotion"] is None
    assert production_version(iris, model) == before


def test_drifted_day_goes_through_both_gates(iris: Stack, first_run: dict[str, Any]) -> None:
    batch = simulate(iris, "iris", 1.5, seed=13)
    arn = start(iris, {"batch_key": batch}, "e2e-gates")
    assert iris.wait_execution(arn)["status"] == "SUCCEEDED"
    report = iris.report("e2e-gates")
    assert report["status"] in ("promoted", "blocked", "pending")
    test = report["offline_test"]
    assert test["n_resamples"] >= 2000
    interval = test["interval"]
    if interval["low"] is None or interval["high"] is None:
        # No finite BCa bound (every pair tied, say): a sign-flip test, which needs none, decided.
        assert test["test"].endswith("sign_flip"), test
    else:
        assert interval["low"] <= interval["high"]
    assert test["verdict"] == report["evaluation"]["reason"] and test["decided_by"]
    assert test["alpha_t"] < test["alpha"] == 0.05 and report["evaluation"]["rows"]["test_number"] >= 1
    ab = report["ab_testing_api"]
    assert ab["mode"] == "new_candidate"
    assert sum(ab["requests"].values()) == report["training"]["online_rows"] - ab["errors"]["unrouted"]
    # shadow mode: every labelled request both models answered is a pair, whichever variant served it
    assert ab["evidence"]["pairs"] >= sum(ab["requests"].values()) - sum(ab["errors"].values())
    model = report["training"]["model_name"]
    if report["status"] == "promoted":
        assert test["verdict"] == "significant_improvement" and ab["reason"] == "non_inferior"
        assert production_version(iris, model) == report["training"]["model_version"]
        return
    assert production_version(iris, model) == first_run["report"]["promotion"]["new_version"]
    if report["status"] == "pending":
        return  # a waiting candidate is reviewed by the next run instead of training again

    # The same execution input again registers no second version.
    versions = len(registry(iris).search_model_versions(f"name = '{model}'"))
    again = start(iris, {"batch_key": batch}, "e2e-gates-again")
    assert iris.wait_execution(again)["status"] == "SUCCEEDED"
    rerun = iris.report("e2e-gates-again")
    assert rerun["training"]["reused"] is True
    assert rerun["training"]["model_version"] == report["training"]["model_version"]
    assert len(registry(iris).search_model_versions(f"name = '{model}'")) == versions


def test_a_broken_batch_fails_with_a_report_and_production_untouched(iris: Stack, first_run: dict[str, Any]) -> None:
    model = first_run["report"]["promotion"]["model_name"]
    before = production_version(iris, model)
    s3 = iris.client("s3")
    bucket = iris.outputs["DataBucketName"]
    stored = s3.get_object(Bucket=bucket, Key="datasets/iris/baseline.parquet")["Body"].read()
    baseline = pd.read_parquet(io.BytesIO(stored))
    broken = baseline.drop(columns=["petal_width"]).to_csv(index=False)
    s3.put_object(Bucket=bucket, Key="datasets/iris/current/broken.csv", Body=broken.encode())

    arn = start(iris, {"batch_key": "datasets/iris/current/broken.csv"}, "e2e-broken")
    described = iris.wait_execution(arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "PipelineStepFailed"
    report = iris.report("e2e-broken")
    assert report["status"] == "failed"
    assert report["error"]["type"] == "DataValidationError"
    assert "petal_width" in report["error"]["message"]
    assert production_version(iris, model) == before
    # Nothing was deleted: the broken batch is still there for whoever investigates.
    assert s3.head_object(Bucket=bucket, Key="datasets/iris/current/broken.csv")


def test_function_logs_are_readable_with_the_aws_cli(iris: Stack, first_run: dict[str, Any]) -> None:
    group = f"/aws/lambda/{iris.outputs['CheckDataDriftFunctionName']}"
    events = iris.cli("aws", "logs", "filter-log-events", "--log-group-name", group)["events"]
    messages = [e["message"] for e in events]
    assert any(m.startswith("START RequestId") for m in messages)
    assert any('"step": "check_data_drift"' in m and "e2e-first" in m for m in messages)


def test_latest_html_report_renders_in_chromium(iris: Stack, first_run: dict[str, Any]) -> None:
    from tests.support.chromium import render, require_chromium

    require_chromium()
    url = first_run["report"]["links"]["html"]
    with urllib.request.urlopen(url) as response:
        assert response.headers["Content-Type"].startswith("text/html")
    rendered = render(url)
    assert "Promoted" in rendered.dom or "promoted" in rendered.dom
    for line in first_run["report"]["summary"][:2]:
        assert line.split(":")[0] in rendered.dom


def test_penguins_configured_as_the_dataset_runs_the_same_pipeline(penguins_stack: Stack) -> None:
    # The first model is PyCaret's majority-class baseline: the two-day test below needs a Production model
    # that a real candidate clearly beats offline.
    penguins_stack.mlops("deploy", "--parameter", "TrainingModels=dummy")
    penguins_stack.mlops("seed")
    batch = simulate(penguins_stack, "penguins", 1.0, seed=21)
    arn = start(penguins_stack, {"batch_key": batch}, "e2e-penguins")
    described = penguins_stack.wait_execution(arn)
    report = penguins_stack.report("e2e-penguins")
    assert described["status"] == "SUCCEEDED", report.get("error")
    assert report["dataset"]["name"] == "penguins"
    assert report["status"] == "promoted"
    assert report["ab_testing_api"]["requests"]["staging"] > 0
    kinds = {c: v["column_type"] for c, v in report["drift"]["columns"].items()}
    assert kinds["island"] == "cat" and kinds["bill_length_mm"] == "num"
    # The stack's API serves the penguins model, missing values included.
    body = json.dumps(
        {
            "features": {
                "island": "Biscoe",
                "bill_length_mm": 45.1,
                "bill_depth_mm": None,
                "flipper_length_mm": 210.0,
                "body_mass_g": 4800.0,
                "sex": None,
            }
        }
    )
    request = urllib.request.Request(
        f"{penguins_stack.env['API_URL']}/predict", data=body.encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request) as response:
        assert json.loads(response.read())["prediction"] in {"Adelie", "Chinstrap", "Gentoo"}


def test_a_run_naming_another_dataset_is_refused_with_a_report(iris: Stack) -> None:
    arn = start(iris, {"dataset": "penguins"}, "e2e-wrong-dataset")
    assert iris.wait_execution(arn)["status"] == "FAILED"
    error = iris.report("e2e-wrong-dataset")["error"]
    assert error["type"] == "InvalidRequestError" and "DatasetName=penguins" in error["message"]


def test_rate_rule_starts_the_state_machine(stack: Stack) -> None:
    machine = stack.outputs["StateMachineArn"]
    role = "arn:aws:iam::123456789012:role/events-start-execution"
    stack.cli("awslocal", "events", "put-rule", "--name", "e2e-every-minute", "--schedule-expression", "rate(1 minute)")
    stack.cli(
        "awslocal",
        "events",
        "put-targets",
        "--rule",
        "e2e-every-minute",
        "--targets",
        json.dumps([{"Id": "pipeline", "Arn": machine, "RoleArn": role}]),
    )
    try:
        deadline = time.monotonic() + 100
        scheduled = []
        while time.monotonic() < deadline and not scheduled:
            executions = stack.cli("awslocal", "stepfunctions", "list-executions", "--state-machine-arn", machine)
            scheduled = [e for e in executions["executions"] if e["name"].startswith("e2e-every-minute")]
            time.sleep(2)
        assert scheduled, "no execution started by the rate(1 minute) rule within 100 s"
        described = stack.cli(
            "awslocal", "stepfunctions", "describe-execution", "--execution-arn", scheduled[0]["executionArn"]
        )
        event = json.loads(described["input"])
        assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
        assert event["resources"][0].endswith("rule/e2e-every-minute")
    finally:
        stack.cli("awslocal", "events", "remove-targets", "--rule", "e2e-every-minute", "--ids", "pipeline")
        stack.cli("awslocal", "events", "delete-rule", "--name", "e2e-every-minute")


def readme_curl_commands() -> list[str]:
    """The curl examples exactly as README.md shows them, continuation lines joined."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    commands, pending = [], ""
    for line in readme.splitlines():
        if not pending and not line.startswith("curl "):
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            commands.append(pending.strip())
            pending = ""
    return commands


def test_readme_curl_examples_work_against_the_stack(iris: Stack, first_run: dict[str, Any]) -> None:
    commands = readme_curl_commands()
    assert len(commands) >= 10
    env = dict(iris.env)
    predicted = json.loads(subprocess.run(["bash", "-c", commands[1]], env=env, capture_output=True, text=True).stdout)
    env["PREDICTION_ID"] = predicted["prediction_id"]
    env["RUN_ID"] = first_run["report"]["run_id"]
    for command in commands:
        result = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{command}\n{result.stderr}"
        if "format=html" in command:
            assert "<html" in result.stdout.lower()
            continue
        body = json.loads(result.stdout)
        # The API's errors are {"error": "<message>", ...}; a report's own "error" section is an object or null.
        api_error = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else None
        # Rolling back needs an earlier Production version; whether one exists depends on the earlier runs.
        if api_error and "/models/rollback" in command:
            assert "roll back" in api_error
            continue
        assert api_error is None, f"{command} -> {body}"


def test_the_api_gateway_holds_32_concurrent_clients_with_exact_counters(
    iris: Stack, first_run: dict[str, Any]
) -> None:
    """The deployed API, through the emulated API Gateway's invoke URL, under 32 clients at once: every request
    answered, and the A/B counters grow by exactly the number of answered predictions."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    url = iris.env["API_URL"]
    assert "/restapis/" in url and url.endswith("/_user_request_"), url
    features = {"sepal_length": 5.8, "sepal_width": 2.7, "petal_length": 4.1, "petal_width": 1.0}

    def counted() -> int:
        stats = requests.get(f"{url}/stats/ab", timeout=60).json()
        return sum(figures["requests"] for figures in stats["variants"].values())

    def settled(at_least: int) -> int:
        previous, deadline = -1, time.monotonic() + 120
        while True:
            current = counted()
            if current == previous and current >= at_least:
                return current
            assert time.monotonic() < deadline, f"counters did not settle: {previous}, {current}"
            previous = current
            time.sleep(2)

    before = settled(0)

    def client(number: int) -> list[int]:
        with requests.Session() as session:
            return [
                session.post(
                    f"{url}/predict", json={"features": features, "user_id": f"load-{number}-{i}"}, timeout=120
                ).status_code
                for i in range(10)
            ]

    with ThreadPoolExecutor(32) as pool:
        statuses = [status for answers in pool.map(client, range(32)) for status in answers]
    assert statuses == [200] * 320
    assert settled(before + 320) == before + 320


def test_a_candidate_waits_for_online_evidence_then_a_later_run_promotes_it(penguins_stack: Stack) -> None:
    """Two days: a candidate passes offline but has too few online pairs to decide, so it waits in Staging;
    live traffic then reaches the API, each request scored by both models (shadow mode) and labelled through
    /feedback; the next run, on a batch without drift, reviews the waiting candidate and promotes it."""
    model = "penguins-classifier"
    weak = production_version(penguins_stack, model)
    assert weak is not None  # the majority-class model of the test above
    penguins_stack.mlops("deploy", "--parameter", "TrainingModels=lr", "--parameter", "AbTestSampleSize=3")

    batch = simulate(penguins_stack, "penguins", 1.0, seed=22)
    day_one = start(penguins_stack, {"batch_key": batch}, "e2e-two-day-1")
    assert penguins_stack.wait_execution(day_one)["status"] == "SUCCEEDED"
    report = penguins_stack.report("e2e-two-day-1")
    assert report["offline_test"]["verdict"] == "significant_improvement", report["summary"]
    assert report["ab_testing_api"]["reason"] == "continue" and report["status"] == "pending", report["summary"]
    candidate = report["training"]["model_version"]
    assert registry(penguins_stack).get_model_version_by_alias(model, "staging").version == candidate
    assert production_version(penguins_stack, model) == weak

    # Live traffic: labelled penguins through /predict (both models answer each) and /feedback.
    import palmerpenguins

    rows = palmerpenguins.load_penguins().drop(columns=["year"]).sample(150, random_state=5)
    labels = rows.pop("species").astype(str).tolist()
    records = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in rows.to_dict(orient="records")]
    api = penguins_stack.env["API_URL"]
    answers = http_json(f"{api}/predict", {"instances": records, "user_ids": [f"live-{i}" for i in range(150)]})
    feedback = [
        {"prediction_id": a["prediction_id"], "label": y} for a, y in zip(answers["predictions"], labels, strict=True)
    ]
    http_json(f"{api}/feedback", {"feedback": feedback})
    stats = http_get_json(f"{api}/stats/ab?production_version={weak}&staging_version={candidate}")
    assert stats["experiments"][0]["pairs"] >= 150

    quiet = simulate(penguins_stack, "penguins", 0.0, seed=23)
    day_two = start(penguins_stack, {"batch_key": quiet}, "e2e-two-day-2")
    assert penguins_stack.wait_execution(day_two)["status"] == "SUCCEEDED"
    states = entered_states(penguins_stack, day_two)
    assert "FindPendingCandidate" in states and "TrainModel" not in states
    review = penguins_stack.report("e2e-two-day-2")
    assert review["ab_testing_api"]["mode"] == "pending_candidate"
    assert review["ab_testing_api"]["evidence"]["pairs"] >= 150
    assert review["status"] == "promoted" and review["promotion"]["reason"] == "better_offline_and_online"
    assert production_version(penguins_stack, model) == candidate
    tags = registry(penguins_stack).get_model_version(model, candidate).tags
    assert tags["gate.offline"] == "significant_improvement" and tags["gate.online"] == "non_inferior"
    assert tags["gate.run_id"] == "e2e-two-day-1"


def http_json(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def http_get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())
