"""The emulator's state survives a clean stop and a kill -9: objects with their versions, items, functions and
layers, state machines and their executions' history, log lines. An execution cut off by the kill ends FAILED."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (
    INFRA_DIR,
    RunningEmulator,
    build_zip,
    free_port,
    start_emulator,
    stop_emulator,
)

pytestmark = pytest.mark.integration

BUCKET = "persisted-data"
TABLE = "persisted-table"
BIG = bytes(range(256)) * 1024  # 256 KiB: stored as a blob file
HANDLER = """
import os
import time

def handler(event, context):
    if event.get("pid_file"):
        with open(event["pid_file"], "w") as file:
            file.write(str(os.getpid()))
    time.sleep(event.get("sleep", 0))
    print("handled", event.get("n"))
    return {"n": event.get("n"), "doubled": 2 * event.get("n", 0)}
"""
LAYER = "def helper():\n    return 'from the layer'\n"


class Stack:
    """One emulator process at a time over one state folder, restartable."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.running: RunningEmulator | None = None

    def start(self) -> RunningEmulator:
        self.process, self.running = start_emulator(self.state_dir, self.port)
        return self.running

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop_emulator(self.process)

    def client(self, service: str) -> Any:
        assert self.running is not None
        return self.running.client(service)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path / "state")
    stack.state_dir.mkdir()
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def populate(stack: Stack, role: str) -> dict[str, Any]:
    s3 = stack.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=BUCKET, Key="data/big.bin", Body=BIG)["VersionId"]
    second = s3.put_object(Bucket=BUCKET, Key="data/big.bin", Body=BIG[::-1])["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="small.json", Body=b'{"a": 1}', ContentType="application/json")

    dynamodb = stack.client("dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "traffic"}, "production": {"N": "0.7"}})
    dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": "counter"}},
        UpdateExpression="ADD requests :n",
        ExpressionAttributeValues={":n": {"N": "1554"}},
    )

    lam = stack.client("lambda")
    layer = lam.publish_layer_version(LayerName="helpers", Content={"ZipFile": build_zip({"python/helpers.py": LAYER})})
    lam.create_function(
        FunctionName="doubler",
        Runtime="python3.11",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": build_zip({"app.py": HANDLER})},
        Layers=[layer["LayerVersionArn"]],
        Timeout=120,
    )
    function_arn = lam.get_function(FunctionName="doubler")["Configuration"]["FunctionArn"]
    sfn = stack.client("stepfunctions")
    definition = {"StartAt": "Double", "States": {"Double": {"Type": "Task", "Resource": function_arn, "End": True}}}
    machine = sfn.create_state_machine(name="doubling", definition=json.dumps(definition), roleArn=role)
    done = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="done-1", input='{"n": 21}')
    wait_for(lambda: sfn.describe_execution(executionArn=done["executionArn"])["status"] != "RUNNING")
    return {
        "versions": [second, first],
        "state_machine": machine["stateMachineArn"],
        "execution": done["executionArn"],
        "layer": layer["LayerVersionArn"],
    }


def create_role(stack: Stack) -> str:
    trust = {"Version": "2012-10-17", "Statement": []}
    return stack.client("iam").create_role(RoleName="persisted", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return True


def wait_for(condition: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def assert_everything_is_back(stack: Stack, made: dict[str, Any]) -> None:
    s3 = stack.client("s3")
    assert s3.get_object(Bucket=BUCKET, Key="data/big.bin")["Body"].read() == BIG[::-1]
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix="data/")["Versions"]
    assert [v["VersionId"] for v in versions] == made["versions"]
    old = s3.get_object(Bucket=BUCKET, Key="data/big.bin", VersionId=made["versions"][1])["Body"].read()
    assert old == BIG
    small = s3.get_object(Bucket=BUCKET, Key="small.json")
    assert small["Body"].read() == b'{"a": 1}' and small["ContentType"] == "application/json"

    dynamodb = stack.client("dynamodb")
    assert dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "traffic"}})["Item"]["production"] == {"N": "0.7"}
    assert dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "counter"}})["Item"]["requests"] == {"N": "1554"}

    lam = stack.client("lambda")
    assert lam.get_function(FunctionName="doubler")["Configuration"]["Layers"][0]["Arn"] == made["layer"]
    answer = lam.invoke(FunctionName="doubler", Payload=json.dumps({"n": 4}).encode())
    assert json.loads(answer["Payload"].read()) == {"n": 4, "doubled": 8}

    sfn = stack.client("stepfunctions")
    described = sfn.describe_execution(executionArn=made["execution"])
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"n": 21, "doubled": 42}
    events = sfn.get_execution_history(executionArn=made["execution"])["events"]
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionSucceeded"

    logs = stack.client("logs").filter_log_events(logGroupName="/aws/lambda/doubler")["events"]
    assert any("handled 21" in event["message"] for event in logs)


def test_a_clean_stop_keeps_everything(stack: Stack) -> None:
    made = populate(stack, create_role(stack))
    stack.stop()
    stack.start()
    assert_everything_is_back(stack, made)


def test_a_kill_keeps_every_acknowledged_write(stack: Stack) -> None:
    made = populate(stack, create_role(stack))
    # The last writes, answered just before the kill: an answered write is on disk.
    stack.client("s3").put_object(Bucket=BUCKET, Key="last.txt", Body=b"answered before the kill")
    stack.client("dynamodb").put_item(TableName=TABLE, Item={"pk": {"S": "last"}})
    # The execution's end and its log lines are saved by the periodic snapshot, within a second or two.
    time.sleep(3)
    stack.kill()
    stack.start()
    assert_everything_is_back(stack, made)
    assert stack.client("s3").get_object(Bucket=BUCKET, Key="last.txt")["Body"].read() == b"answered before the kill"
    assert "Item" in stack.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": "last"}})


def test_an_execution_cut_off_by_a_kill_ends_failed_and_the_stack_goes_on(stack: Stack) -> None:
    made = populate(stack, create_role(stack))
    sfn = stack.client("stepfunctions")
    pid_file = stack.state_dir / "worker.pid"
    started = sfn.start_execution(
        stateMachineArn=made["state_machine"],
        name="cut-off",
        input=json.dumps({"n": 1, "sleep": 60, "pid_file": str(pid_file)}),
    )
    wait_for(
        lambda: any(
            e["type"] in ("LambdaFunctionScheduled", "TaskScheduled")
            for e in sfn.get_execution_history(executionArn=started["executionArn"])["events"]
        )
    )
    wait_for(pid_file.exists)
    worker = int(pid_file.read_text())
    time.sleep(1.5)  # a periodic snapshot sees it running
    stack.kill()
    # The worker of the cut-off invocation does not run on without the emulator that started it.
    wait_for(lambda: not _alive(worker), timeout=30)
    stack.start()

    described = sfn.describe_execution(executionArn=started["executionArn"])
    assert described["status"] == "FAILED"
    assert described["error"] == "States.StackStopped"
    assert described["cause"] == "the stack stopped during the run"
    events = stack.client("stepfunctions").get_execution_history(executionArn=started["executionArn"])["events"]
    assert events[-1]["type"] == "ExecutionFailed"
    assert events[-1]["executionFailedEventDetails"]["error"] == "States.StackStopped"
    # The restored state machine runs new executions.
    again = sfn.start_execution(stateMachineArn=made["state_machine"], name="after-restart", input='{"n": 5}')
    wait_for(lambda: sfn.describe_execution(executionArn=again["executionArn"])["status"] != "RUNNING")
    assert json.loads(sfn.describe_execution(executionArn=again["executionArn"])["output"])["doubled"] == 10


def test_an_ephemeral_emulator_starts_empty_and_leaves_the_saved_state_alone(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    process, running = start_emulator(state_dir)
    try:
        running.client("s3").create_bucket(Bucket=BUCKET)
    finally:
        stop_emulator(process)
    process, running = start_emulator(state_dir, None, "--ephemeral")
    try:
        assert running.client("s3").list_buckets()["Buckets"] == []
    finally:
        stop_emulator(process)
    process, running = start_emulator(state_dir)
    try:
        assert [b["Name"] for b in running.client("s3").list_buckets()["Buckets"]] == [BUCKET]
    finally:
        stop_emulator(process)


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        ({"format": 999, "moto": "9.9.9", "python": "3.11"}, "was written by format 999 on moto 9.9.9"),
        ("not a header", "was written by format None"),
    ],
)
def test_a_snapshot_this_emulator_cannot_read_stops_it_with_one_line(
    tmp_path: Path, snapshot: Any, expected: str
) -> None:
    state = tmp_path / "state" / "state"
    state.mkdir(parents=True)
    (state / "snapshot.pickle").write_bytes(pickle.dumps(snapshot))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops_local.emulator",
            "--port",
            str(free_port()),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        env={"PYTHONPATH": str(INFRA_DIR), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("mlops: error: ") and expected in last and "mlops reset" in last
    assert "Traceback" not in result.stderr
