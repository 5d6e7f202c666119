"""A pipeline step as a job: the run state comes from S3 and the step's output goes back to S3.

An ECS task returns its own description to Step Functions, not a payload, and container overrides hold 8 KB
at most, so the state machine stages the run state under a key it names in TRAINING_JOB_INPUT_KEY and reads
the output from TRAINING_JOB_OUTPUT_KEY once the task has stopped (statemachine/pipeline.asl.json).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from mlops_core.data import put_if_absent
from mlops_core.exceptions import MlopsError
from mlops_core.ports import ObjectStore

INPUT_KEY = "TRAINING_JOB_INPUT_KEY"
OUTPUT_KEY = "TRAINING_JOB_OUTPUT_KEY"

Step = Callable[[dict[str, Any], Any], dict[str, Any]]


class JobConfigError(MlopsError):
    """The job was started without what it needs to find its input or place its output."""


def run_step_job(environ: Mapping[str, str], store: ObjectStore, step: Step) -> str:
    """Read the run state, run `step` on it, write its output as JSON; return the output key.

    The output is written create-only: a retried task derives the same output (the steps are idempotent), so
    the copy already there stands. Errors of the step propagate, so the job exits non-zero and Step Functions
    fails the state.
    """
    input_key, output_key = (_required(environ, name) for name in (INPUT_KEY, OUTPUT_KEY))
    raw = store.get(input_key)
    try:
        state = json.loads(raw)
    except ValueError as exc:
        raise JobConfigError(f"{store.uri(input_key)} ({INPUT_KEY}) is not JSON: {exc}") from exc
    output = step(state, None)
    put_if_absent(store, output_key, json.dumps(output, default=str).encode(), "application/json")
    return output_key


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise JobConfigError(f"{name} is not set: the state machine passes it in the task's container overrides")
    return value
