"""Start pipeline executions, follow them state by state, and fetch their reports."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlops_core import layout

from mlops_local.exceptions import ToolError

_FINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def new_run_name(prefix: str = "run", now: datetime | None = None) -> str:
    """Execution names are run ids: they start with a UTC timestamp so listing sorts them in time order."""
    moment = now or datetime.now(UTC)
    # The Z promises UTC: an aware time in another zone is converted, not relabelled.
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    stamp = moment.strftime("%Y%m%dT%H%M%SZ")
    return f"{prefix}-{stamp}-{secrets.token_hex(3)}"


@dataclass
class StepEvent:
    state: str
    kind: str  # "entered" | "exited" | "failed"
    at: datetime
    detail: str = ""


@dataclass
class RunOutcome:
    execution_arn: str
    run_id: str
    status: str
    seconds: float
    output: dict[str, Any] | None
    error: str | None
    cause: str | None


def start_run(sfn: Any, state_machine_arn: str, run_input: dict[str, Any], name: str | None = None) -> tuple[str, str]:
    name = name or new_run_name()
    response = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(run_input))
    return response["executionArn"], name


def follow(
    sfn: Any,
    execution_arn: str,
    *,
    poll_seconds: float = 0.5,
    timeout_seconds: float = 3600,
    on_event: Callable[[StepEvent], None] | None = None,
) -> RunOutcome:
    """Poll the execution history, reporting each state as it is entered and left, until the run ends."""
    started = time.monotonic()
    seen = 0
    while True:
        events = list(_history(sfn, execution_arn))
        for event in events[seen:]:
            step = _step_event(event)
            if step and on_event:
                on_event(step)
        seen = len(events)
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] in _FINAL:
            # Events can land after the status flips; read the tail once more.
            for event in list(_history(sfn, execution_arn))[seen:]:
                step = _step_event(event)
                if step and on_event:
                    on_event(step)
            output = json.loads(described["output"]) if described.get("output") else None
            return RunOutcome(
                execution_arn=execution_arn,
                run_id=described["name"],
                status=described["status"],
                seconds=time.monotonic() - started,
                output=output,
                error=described.get("error"),
                cause=described.get("cause"),
            )
        if time.monotonic() - started > timeout_seconds:
            raise TimeoutError(f"execution {execution_arn} still running after {timeout_seconds:.0f} s")
        time.sleep(poll_seconds)


def _history(sfn: Any, execution_arn: str) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        page = sfn.get_execution_history(**kwargs)
        yield from page["events"]
        token = page.get("nextToken")
        if not token:
            return


def _step_event(event: dict[str, Any]) -> StepEvent | None:
    kind = event["type"]
    at = event["timestamp"]
    if kind.endswith("StateEntered"):
        return StepEvent(event["stateEnteredEventDetails"]["name"], "entered", at)
    if kind.endswith("StateExited"):
        return StepEvent(event["stateExitedEventDetails"]["name"], "exited", at)
    if kind in ("LambdaFunctionFailed", "LambdaFunctionTimedOut", "TaskFailed", "TaskTimedOut"):
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        return StepEvent("", "failed", at, f"{details.get('error', '')}: {_short_cause(details.get('cause'))}")
    return None


def _short_cause(cause: str | None) -> str:
    if not cause:
        return ""
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        return cause[:300]
    return str(parsed.get("errorMessage", cause))[:300] if isinstance(parsed, dict) else cause[:300]


def fetch_report(s3: Any, reports_bucket: str, run_id: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        body = s3.get_object(Bucket=reports_bucket, Key=layout.report_json_key(run_id))["Body"].read()
    except ClientError:
        return None
    return json.loads(body)


def interrupted_state(sfn: Any, execution_arn: str, error: str, cause: str) -> dict[str, Any]:
    """The run state generate_report would have received had the run been caught: the state as the last step
    left it (the StartRun envelope plus each finished step's result), with the error that ended it."""
    described = sfn.describe_execution(executionArn=execution_arn)
    state: dict[str, Any] = {}
    for event in _history(sfn, execution_arn):
        details = event.get("stateExitedEventDetails")
        if details and details.get("output"):
            try:
                output = json.loads(details["output"])
            except ValueError:
                continue
            if isinstance(output, dict) and "run_id" in output:
                state = output
    if not state:
        started = described["startDate"]
        state = {
            "run_id": described["name"],
            "execution_arn": execution_arn,
            "started_at": started.isoformat() if hasattr(started, "isoformat") else str(started),
            "input": json.loads(described.get("input") or "{}"),
        }
    return {**state, "error": {"Error": error, "Cause": cause}}


def report_interrupted(
    sfn: Any,
    lambda_client: Any,
    s3: Any,
    *,
    state_machine_arn: str,
    report_function: str,
    reports_bucket: str,
    error: str = "States.StackStopped",
) -> list[str]:
    """Write the failure report of every execution that ended with `error` and has none yet (idempotent: the
    report step never overwrites a report). Returns their run ids."""
    reported = []
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn, statusFilter="FAILED")
    for page in pages:
        for execution in page["executions"]:
            if fetch_report(s3, reports_bucket, execution["name"]) is not None:
                continue
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if described.get("error") != error:
                continue
            state = interrupted_state(sfn, execution["executionArn"], error, described.get("cause", ""))
            answer = lambda_client.invoke(FunctionName=report_function, Payload=json.dumps(state).encode())
            if answer.get("FunctionError"):
                detail = answer["Payload"].read().decode(errors="replace")[:300]
                raise ToolError(f"the failure report of {execution['name']} could not be written: {detail}")
            reported.append(execution["name"])
    return reported
