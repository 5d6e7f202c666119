"""Runs deployed Lambda code for the emulator: warm worker processes, Lambda's errors, timeouts and logs.

The function's zip and each layer's zip are unpacked under `<state_dir>/lambda/<sha256>` (the code as
/var/task, each layer's `python/` folder on the path like /opt/python). Each worker is a process of this
interpreter running `lambda_worker.py`; its site-packages stand in for the runtime's third-party packages.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from mlops_local.environment import CREDENTIALS_ENV, SESSION_TOKEN

LOG = logging.getLogger(__name__)

WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")
RUNTIME = "python3.11"
# A throwaway identity, with the session token Lambda's execution role gives: the emulator accepts any credentials,
# and boto3 must find some.
WORKER_CREDENTIALS = {**CREDENTIALS_ENV, "AWS_SESSION_TOKEN": SESSION_TOKEN}
# How long, after the response, the log reader may take to reach the REPORT line.
LOG_FLUSH_SECONDS = 10.0
TAIL_BYTES = 4096


class LambdaExecutorError(Exception):
    """The executor could not run a function; `code` and `status` are the Lambda API error to answer with."""

    code = "ServiceException"
    status = 500


class InvalidPayloadError(LambdaExecutorError):
    """The invocation payload is not JSON."""

    code = "InvalidRequestContentException"
    status = 400


class TooManyRequestsError(LambdaExecutorError):
    """Every worker the function may have stayed busy for as long as the invocation could wait."""

    code = "TooManyRequestsException"
    status = 429


class InvalidZipFileError(LambdaExecutorError):
    """The function's or a layer's code is not a zip archive."""

    code = "InvalidZipFileException"
    status = 502


@dataclass(frozen=True)
class FunctionSpec:
    """What one invocation needs to know about a deployed function, detached from moto's model."""

    name: str
    arn: str
    version: str
    account_id: str
    region: str
    handler: str
    timeout: int
    memory_size: int
    environment: Mapping[str, str]
    code: bytes = field(repr=False)
    layers: tuple[bytes, ...] = field(default=(), repr=False)

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"

    def fingerprint(self) -> str:
        """Changes whenever code or configuration does, so that stale workers are replaced."""
        digest = hashlib.sha256()
        for part in (self.handler, str(self.timeout), str(self.memory_size)):
            digest.update(part.encode() + b"\0")
        digest.update(json.dumps(dict(self.environment), sort_keys=True).encode())
        for blob in (self.code, *self.layers):
            digest.update(hashlib.sha256(blob).digest())
        return digest.hexdigest()


@dataclass
class InvocationResult:
    payload: bytes
    error: bool
    log_tail: str


class LogSink(Protocol):
    """Where worker output goes: one log group per function, one stream per worker."""

    def create_stream(self, account_id: str, region: str, group: str, stream: str) -> None: ...

    def put(self, account_id: str, region: str, group: str, stream: str, messages: list[str]) -> None: ...


def log_stream_name(version: str, now: datetime | None = None) -> str:
    """Lambda's stream naming: the worker's start date, the version in brackets, a random id."""
    day = (now or datetime.now(UTC)).strftime("%Y/%m/%d")
    return f"{day}/[{version}]{uuid.uuid4().hex}"


def runtime_error(error_type: str, message: str) -> dict[str, Any]:
    return {"errorType": error_type, "errorMessage": message}


def timeout_error(request_id: str, timeout: int) -> dict[str, Any]:
    return runtime_error(
        "Sandbox.Timedout", f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
    )


def base_environment(endpoint_url: str, own: Mapping[str, str], host_env: Mapping[str, str]) -> dict[str, str]:
    """A platform process's environment before its reserved variables: the endpoints as defaults that the
    function's or task's own variables (`own`) may override, then the credentials of its role."""
    env = {"PATH": host_env.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG": "en_US.UTF-8", "TZ": ":UTC"}
    env["AWS_ENDPOINT_URL"] = endpoint_url
    env["MLFLOW_S3_ENDPOINT_URL"] = endpoint_url
    env.update({key: str(value) for key, value in own.items()})
    env.update(WORKER_CREDENTIALS)
    return env


def worker_environment(
    spec: FunctionSpec, task_root: Path, stream: str, endpoint_url: str, host_env: Mapping[str, str]
) -> dict[str, str]:
    """The process environment of a worker, as the Lambda service composes it.

    The endpoint variables are defaults the function may override (the emulator adapts to the code);
    the runtime's reserved variables always win over the function's, as Lambda refuses to let them be set.
    """
    env = base_environment(endpoint_url, spec.environment, host_env)
    env.update(
        {
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{RUNTIME}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "LAMBDA_TASK_ROOT": str(task_root),
            "_HANDLER": spec.handler,
        }
    )
    return env


class CodeStore:
    """Unpacks each distinct zip once under `root/<sha256>`, safely when several invocations race."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    def unpack(self, blob: bytes, what: str) -> Path:
        target = self.root / hashlib.sha256(blob).hexdigest()
        with self._lock:
            if target.is_dir():
                return target
            self.root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=self.root))
            try:
                with zipfile.ZipFile(io.BytesIO(blob)) as archive:
                    archive.extractall(staging)
            except zipfile.BadZipFile as exc:
                shutil.rmtree(staging, ignore_errors=True)
                raise InvalidZipFileError(f"{what} is not a valid zip archive: {exc}") from exc
            staging.rename(target)
            return target

    def layer_paths(self, layer_roots: list[Path]) -> list[str]:
        # Lambda merges layers into /opt in order, a later layer overwriting an earlier one: put later ones first.
        paths: list[str] = []
        for root in reversed(layer_roots):
            paths += [str(root / "python" / "lib" / RUNTIME / "site-packages"), str(root / "python")]
        return paths


class _LineReader:
    """Reads newline-terminated messages from a pipe with a deadline (select, no extra thread)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = b""

    def read(self, timeout: float | None) -> dict[str, Any] | None:
        """The next message; None at end of file; TimeoutError once the deadline passes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                raise TimeoutError
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)


class Worker:
    """One warm worker process: its pipes, its log stream and the thread copying its output to the logs."""

    def __init__(self, spec: FunctionSpec, task_root: Path, layer_paths: list[str], endpoint_url: str, sink: LogSink):
        self.spec = spec
        self.fingerprint = spec.fingerprint()
        self.stream = log_stream_name(spec.version)
        self._sink = sink
        self._reports: dict[str, str] = {}
        self._report_seen = threading.Condition()
        self._pending: list[str] = []
        self._stop_lock = threading.Lock()
        self._stopped = False
        sink.create_stream(spec.account_id, spec.region, spec.log_group, self.stream)

        request_read, self._request_write = os.pipe()
        self._response_read, response_write = os.pipe()
        config = {
            "handler": spec.handler,
            "task_root": str(task_root),
            "layer_paths": layer_paths,
            "function_name": spec.name,
            "function_version": spec.version,
            "memory_size": spec.memory_size,
            "log_group_name": spec.log_group,
            "log_stream_name": self.stream,
            "request_fd": request_read,
            "response_fd": response_write,
            "parent_pid": os.getpid(),
        }
        env = worker_environment(spec, task_root, self.stream, endpoint_url, os.environ)
        try:
            # -I keeps the emulator's own PYTHONPATH and script folder out of the function's sys.path.
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-u", str(WORKER_SCRIPT), json.dumps(config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=task_root,
                pass_fds=(request_read, response_write),
                start_new_session=True,
            )
        finally:
            os.close(request_read)
            os.close(response_write)
        self._responses = _LineReader(self._response_read)
        self._reader = threading.Thread(target=self._copy_output, name=f"lambda-logs-{spec.name}", daemon=True)
        self._reader.start()
        self.init_error: dict[str, Any] | None = None

    # The output copier runs in its own thread, one per worker, so a stream has a single writer.
    def _copy_output(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            self._write_logs([line])
            if line.startswith("START RequestId: "):
                self._pending = []
            self._pending.append(line)
            if line.startswith("REPORT RequestId: "):
                request_id = line.split()[2]
                with self._report_seen:
                    self._reports[request_id] = "\n".join(self._pending) + "\n"
                    self._report_seen.notify_all()

    def _write_logs(self, messages: list[str]) -> None:
        try:
            self._sink.put(self.spec.account_id, self.spec.region, self.spec.log_group, self.stream, messages)
        except Exception:
            LOG.exception("could not write the logs of %s", self.spec.name)

    def wait_ready(self, timeout: float) -> None:
        """Wait for the init phase; init_error is set if the handler could not be loaded."""
        try:
            message = self._responses.read(timeout)
        except TimeoutError:
            self.kill()
            self.init_error = runtime_error(
                "Sandbox.Timedout", f"Init phase did not finish within {timeout:.2f} seconds"
            )
            return
        if message is None:
            self.init_error = runtime_error(
                "Runtime.ExitError", f"Runtime exited during init with exit status {self._exit_status()}"
            )
        else:
            self.init_error = message["error"]

    def invoke(self, event: str, invoked_arn: str) -> InvocationResult:
        request_id = str(uuid.uuid4())
        timeout = self.spec.timeout
        request = {
            "request_id": request_id,
            "event": event,
            "invoked_function_arn": invoked_arn,
            "deadline_ms": int(time.time() * 1000) + timeout * 1000,
        }
        started = time.perf_counter()
        try:
            os.write(self._request_write, json.dumps(request).encode() + b"\n")
            message = self._responses.read(timeout)
        except TimeoutError:
            self.kill()
            self._finish_logs(request_id, started, f"Task timed out after {timeout:.2f} seconds")
            return self._result(timeout_error(request_id, timeout), request_id, error=True)
        except BrokenPipeError:
            message = None
        if message is None:
            status = self._exit_status()
            self._finish_logs(request_id, started, f"Runtime exited with error: exit status {status}")
            error = runtime_error(
                "Runtime.ExitError", f"RequestId: {request_id} Error: Runtime exited with error: exit status {status}"
            )
            return self._result(error, request_id, error=True)
        self._await_report(request_id)
        if message["error"] is not None:
            return self._result(message["error"], request_id, error=True)
        return InvocationResult(message["payload"].encode(), False, self._reports.pop(request_id, ""))

    def _result(self, document: dict[str, Any], request_id: str, error: bool) -> InvocationResult:
        return InvocationResult(json.dumps(document).encode(), error, self._reports.pop(request_id, ""))

    def _await_report(self, request_id: str) -> None:
        # The response can overtake the REPORT line on its way through the output pipe: return only once the
        # logs of this invocation are readable, so that a caller reading them right after sees them all.
        with self._report_seen:
            self._report_seen.wait_for(lambda: request_id in self._reports, LOG_FLUSH_SECONDS)

    def _finish_logs(self, request_id: str, started: float, reason: str) -> None:
        """After a killed or dead worker: the runtime's closing lines, written once the output is drained."""
        self.process.wait()
        self._reader.join(LOG_FLUSH_SECONDS)
        duration = (time.perf_counter() - started) * 1000
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        lines = [
            f"{stamp} {request_id} {reason}",
            f"END RequestId: {request_id}",
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {int(duration) + 1} ms"
            f"\tMemory Size: {self.spec.memory_size} MB\tStatus: error",
        ]
        self._write_logs(lines)
        self._reports[request_id] = "\n".join([*self._pending, *lines]) + "\n"

    def _exit_status(self) -> int:
        return self.process.wait()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """Close the request pipe (the worker's loop ends), then make sure the process group is gone."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        os.close(self._request_write)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=2)
        self.kill()
        os.close(self._response_read)
        self._reader.join(LOG_FLUSH_SECONDS)


class LambdaExecutor:
    """Serves invocations of deployed functions from pools of warm workers, one pool per function version."""

    def __init__(self, state_dir: Path, endpoint_url: str, sink: LogSink, *, max_workers: int | None = None) -> None:
        self.endpoint_url = endpoint_url
        self._code = CodeStore(state_dir / "lambda")
        self._sink = sink
        # Lambda scales a function out on separate machines; here every worker shares this machine's cores, and a
        # burst of cold starts (each importing the ML stack) would starve them all. So a function gets at most
        # `max_workers` workers and further invocations queue for one, as long as their timeout allows.
        self.max_workers = max_workers or default_max_workers()
        self._lock = threading.Condition()
        self._idle: dict[str, list[Worker]] = {}
        self._busy: set[Worker] = set()
        self._starting: dict[str, int] = {}
        self._stopped = False

    @property
    def code_store(self) -> CodeStore:
        """Where deployed code is unpacked; the ECS job executor shares it (one unpack per distinct zip)."""
        return self._code

    def invoke(self, spec: FunctionSpec, body: bytes | str | None, invocation_type: str) -> InvocationResult | None:
        """Run one invocation; for "Event" start it in the background and return None at once."""
        event = _event_document(body)
        if invocation_type == "DryRun":
            return None
        if invocation_type == "Event":
            thread = threading.Thread(target=self._run_async, args=(spec, event), daemon=True)
            thread.start()
            return None
        return self._run(spec, event)

    def _run_async(self, spec: FunctionSpec, event: str) -> None:
        result = self._run(spec, event)
        if result.error:
            LOG.warning("asynchronous invocation of %s failed: %s", spec.name, result.payload.decode())

    def _run(self, spec: FunctionSpec, event: str) -> InvocationResult:
        worker = self._acquire(spec)
        if worker.init_error is not None:
            self._discard(worker)
            return InvocationResult(json.dumps(worker.init_error).encode(), True, "")
        try:
            result = worker.invoke(event, spec.arn)
        except BaseException:
            self._discard(worker)
            raise
        self._release(worker)
        return result

    def _acquire(self, spec: FunctionSpec) -> Worker:
        fingerprint = spec.fingerprint()
        deadline = time.monotonic() + max(spec.timeout, 10)
        with self._lock:
            while True:
                if self._stopped:
                    raise LambdaExecutorError("the Lambda executor is stopped")
                self._retire_stale(spec.arn, fingerprint)
                idle = self._idle.setdefault(spec.arn, [])
                while idle:
                    worker = idle.pop()
                    if worker.alive:
                        self._busy.add(worker)
                        return worker
                    worker.stop()
                running = sum(w.spec.arn == spec.arn for w in self._busy) + self._starting.get(spec.arn, 0)
                if running < self.max_workers:
                    self._starting[spec.arn] = self._starting.get(spec.arn, 0) + 1
                    break
                if not self._lock.wait(timeout=deadline - time.monotonic()) and time.monotonic() >= deadline:
                    raise TooManyRequestsError(
                        f"function {spec.name} kept all {self.max_workers} workers busy for {spec.timeout} s"
                    )
        # All workers of this function are busy (or none exists yet): start another one, outside the lock, so
        # concurrent invocations run in parallel as on Lambda.
        try:
            task_root = self._code.unpack(spec.code, f"code of function {spec.name}")
            layer_roots = [
                self._code.unpack(blob, f"layer {i} of function {spec.name}") for i, blob in enumerate(spec.layers)
            ]
            worker = Worker(spec, task_root, self._code.layer_paths(layer_roots), self.endpoint_url, self._sink)
        finally:
            with self._lock:
                self._starting[spec.arn] -= 1
        with self._lock:
            self._busy.add(worker)
        # Init gets the function's timeout (Lambda retries a slow init inside the invoke's time budget).
        worker.wait_ready(max(spec.timeout, 10))
        return worker

    def _retire_stale(self, arn: str, fingerprint: str) -> None:
        idle = self._idle.get(arn, [])
        for worker in [w for w in idle if w.fingerprint != fingerprint]:
            idle.remove(worker)
            worker.stop()

    def _release(self, worker: Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            self._lock.notify_all()
            if not self._stopped and worker.alive:
                self._idle.setdefault(worker.spec.arn, []).append(worker)
                return
        worker.stop()

    def _discard(self, worker: Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            self._lock.notify_all()
        worker.stop()

    def stop(self) -> None:
        """Stop every worker; invocations still running end with an error."""
        with self._lock:
            self._stopped = True
            workers = [w for pool in self._idle.values() for w in pool] + list(self._busy)
            self._idle.clear()
        for worker in workers:
            worker.stop()


def default_max_workers() -> int:
    """MLOPS_LAMBDA_WORKERS, else twice the cores (at least 4): enough to overlap I/O-bound invocations."""
    from mlops_local import environment

    configured = os.environ.get(environment.LAMBDA_WORKERS, "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(4, 2 * (os.cpu_count() or 2))


def _event_document(body: bytes | str | None) -> str:
    """The invocation payload as a JSON document; an empty payload is `{}` as on Lambda."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if not body:
        return "{}"
    try:
        json.loads(body)
    except ValueError as exc:
        raise InvalidPayloadError(f"Could not parse request body into json: {exc}") from exc
    return body


def log_tail(result: InvocationResult) -> str:
    """The last 4 KB of an invocation's log, base64-encoded, for `LogType=Tail`."""
    return base64.b64encode(result.log_tail.encode()[-TAIL_BYTES:]).decode()
