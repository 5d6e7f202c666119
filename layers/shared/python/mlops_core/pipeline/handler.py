"""What every step's Lambda handler shares: event checks and one structured log line per invocation.

Errors are not caught here: a raised exception becomes the Lambda function error whose type Step Functions
matches in Retry and Catch, and that generate_report shows in the failure report.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from mlops_core.exceptions import InvalidRequestError
from mlops_core.layout import is_safe_id

logger = logging.getLogger("mlops")
if not logger.handlers:
    # Lambda's runtime captures stdout; one JSON object per line keeps CloudWatch queries simple.
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False

Step = Callable[[dict[str, Any], Any], dict[str, Any]]


def log_event(**fields: Any) -> None:
    logger.info(json.dumps(fields, default=str, sort_keys=True))


def check_state(state: Any) -> dict[str, Any]:
    if not isinstance(state, dict):
        raise InvalidRequestError(f"the step expects the run state as a JSON object, got {type(state).__name__}")
    run_id = state.get("run_id")
    if not isinstance(run_id, str) or not is_safe_id(run_id):
        raise InvalidRequestError(f"run_id {run_id!r} is missing or not a safe identifier", field="run_id")
    if not isinstance(state.get("input", {}), dict):
        raise InvalidRequestError("the execution input must be a JSON object", field="input")
    return state


def step_handler(step: str) -> Callable[[Step], Step]:
    def decorate(func: Step) -> Step:
        @functools.wraps(func)
        def wrapper(event: dict[str, Any], context: Any) -> dict[str, Any]:
            started = time.perf_counter()
            request_id = getattr(context, "aws_request_id", None)
            state = check_state(event)
            log_event(step=step, phase="start", run_id=state["run_id"], request_id=request_id)
            try:
                result = func(state, context)
            except Exception as exc:
                log_event(
                    step=step,
                    phase="error",
                    run_id=state["run_id"],
                    error=type(exc).__name__,
                    message=str(exc),
                    seconds=round(time.perf_counter() - started, 3),
                )
                raise
            log_event(step=step, phase="end", run_id=state["run_id"], seconds=round(time.perf_counter() - started, 3))
            return result

        return wrapper

    return decorate
