"""A worker process that runs one call at a time and can be stopped: how a slow fit is kept to its time box.

PyCaret's `budget_time` is checked only between models, and a thread cannot be stopped, so each time-boxed
call runs in a child process that the parent kills, with its whole process group, when the call overruns.
The child is a fresh interpreter (`python -m mlops_core.training.worker`), not a multiprocessing spawn: spawn
re-imports the parent's __main__, which under the Lambda runtime or a test runner is not ours to re-run.
Calls and results travel pickled over a socket pair; state a call leaves in the worker (an experiment set up
once) stays there for the next call.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from mlops_core.training.exceptions import TrainingError

_FD_ENV = "MLOPS_TRAINING_WORKER_FD"
# What a call leaves for later calls in the same worker.
state: dict[str, Any] = {}


class WorkerTimeout(TrainingError):
    """A call ran past its time box; the worker was stopped."""


class WorkerFailed(TrainingError):
    """The call raised in the worker, or the worker died (for example killed for memory)."""


class StoppableWorker:
    """One child process; `call(func, *args, timeout=...)` runs `func(*args)` there. `func` must be a
    module-level function the child can import. Use as a context manager, or call `stop()`."""

    def __init__(self) -> None:
        # A socket pair rather than a listening socket: nothing else on the machine can connect to it.
        parent, child = socket.socketpair()
        env = {**os.environ, _FD_ENV: str(child.fileno()), "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "mlops_core.training.worker"],
                env=env,
                pass_fds=(child.fileno(),),
                stdout=subprocess.DEVNULL,  # LightGBM and friends print progress there; results come over the pipe
                start_new_session=True,  # its own process group: stopping it stops what it started (joblib)
            )
        finally:
            child.close()
        self._conn = Connection(parent.detach())

    def call(self, func: Callable[..., Any], *args: Any, timeout: float) -> tuple[Any, float]:
        """(func(*args) in the worker, its seconds there). WorkerTimeout (the worker stopped) when no answer
        came within `timeout` seconds; WorkerFailed when the call raised or the worker died."""
        try:
            self._conn.send((func.__module__, func.__qualname__, args))
            ready = self._conn.poll(timeout)
            if not ready:
                self.stop()
                raise WorkerTimeout(f"{func.__qualname__} did not finish within {timeout:.1f} s and was stopped")
            outcome, value, seconds = self._conn.recv()
        except (EOFError, OSError):
            code = self._process.poll()
            self.stop()
            raise WorkerFailed(f"the training worker died during {func.__qualname__} (exit code {code})") from None
        if outcome == "error":
            raise WorkerFailed(f"{func.__qualname__} failed in the training worker: {value}")
        return value, seconds

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> None:
        """Kill the worker and everything it started; idempotent."""
        # The whole group, even when the worker itself has ended: what it started may still run.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()
        self._conn.close()

    def __enter__(self) -> StoppableWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve(conn: Connection) -> None:
    import importlib
    import traceback

    while True:
        try:
            module, name, args = conn.recv()
        except EOFError:
            return
        started = time.perf_counter()
        try:
            func = importlib.import_module(module)
            for part in name.split("."):
                func = getattr(func, part)
            result = ("ok", func(*args), time.perf_counter() - started)
        except Exception as exc:  # reported to the parent, which raises WorkerFailed
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            result = ("error", last, time.perf_counter() - started)
        conn.send(result)


if __name__ == "__main__":
    from mlops_core.pycaret_env import quiet_pycaret_logging

    # PyCaret writes logs.log into the working directory on import unless told where; a worker started before
    # the parent set that (a bare StoppableWorker) must not litter the caller's folder.
    quiet_pycaret_logging()
    _serve(Connection(int(os.environ[_FD_ENV])))
