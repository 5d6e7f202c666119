"""The emulator runs deployed Lambda code: zip + layers, warm workers, errors, timeouts, async, logs."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from mlops_local.services import pid_alive

pytestmark = pytest.mark.integration

HANDLER = """
import os
import time
import logging

import boto3
import shared_helpers

COUNT = 0
LOGGER = logging.getLogger()


def handler(event, context):
    global COUNT
    COUNT += 1
    print("event received:", event.get("action"))
    LOGGER.warning("warning from the handler")
    action = event.get("action")
    if action == "meet":
        return meet(event, context)
    if action == "fail":
        raise shared_helpers.PermanentError("the input is unusable")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "exit":
        os._exit(3)
    if action == "put":
        boto3.client("s3").put_object(Bucket=event["bucket"], Key=event["key"], Body=b"done")
    if action == "unserializable":
        return {"value": object()}
    return {
        "layer": shared_helpers.NAME,
        "pid": os.getpid(),
        "count": COUNT,
        "cwd": os.getcwd(),
        "env": {k: os.environ.get(k) for k in event.get("env", [])},
        "context": {
            "function_name": context.function_name,
            "aws_request_id": context.aws_request_id,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "invoked_function_arn": context.invoked_function_arn,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
    }


# Check in under `folder`, then wait (up to `seconds`) until `expected` invocations have checked in.
def meet(event, context):
    started = time.time()
    open(os.path.join(event["folder"], context.aws_request_id), "w").close()
    deadline = time.monotonic() + event["seconds"]
    while len(os.listdir(event["folder"])) < event["expected"] and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"pid": os.getpid(), "met": len(os.listdir(event["folder"])), "started": started, "ended": time.time()}
"""

LAYER = {
    "python/shared_helpers.py": 'NAME = "shared-layer"\n\n\nclass PermanentError(Exception):\n    pass\n',
}


def payload_of(response: dict[str, Any]) -> Any:
    return json.loads(response["Payload"].read())


@pytest.fixture(scope="module")
def lam(emulator):
    return emulator.client("lambda")


@pytest.fixture(scope="module")
def layer_arn(lam, make_zip) -> str:
    return lam.publish_layer_version(LayerName="shared-helpers", Content={"ZipFile": make_zip(LAYER)})[
        "LayerVersionArn"
    ]


def create_function(lam, make_zip, lambda_role: str, layer_arn: str, timeout: int) -> str:
    """A fresh function, so that warm workers of one test never serve another."""
    name = f"fn-{uuid.uuid4().hex[:10]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=lambda_role,
        Handler="pkg.app.handler",
        Code={"ZipFile": make_zip({"pkg/__init__.py": "", "pkg/app.py": HANDLER})},
        Layers=[layer_arn],
        Environment={"Variables": {"STAGE": "test", "AWS_LAMBDA_FUNCTION_NAME": "spoofed"}},
        Timeout=timeout,
        MemorySize=256,
    )
    return name


@pytest.fixture
def function(lam, make_zip, lambda_role, layer_arn):
    return create_function(lam, make_zip, lambda_role, layer_arn, timeout=2)


def invoke(lam, name: str, event: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **kwargs)


def test_sync_invoke_runs_the_zip_with_its_layer_environment_and_context(emulator, lam, function):
    response = invoke(
        lam,
        function,
        {
            "env": [
                "STAGE",
                "AWS_ENDPOINT_URL",
                "AWS_LAMBDA_FUNCTION_NAME",
                "AWS_REGION",
                "MLFLOW_S3_ENDPOINT_URL",
                "LAMBDA_TASK_ROOT",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            ]
        },
    )

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    result = payload_of(response)
    assert result["layer"] == "shared-layer"
    env = result["env"]
    assert env["STAGE"] == "test"
    assert env["AWS_ENDPOINT_URL"] == emulator.endpoint_url
    assert env["MLFLOW_S3_ENDPOINT_URL"] == emulator.endpoint_url
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == function  # the runtime's value wins over the function's
    assert env["AWS_REGION"] == emulator.region
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert result["cwd"] == env["LAMBDA_TASK_ROOT"]
    assert Path(env["LAMBDA_TASK_ROOT"]).is_relative_to(emulator.state_dir / "lambda")
    context = result["context"]
    assert context["function_name"] == function
    assert context["memory_limit_in_mb"] == 256
    assert context["invoked_function_arn"].endswith(f":function:{function}")
    assert context["log_group_name"] == f"/aws/lambda/{function}"
    assert context["log_stream_name"].split("/")[3].startswith("[$LATEST]")
    assert 0 < context["remaining_ms"] <= 2000
    assert uuid.UUID(context["aws_request_id"])


def test_workers_stay_warm_between_invocations(lam, function):
    first = payload_of(invoke(lam, function, {}))
    second = payload_of(invoke(lam, function, {}))

    assert second["pid"] == first["pid"]
    assert (first["count"], second["count"]) == (1, 2)


def test_concurrent_invocations_run_in_parallel_workers(lam, make_zip, lambda_role, layer_arn, tmp_path):
    # Each invocation checks in and waits for the other: one after the other, the first would wait in vain.
    # The wait is long enough for a second worker's cold start on a busy machine; it ends early when both meet.
    function = create_function(lam, make_zip, lambda_role, layer_arn, timeout=60)
    event = {"action": "meet", "folder": str(tmp_path), "expected": 2, "seconds": 45}
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: payload_of(invoke(lam, function, event)), range(2)))

    assert results[0]["pid"] != results[1]["pid"]
    assert [result["met"] for result in results] == [2, 2]
    # As the functions themselves saw it: each started before the other ended.
    assert max(result["started"] for result in results) < min(result["ended"] for result in results)


def test_a_raised_exception_is_an_unhandled_function_error_with_its_type(lam, function):
    response = invoke(lam, function, {"action": "fail"})

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = payload_of(response)
    assert error["errorType"] == "PermanentError"
    assert error["errorMessage"] == "the input is unusable"
    assert "pkg/app.py" in error["stackTrace"][0]
    # The worker survives a handled error, as on Lambda.
    assert payload_of(invoke(lam, function, {}))["count"] == 2


def test_an_unserializable_result_is_a_marshal_error(lam, function):
    response = invoke(lam, function, {"action": "unserializable"})

    assert response["FunctionError"] == "Unhandled"
    assert payload_of(response)["errorType"] == "Runtime.MarshalError"


def test_a_timeout_kills_the_worker_and_reports_sandbox_timedout(lam, function):
    before = payload_of(invoke(lam, function, {}))
    response = invoke(lam, function, {"action": "sleep", "seconds": 30})

    assert response["FunctionError"] == "Unhandled"
    error = payload_of(response)
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in error["errorMessage"]
    # The answer came once the worker was killed, not once the 30 s sleep ended.
    assert not pid_alive(before["pid"])
    after = payload_of(invoke(lam, function, {}))
    assert after["pid"] != before["pid"]
    assert after["count"] == 1


def test_a_worker_that_dies_is_reported_as_an_error(lam, function):
    response = invoke(lam, function, {"action": "exit"})

    assert response["FunctionError"] == "Unhandled"
    error = payload_of(response)
    assert error["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in error["errorMessage"]
    assert payload_of(invoke(lam, function, {}))["count"] == 1


def test_a_missing_module_is_an_import_error(lam, make_zip, lambda_role):
    name = f"fn-{uuid.uuid4().hex[:10]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=lambda_role,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": "import not_a_module_anywhere\n"})},
    )
    response = invoke(lam, name, {})

    assert response["FunctionError"] == "Unhandled"
    error = payload_of(response)
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "not_a_module_anywhere" in error["errorMessage"]


def test_a_payload_that_is_not_json_is_refused(lam, function):
    with pytest.raises(lam.exceptions.ClientError) as raised:
        lam.invoke(FunctionName=function, Payload=b"{not json")

    assert raised.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_event_invocation_returns_at_once_and_runs_in_the_background(emulator, lam, function):
    s3 = emulator.client("s3")
    bucket = f"async-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    event = {"action": "put", "bucket": bucket, "key": "marker"}

    response = invoke(lam, function, event, InvocationType="Event")

    assert response["StatusCode"] == 202
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if s3.list_objects_v2(Bucket=bucket).get("KeyCount"):
            break
        time.sleep(0.1)
    assert s3.get_object(Bucket=bucket, Key="marker")["Body"].read() == b"done"


def test_new_code_and_configuration_replace_the_warm_workers(lam, make_zip, function):
    before = payload_of(invoke(lam, function, {}))

    lam.update_function_configuration(FunctionName=function, Environment={"Variables": {"STAGE": "updated"}})
    after_config = payload_of(invoke(lam, function, {"env": ["STAGE"]}))
    new_code = HANDLER.replace('"layer": shared_helpers.NAME', '"layer": "new code"')
    lam.update_function_code(FunctionName=function, ZipFile=make_zip({"pkg/__init__.py": "", "pkg/app.py": new_code}))
    after_code = payload_of(invoke(lam, function, {}))

    assert after_config["env"]["STAGE"] == "updated"
    assert after_config["pid"] != before["pid"]
    assert after_code["layer"] == "new code"
    assert after_code["pid"] != after_config["pid"]


def test_tail_returns_the_invocation_log(lam, function):
    response = invoke(lam, function, {"action": "hello"}, LogType="Tail")

    log = base64.b64decode(response["LogResult"]).decode()
    lines = log.splitlines()
    assert lines[0].startswith("START RequestId: ")
    assert "event received: hello" in lines
    assert lines[-1].startswith("REPORT RequestId: ")


def _aws_cli(emulator, *args: str, **extra_env: str) -> str:
    venv_bin = Path(sys.executable).parent
    env = {**os.environ, **emulator.environ(), "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}", **extra_env}
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_function_output_reaches_cloudwatch_logs_through_the_aws_cli(emulator, lam, function):
    payload_of(invoke(lam, function, {"action": "first"}))
    payload_of(invoke(lam, function, {"action": "fail"}))
    group = f"/aws/lambda/{function}"
    aws = shutil.which("aws", path=str(Path(sys.executable).parent))
    assert aws, "the AWS CLI is not installed beside this interpreter"

    streams = json.loads(
        _aws_cli(
            emulator,
            aws,
            "--endpoint-url",
            emulator.endpoint_url,
            "logs",
            "describe-log-streams",
            "--log-group-name",
            group,
        )
    )["logStreams"]
    events = json.loads(
        _aws_cli(
            emulator,
            aws,
            "--endpoint-url",
            emulator.endpoint_url,
            "logs",
            "filter-log-events",
            "--log-group-name",
            group,
        )
    )["events"]
    messages = [event["message"] for event in events]
    # `aws logs tail` exists only in AWS CLI v2; the v1 CLI installed here reads logs with the calls above.
    # awslocal finds the endpoint from LOCALSTACK_HOST, so it works on any port.
    awslocal = _aws_cli(
        emulator,
        str(Path(sys.executable).parent / "awslocal"),
        "logs",
        "get-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        streams[0]["logStreamName"],
        LOCALSTACK_HOST=f"127.0.0.1:{emulator.port}",
        AWS_ENDPOINT_URL="",
    )

    assert len(streams) == 1
    assert streams[0]["logStreamName"].split("/")[3].startswith("[$LATEST]")
    assert sum(m.startswith("START RequestId: ") for m in messages) == 2
    assert sum(m.startswith("END RequestId: ") for m in messages) == 2
    reports = [m for m in messages if m.startswith("REPORT RequestId: ")]
    assert len(reports) == 2
    assert all("Duration: " in m and "Billed Duration: " in m and "Memory Size: 256 MB" in m for m in reports)
    assert "Init Duration: " in reports[0] and "Init Duration: " not in reports[1]
    assert "event received: first" in messages
    assert any(m.startswith("[WARNING]\t") and m.endswith("\twarning from the handler") for m in messages)
    assert "[ERROR] PermanentError: the input is unusable" in messages
    assert "event received: fail" in [e["message"] for e in json.loads(awslocal)["events"]]


def test_a_port_in_use_is_refused_with_its_number(emulator):
    from mlops_local.emulator import EmulatorServer
    from mlops_local.exceptions import EmulatorError

    with pytest.raises(EmulatorError, match=rf"port {emulator.port} .*already in use"):
        EmulatorServer(port=emulator.port, state_dir=emulator.state_dir / "unused").start()
