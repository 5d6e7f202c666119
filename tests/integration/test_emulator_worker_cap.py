"""A function gets at most MLOPS_LAMBDA_WORKERS workers: a burst of invocations queues for them instead of
starting one cold worker per invocation on a machine with two cores."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.integration.conftest import build_zip, start_emulator, stop_emulator

pytestmark = pytest.mark.integration

HANDLER = """
import os
import time

def handler(event, context):
    started = time.time()
    time.sleep(event["seconds"])
    return {"pid": os.getpid(), "started": started, "ended": time.time()}
"""


def test_a_burst_queues_for_the_capped_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlops_local import environment

    monkeypatch.setenv(environment.LAMBDA_WORKERS, "2")
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    process, emulator = start_emulator(state_dir, None, "--ephemeral")
    try:
        role = emulator.client("iam").create_role(RoleName="cap", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam = emulator.client("lambda")
        lam.create_function(
            FunctionName="sleeper",
            Runtime="python3.11",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": build_zip({"app.py": HANDLER})},
            Timeout=120,
        )

        def invoke(_: int) -> dict:
            answer = lam.invoke(FunctionName="sleeper", Payload=json.dumps({"seconds": 1}).encode())
            assert "FunctionError" not in answer
            return json.loads(answer["Payload"].read())

        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(invoke, range(6)))
    finally:
        stop_emulator(process)

    assert len({result["pid"] for result in results}) <= 2
    # At no moment were more than two invocations running, as the functions themselves recorded.
    for moment in (result["started"] for result in results):
        assert sum(r["started"] <= moment < r["ended"] for r in results) <= 2
    assert os.environ[environment.LAMBDA_WORKERS] == "2"
