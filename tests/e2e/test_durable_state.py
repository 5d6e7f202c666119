"""A stack that keeps its memory: after `mlops down` + `mlops up`, and after a kill -9 of the emulator, the API
serves the same model with the same split and counters and the same reports; an execution the kill cut off ends
failed with its report, and Production stays where it was."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.conftest import Stack, user_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

API_KEY = "durable-secret-key"
USERS = [f"user-{i}" for i in range(12)]
FEATURES = {"sepal_length": 6.1, "sepal_width": 2.8, "petal_length": 4.7, "petal_width": 1.2}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from mlops_local import environment

    state_dir = tmp_path_factory.mktemp("durable")
    started = Stack(state_dir, user_env(**{environment.API_KEY: API_KEY}), {})
    started.mlops("up", "--detach", "--dataset", "iris", timeout=600)
    try:
        load_env(started)
        yield started
    finally:
        started.mlops("down", check=False, timeout=120)


def load_env(stack: Stack) -> None:
    for line in stack.mlops("env").stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        stack.env[key] = value
    stack.outputs = json.loads((stack.state_dir / "stack.json").read_text())["outputs"]


def api(stack: Stack) -> str:
    return stack.env["API_URL"]


def predictions(stack: Stack) -> list[tuple[str, str, Any]]:
    """The same requests each time: sticky users, one record each."""
    answers = []
    for user in USERS:
        body = requests.post(f"{api(stack)}/predict", json={"features": FEATURES, "user_id": user}, timeout=60).json()
        answers.append((body["variant"], body["model_version"], body["prediction"]))
    return answers


def service(stack: Stack) -> dict[str, Any]:
    """What a user reads of the stack through the API besides predictions."""
    url = api(stack)
    return {
        "traffic": requests.get(f"{url}/config/traffic", timeout=60).json(),
        "reports": requests.get(f"{url}/reports", timeout=60).json(),
        "aliases": requests.get(f"{url}/models/status", timeout=60).json()["aliases"],
    }


def counted(stack: Stack) -> int:
    stats = requests.get(f"{api(stack)}/stats/ab", timeout=60).json()
    return sum(figures["requests"] for figures in stats["variants"].values())


def settled_count(stack: Stack, at_least: int = 0) -> int:
    """The A/B request counter once the API's background flush (about once a second) has caught up."""
    deadline = time.monotonic() + 60
    previous = -1
    while True:
        current = counted(stack)
        if current == previous and current >= at_least:
            return current
        assert time.monotonic() < deadline, f"the counters did not settle: {previous} then {current}"
        previous = current
        time.sleep(2)


def emulator_pid(stack: Stack) -> int:
    return json.loads((stack.state_dir / "stack.json").read_text())["pids"]["emulator"]


def test_the_stack_keeps_its_memory_across_a_restart_and_a_kill(stack: Stack) -> None:
    stack.mlops("seed")
    stack.mlops("simulate", "--strength", "1.0", "--seed", "3")
    stack.mlops("run", timeout=900)
    response = requests.post(
        f"{api(stack)}/config/traffic", json={"production": 0.7}, headers={"x-api-key": API_KEY}, timeout=60
    )
    assert response.status_code == 200, response.text
    # The API re-checks the aliases every 5 s: let it see that the promotion cleared `staging`.
    time.sleep(6)
    before = settled_count(stack)
    answers = predictions(stack)
    counted_before_down = settled_count(stack, before + len(USERS))
    assert counted_before_down == before + len(USERS)
    seen = service(stack)
    assert seen["traffic"]["production"] == 0.7 and seen["aliases"]["production"] == "1"
    assert seen["reports"]

    # A clean restart: the same counters before any new request, then the same answers.
    stack.mlops("down", timeout=120)
    stack.mlops("up", "--detach", timeout=600)
    load_env(stack)
    assert counted(stack) == counted_before_down
    assert service(stack) == seen
    assert predictions(stack) == answers
    counted_before_kill = settled_count(stack, counted_before_down + len(USERS))
    assert counted_before_kill == counted_before_down + len(USERS)

    # A kill -9 of the emulator; `mlops up` restarts what died and keeps what still runs.
    os.kill(emulator_pid(stack), signal.SIGKILL)
    up = stack.mlops("up", "--detach", timeout=600)
    assert "restarting what stopped: emulator" in up.stdout
    load_env(stack)
    assert counted(stack) == counted_before_kill
    assert service(stack) == seen
    assert predictions(stack) == answers


def test_an_execution_cut_off_by_a_kill_ends_failed_with_its_report(stack: Stack) -> None:
    production = requests.get(f"{api(stack)}/models/status", timeout=60).json()["aliases"].get("production")
    stack.mlops("simulate", "--strength", "1.5", "--seed", "8")
    arn = stack.mlops("run", "--no-wait").stdout.strip().splitlines()[-1]
    deadline = time.monotonic() + 300
    while True:  # cut it off while it trains
        history = stack.cli("awslocal", "stepfunctions", "get-execution-history", "--execution-arn", arn)["events"]
        if any(e.get("stateEnteredEventDetails", {}).get("name") == "TrainModel" for e in history):
            break
        assert time.monotonic() < deadline, "the run never reached TrainModel"
        time.sleep(0.5)
    time.sleep(2)  # the periodic snapshot saves it as running
    os.kill(emulator_pid(stack), signal.SIGKILL)

    up = stack.mlops("up", "--detach", timeout=600)
    run_id = arn.rsplit(":", 1)[1]
    assert f"execution {run_id} stopped with the stack" in up.stdout
    described = stack.cli("awslocal", "stepfunctions", "describe-execution", "--execution-arn", arn)
    assert described["status"] == "FAILED" and described["error"] == "States.StackStopped"
    report = stack.report(run_id)
    assert report["status"] == "failed"
    assert report["error"]["type"] == "States.StackStopped"
    assert "stack stopped during the run" in report["error"]["message"]
    # The drift result the run had reached is in its failure report; Production did not move.
    assert report["drift"]["detected"] is True
    assert requests.get(f"{api(stack)}/models/status", timeout=60).json()["aliases"].get("production") == production
    # A second `up` finds nothing more to report.
    assert "stopped with the stack" not in stack.mlops("up", "--detach", timeout=600).stdout


def test_an_mlflow_outage_degrades_the_api_instead_of_stopping_it(stack: Stack) -> None:
    mlflow_pid = json.loads((stack.state_dir / "stack.json").read_text())["pids"]["mlflow"]
    assert requests.get(f"{api(stack)}/health", timeout=60).json()["status"] == "ready"
    # The whole server: `mlflow server` serves from child processes of the pid the stack records.
    os.killpg(mlflow_pid, signal.SIGKILL)
    # The loaded models keep serving; the health check says what is wrong, without internal addresses.
    time.sleep(6)  # past the registry cache's re-check, so the API notices the outage
    answers = predictions(stack)
    assert all(version == "1" for _, version, _ in answers)
    health = requests.get(f"{api(stack)}/health", timeout=60)
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert "registry" in health.json()["reason"] and "127.0.0.1" not in health.text
    up = stack.mlops("up", "--detach", timeout=600)
    assert "restarting what stopped: mlflow" in up.stdout
    deadline = time.monotonic() + 60
    while requests.get(f"{api(stack)}/health", timeout=60).json()["status"] != "ready":
        assert time.monotonic() < deadline, "the API did not see MLflow come back"
        time.sleep(1)


def test_down_then_reset_wipes_the_stack(stack: Stack) -> None:
    refused = stack.mlops("reset", check=False)
    assert refused.returncode == 1 and "`mlops down` first" in refused.stderr
    stack.mlops("down", timeout=120)
    status = stack.mlops("status").stdout
    assert "stopped" in status and "'iris'" in status
    stack.mlops("reset")
    assert not stack.state_dir.exists()
