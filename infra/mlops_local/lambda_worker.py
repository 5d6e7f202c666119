"""The Lambda runtime loop that runs inside one worker process: import the handler once, then serve invocations.

Started by the executor as `python -I -u lambda_worker.py '<json config>'`. It imports only the standard library
so that the deployed code sees the same module state as on Lambda. The conversation with the executor goes over
two inherited pipes, one JSON document per line; stdout and stderr belong to the function and end up in
CloudWatch Logs, which is why START/END/REPORT are printed there, in order with the function's own output.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO


class LambdaContext:
    """The context object the Python runtime passes as the handler's second argument."""

    def __init__(self, request: dict[str, Any], config: dict[str, Any]) -> None:
        self.aws_request_id: str = request["request_id"]
        self.invoked_function_arn: str = request["invoked_function_arn"]
        self.function_name: str = config["function_name"]
        self.function_version: str = config["function_version"]
        self.memory_limit_in_mb: int = int(config["memory_size"])
        self.log_group_name: str = config["log_group_name"]
        self.log_stream_name: str = config["log_stream_name"]
        self.identity = None
        self.client_context = None
        self._deadline_ms: int = int(request["deadline_ms"])

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)


class _RequestIdFilter(logging.Filter):
    """Stamps every record with the current request id, as the runtime's log format expects."""

    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _install_logging() -> _RequestIdFilter:
    # Same format and UTC clock as the managed runtime; the root level is left at WARNING as there.
    request_filter = _RequestIdFilter()
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(request_filter)
    logging.getLogger().addHandler(handler)
    return request_filter


def error_payload(exc: BaseException, request_id: str | None = None) -> dict[str, Any]:
    """The runtime's error document: Step Functions matches Retry/Catch on errorType."""
    payload: dict[str, Any] = {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }
    if request_id is not None:
        payload["requestId"] = request_id
    return payload


def _runtime_error(error_type: str, message: str) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "stackTrace": []}


def load_handler(handler: str) -> Callable[..., Any]:
    """Import "module.func" (the module may be dotted); raise with the runtime's error types on failure."""
    module_name, _, function_name = handler.rpartition(".")
    if not module_name or not function_name:
        raise _HandlerError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': not enough values to unpack")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        message = f"Unable to import module '{module_name}': {exc}"
        raise _HandlerError("Runtime.ImportModuleError", message) from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        raise _HandlerError("Runtime.HandlerNotFound", message)
    return function


class _HandlerError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _send(stream: BinaryIO, message: dict[str, Any]) -> None:
    stream.write(json.dumps(message).encode() + b"\n")
    stream.flush()


def _flush_output() -> None:
    sys.stdout.flush()
    sys.stderr.flush()


def _max_memory_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _invoke(
    function: Callable[..., Any], request: dict[str, Any], config: dict[str, Any]
) -> tuple[str | None, dict[str, Any] | None]:
    """Run the handler once; return (JSON payload, None) or (None, error document)."""
    context = LambdaContext(request, config)
    try:
        result = function(json.loads(request["event"]), context)
    except Exception as exc:
        # Drop this loop's own frame: the trace starts in the function's code, as on Lambda.
        exc = exc.with_traceback(exc.__traceback__.tb_next if exc.__traceback__ else None)
        error = error_payload(exc, request["request_id"])
        print(f"[ERROR] {error['errorType']}: {error['errorMessage']}", flush=True)
        traceback.print_exception(exc, file=sys.stdout)
        return None, error
    try:
        return json.dumps(result), None
    except (TypeError, ValueError) as exc:
        error = _runtime_error("Runtime.MarshalError", f"Unable to marshal response: {exc}")
        print(f"[ERROR] Runtime.MarshalError: {error['errorMessage']}", flush=True)
        return None, error


def serve(config: dict[str, Any], requests: BinaryIO, responses: BinaryIO) -> None:
    """Init once, then answer one request per line until the executor closes the request pipe."""
    request_filter = _install_logging()
    started = time.perf_counter()
    try:
        function: Callable[..., Any] | None = load_handler(config["handler"])
        init_error = None
    except _HandlerError as exc:
        function = None
        init_error = _runtime_error(exc.error_type, str(exc))
        print(f"[ERROR] {exc.error_type}: {exc}", flush=True)
    init_ms = (time.perf_counter() - started) * 1000
    _flush_output()
    _send(responses, {"type": "ready", "init_ms": init_ms, "error": init_error})
    if function is None:
        return

    cold = True
    for line in requests:
        request = json.loads(line)
        request_id = request["request_id"]
        request_filter.request_id = request_id
        print(f"START RequestId: {request_id} Version: {config['function_version']}", flush=True)
        began = time.perf_counter()
        payload, error = _invoke(function, request, config)
        duration = (time.perf_counter() - began) * 1000
        _flush_output()
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {int(duration) + 1} ms"
            f"\tMemory Size: {config['memory_size']} MB\tMax Memory Used: {_max_memory_mb()} MB"
        )
        if cold:
            report += f"\tInit Duration: {init_ms:.2f} ms"
            cold = False
        print(f"END RequestId: {request_id}", flush=True)
        print(report, flush=True)
        _send(responses, {"type": "result", "request_id": request_id, "payload": payload, "error": error})


def exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """End this worker when the emulator that started it is gone (killed, say): an invocation nobody waits for
    must not run on, writing to the next emulator's buckets. Watched by polling, since PR_SET_PDEATHSIG fires
    on the exit of the spawning thread, which for the executor is a request thread."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(137)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main() -> None:
    config = json.loads(sys.argv[1])
    exit_with_parent(config.get("parent_pid") or os.getppid())
    # Lambda's search path: the function code, then the layers (as under /opt/python), then the runtime's own.
    sys.path[:0] = [config["task_root"], *config["layer_paths"]]
    os.chdir(config["task_root"])
    requests = os.fdopen(config["request_fd"], "rb")
    responses = os.fdopen(config["response_fd"], "wb")
    serve(config, requests, responses)


if __name__ == "__main__":
    main()
