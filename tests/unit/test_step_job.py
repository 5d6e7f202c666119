"""mlops_core.jobs: a step run as a container job reads the run state from S3 and writes its output there."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mlops_core.exceptions import NotFoundError
from mlops_core.jobs import INPUT_KEY, OUTPUT_KEY, JobConfigError, run_step_job

from tests.fakes.object_store import InMemoryObjectStore

ENV = {INPUT_KEY: "jobs/run-1/train_model/input.json", OUTPUT_KEY: "jobs/run-1/train_model/output.json"}


def _echo(state: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"seen_run": state["run_id"], "rows": 3}


def test_the_step_reads_the_staged_state_and_its_output_lands_under_the_output_key() -> None:
    store = InMemoryObjectStore()
    store.put_new(ENV[INPUT_KEY], json.dumps({"run_id": "run-1"}).encode())
    assert run_step_job(ENV, store, _echo) == ENV[OUTPUT_KEY]
    assert json.loads(store.get(ENV[OUTPUT_KEY])) == {"seen_run": "run-1", "rows": 3}


def test_a_retried_job_keeps_the_first_output() -> None:
    store = InMemoryObjectStore()
    store.put_new(ENV[INPUT_KEY], b'{"run_id": "run-1"}')
    store.put_new(ENV[OUTPUT_KEY], b'{"first": true}')
    run_step_job(ENV, store, _echo)
    assert json.loads(store.get(ENV[OUTPUT_KEY])) == {"first": True}


@pytest.mark.parametrize("missing", [INPUT_KEY, OUTPUT_KEY])
def test_a_missing_key_variable_is_named(missing: str) -> None:
    env = {**ENV, missing: " "}
    with pytest.raises(JobConfigError, match=missing):
        run_step_job(env, InMemoryObjectStore(), _echo)


def test_input_that_is_not_json_is_named_by_its_uri() -> None:
    store = InMemoryObjectStore()
    store.put_new(ENV[INPUT_KEY], b"not json")
    with pytest.raises(JobConfigError, match=r"input\.json"):
        run_step_job(ENV, store, _echo)


def test_missing_input_and_step_errors_propagate_and_write_nothing() -> None:
    store = InMemoryObjectStore()
    with pytest.raises(NotFoundError):
        run_step_job(ENV, store, _echo)
    store.put_new(ENV[INPUT_KEY], b'{"run_id": "run-1"}')

    def broken(state: dict[str, Any], context: Any) -> dict[str, Any]:
        raise ValueError("training failed")

    with pytest.raises(ValueError, match="training failed"):
        run_step_job(ENV, store, broken)
    assert store.head(ENV[OUTPUT_KEY]) is None
