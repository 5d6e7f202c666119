"""StoppableWorker: a call runs in a child process, answers come back, an overrunning call is stopped."""

from __future__ import annotations

import os
import time

import pytest
from mlops_core.training.worker import StoppableWorker, WorkerFailed, WorkerTimeout


def test_a_call_returns_its_value_and_seconds_and_runs_in_another_process() -> None:
    with StoppableWorker() as worker:
        pid, seconds = worker.call(os.getpid, timeout=30)
        assert pid != os.getpid() and seconds >= 0
        assert worker.call(divmod, 7, 2, timeout=30)[0] == (3, 1)


def test_an_overrunning_call_is_stopped_and_the_worker_is_gone() -> None:
    worker = StoppableWorker()
    try:
        with pytest.raises(WorkerTimeout, match=r"sleep did not finish within 0\.5 s"):
            worker.call(time.sleep, 60, timeout=0.5)
        assert not worker.alive
    finally:
        worker.stop()
    worker.stop()  # idempotent


def test_an_error_in_the_call_is_reported_and_the_worker_keeps_serving() -> None:
    with StoppableWorker() as worker:
        with pytest.raises(WorkerFailed, match="ValueError: invalid literal"):
            worker.call(int, "x", timeout=30)
        assert worker.alive and worker.call(int, "3", timeout=30)[0] == 3


def test_a_worker_that_dies_is_reported() -> None:
    with StoppableWorker() as worker:
        with pytest.raises(WorkerFailed, match="died during _exit"):
            worker.call(os._exit, 3, timeout=30)
        assert not worker.alive
