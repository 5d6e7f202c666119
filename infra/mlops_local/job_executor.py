"""Runs ECS tasks for the emulator: the container's command as a local process over the deployed code.

An ECS task runs an image; the emulator has no images. The task definition of this stack names, in place of an
image, the Lambda function whose code the image would hold (the Dockerfile's `functions` stage is that code
plus the shared layer), so the task runs in a process of this interpreter with the function's code unpacked as
its working directory and its layers on PYTHONPATH, as the image's /var/task and /opt/python. The process gets
the task definition's environment with the task's overrides; its output goes to the awslogs group of the
container, one stream per task (`<prefix>/<container>/<task id>`), as Fargate names them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mlops_local.lambda_executor import CodeStore, LogSink, base_environment

LOG = logging.getLogger(__name__)

# Fargate sends SIGTERM on StopTask, then SIGKILL after the container's stopTimeout (default 30 s).
STOP_GRACE_SECONDS = 30.0
# An image's `python3` is the runtime's interpreter; here that is this interpreter with its site-packages.
PYTHON_NAMES = frozenset({"python", "python3", "python3.11"})
# Stop codes of DescribeTasks.
ESSENTIAL_CONTAINER_EXITED = "EssentialContainerExited"
USER_INITIATED = "UserInitiated"
TASK_FAILED_TO_START = "TaskFailedToStart"


class JobStartError(Exception):
    """The task cannot start (its image names no deployed code, its command is empty); the message says why."""


@dataclass(frozen=True)
class JobSpec:
    """One task's essential container, detached from moto's models."""

    task_arn: str
    account_id: str
    region: str
    container: str
    command: tuple[str, ...]  # entryPoint + command, as Docker joins them
    environment: Mapping[str, str]
    code: bytes = field(repr=False)
    layers: tuple[bytes, ...] = field(default=(), repr=False)
    log_group: str | None = None
    log_stream_prefix: str | None = None

    @property
    def task_id(self) -> str:
        return self.task_arn.rsplit("/", 1)[-1]

    @property
    def log_stream(self) -> str | None:
        if not self.log_group:
            return None
        prefix = f"{self.log_stream_prefix}/" if self.log_stream_prefix else ""
        return f"{prefix}{self.container}/{self.task_id}"


@dataclass(frozen=True)
class JobExit:
    """How a task stopped: what DescribeTasks reports as exitCode, stopCode and stoppedReason."""

    exit_code: int | None  # None when the container never started
    stop_code: str
    reason: str


def job_environment(
    spec: JobSpec, task_root: str, layer_paths: list[str], endpoint_url: str, host_env: Mapping[str, str]
) -> dict[str, str]:
    """The container's environment: endpoints as defaults the task may override, then the task's variables,
    then what the platform sets (credentials from the task role, the region)."""
    env = base_environment(endpoint_url, {"HOME": task_root, **spec.environment}, host_env)
    env.update(
        {
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
            # The functions image sets PYTHONPATH=/opt/python (Dockerfile); the layers stand for /opt/python.
            "PYTHONPATH": os.pathsep.join(layer_paths),
        }
    )
    return env


def process_argv(command: tuple[str, ...]) -> list[str]:
    if not command:
        raise JobStartError("the container has neither an entryPoint nor a command")
    head = command[0].rsplit("/", 1)[-1]
    return [sys.executable if head in PYTHON_NAMES else command[0], *command[1:]]


def exit_code_of(returncode: int) -> int:
    """Docker's exit code: 128 + the signal for a process a signal ended (SIGKILL 137, SIGTERM 143)."""
    return 128 - returncode if returncode < 0 else returncode


class _Job:
    def __init__(self, spec: JobSpec, process: subprocess.Popen[bytes]) -> None:
        self.spec = spec
        self.process = process
        self.stop_reason: str | None = None


class JobExecutor:
    """Starts tasks as local processes and reports each one's exit through a callback."""

    def __init__(self, code: CodeStore, endpoint_url: str, sink: LogSink) -> None:
        self._code = code
        self.endpoint_url = endpoint_url
        self._sink = sink
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}

    def start(self, spec: JobSpec, on_exit: Callable[[JobExit], None]) -> None:
        """Start the task's process; `on_exit` is called once, from another thread, when it has stopped.

        Raises JobStartError when the task cannot start; nothing runs then.
        """
        argv = process_argv(spec.command)
        task_root = self._code.unpack(spec.code, f"code of the image of task {spec.task_id}")
        layers = [self._code.unpack(blob, f"layer {i} of task {spec.task_id}") for i, blob in enumerate(spec.layers)]
        env = job_environment(spec, str(task_root), self._code.layer_paths(layers), self.endpoint_url, os.environ)
        if spec.log_group and spec.log_stream:
            self._sink.create_stream(spec.account_id, spec.region, spec.log_group, spec.log_stream)
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=task_root,
                start_new_session=True,
            )
        except OSError as exc:
            raise JobStartError(f"CannotStartContainerError: {argv[0]}: {exc.strerror}") from exc
        job = _Job(spec, process)
        with self._lock:
            self._jobs[spec.task_arn] = job
        threading.Thread(target=self._follow, args=(job, on_exit), name=f"ecs-task-{spec.task_id}", daemon=True).start()

    def _follow(self, job: _Job, on_exit: Callable[[JobExit], None]) -> None:
        assert job.process.stdout is not None
        for raw in job.process.stdout:
            self._log(job.spec, [raw.decode("utf-8", errors="replace").rstrip("\n")])
        code = exit_code_of(job.process.wait())
        with self._lock:
            self._jobs.pop(job.spec.task_arn, None)
        if job.stop_reason is not None:
            result = JobExit(code, USER_INITIATED, job.stop_reason)
        else:
            result = JobExit(code, ESSENTIAL_CONTAINER_EXITED, "Essential container in task exited")
        try:
            on_exit(result)
        except Exception:
            LOG.exception("could not record the end of task %s", job.spec.task_arn)

    def _log(self, spec: JobSpec, messages: list[str]) -> None:
        if not (spec.log_group and spec.log_stream):
            return
        try:
            self._sink.put(spec.account_id, spec.region, spec.log_group, spec.log_stream, messages)
        except Exception:
            LOG.exception("could not write the logs of task %s", spec.task_arn)

    def stop(self, task_arn: str, reason: str, grace: float = STOP_GRACE_SECONDS) -> bool:
        """SIGTERM the task's processes, SIGKILL them after `grace` seconds; False if it is not running."""
        with self._lock:
            job = self._jobs.get(task_arn)
        if job is None:
            return False
        job.stop_reason = reason
        _signal_group(job.process, signal.SIGTERM)

        def kill_later() -> None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                job.process.wait(timeout=grace)
                return
            _signal_group(job.process, signal.SIGKILL)

        threading.Thread(target=kill_later, name=f"ecs-stop-{job.spec.task_id}", daemon=True).start()
        return True

    def running(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def stop_all(self) -> None:
        """Kill every running task at once (the emulator is stopping)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop_reason = "the emulator stopped"
            _signal_group(job.process, signal.SIGKILL)
        for job in jobs:
            job.process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
