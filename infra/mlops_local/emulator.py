"""The embedded AWS emulator: moto's server in this process, running deployed Lambda code and state machines.

Run in the foreground with `python -m mlops_local.emulator --port 4566 --state-dir .mlops` (stops on
SIGINT/SIGTERM). moto keeps its state in module globals, so there is one emulator per process.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from mlops_local import moto_patches
from mlops_local.durability import Committer, DurableApp, WriteGate
from mlops_local.environment import CREDENTIALS_ENV
from mlops_local.exceptions import EmulatorError, ToolError, error_line
from mlops_local.job_executor import JobExecutor
from mlops_local.lambda_executor import LambdaExecutor
from mlops_local.persistence import Snapshots, executions_running
from mlops_local.targets import DEFAULT_REGION

LOG = logging.getLogger(__name__)

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


class MotoLogsSink:
    """Writes worker output into moto's CloudWatch Logs backend, where `aws logs` and boto3 read it."""

    def __init__(self, on_write: Any = None) -> None:
        # moto's logs backend is not thread-safe when two workers of one function create group and streams.
        self._lock = threading.Lock()
        self._on_write = on_write or (lambda: None)  # log lines change the state a snapshot saves

    def _backend(self, account_id: str, region: str) -> Any:
        from moto.logs.models import logs_backends

        return logs_backends[account_id][region]

    def create_stream(self, account_id: str, region: str, group: str, stream: str) -> None:
        backend = self._backend(account_id, region)
        with self._lock:
            backend.ensure_log_group(group)
            backend.ensure_log_stream(group, stream)

    def put(self, account_id: str, region: str, group: str, stream: str, messages: list[str]) -> None:
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": message} for message in messages]
        self._backend(account_id, region).put_log_events(group, stream, events)
        self._on_write()


def _moto_server(host: str, port: int, wrap: Any) -> Any:
    """moto's ThreadedMotoServer with the emulator's WSGI layer (`wrap`) in front of moto's app."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class Server(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = wrap(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(host, port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return Server(ip_address=host, port=port, verbose=False)


class EmulatorServer:
    """moto's ThreadedMotoServer plus the Lambda executor, the moto patches and the EventBridge scheduler."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 4566,
        state_dir: Path = Path(".mlops"),
        region: str = DEFAULT_REGION,
        *,
        persist: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.state_dir = Path(state_dir)
        self.region = region
        self.persist = persist  # keep the state in state_dir/state across restarts and crashes
        self.interrupted: list[str] = []  # executions a restore ended as failed
        self._server: Any = None
        self._executor: LambdaExecutor | None = None
        self._jobs: JobExecutor | None = None
        self._scheduler: Any = None
        self._committer: Committer | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Start serving; returns once the server answers with Step Functions execution and Lambda on.

        Raises EmulatorError when the port is taken, and UnsupportedMotoError when the installed moto does not
        fit the patches (before anything is patched or served).
        """
        if self._server is not None:
            raise EmulatorError(f"the emulator on port {self.port} is already started")
        _check_port_free(self.host, self.port)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # moto's state machine interpreter calls Lambda at localhost:$MOTO_PORT (default 5000), and only the
        # moto_server command sets it; ThreadedMotoServer does not.
        os.environ["MOTO_PORT"] = str(self.port)
        # Clients made inside this process (the scheduler's) need some credentials; the emulator accepts any.
        for name, value in CREDENTIALS_ENV.items():
            os.environ.setdefault(name, value)
        gate = WriteGate()
        snapshots = Snapshots(self.state_dir / "state")
        self._committer = committer = Committer(snapshots.save, gate, changing=executions_running)
        sink = MotoLogsSink(committer.mark_dirty)
        self._executor = LambdaExecutor(self.state_dir, self.endpoint_url, sink)
        # ECS tasks (TrainModel's job path) run like Lambda functions: the deployed code, in local processes.
        self._jobs = JobExecutor(self._executor.code_store, self.endpoint_url, sink)
        moto_patches.apply(self._executor, self._jobs)
        if self.persist and snapshots.exists():
            self.interrupted = snapshots.restore()
            for arn in self.interrupted:
                LOG.warning("execution %s was running when the stack stopped: it ends as failed", arn)
            LOG.info("restored the emulator's state from %s", snapshots.path)

        def wrap(app: Any) -> Any:
            from mlops_local import api_gateway_cloudformation
            from mlops_local.api_gateway import ApiGateway

            # The deployed REST APIs answer on this port. The gateway sits outside DurableApp: a request to the
            # user API is not a state write and never waits for a snapshot (what its function writes comes
            # back as requests of their own). A stack's API needs its Stage, and updates, in CloudFormation.
            api_gateway_cloudformation.apply()
            return ApiGateway(DurableApp(app, gate, committer) if self.persist else app, self._executor)

        self._server = _moto_server(self.host, self.port, wrap)
        self._server.start()
        if self.persist:
            committer.start()
            if self.interrupted:
                committer.mark_dirty()
        try:
            self._post_config()
        except Exception:
            self.stop()
            raise
        self._start_scheduler()
        LOG.info("emulator listening on %s (state in %s)", self.endpoint_url, self.state_dir)

    def _post_config(self) -> None:
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/config",
            data=json.dumps(MOTO_CONFIG).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                applied = json.loads(response.read())
        except (urllib.error.URLError, OSError) as exc:
            raise EmulatorError(f"the emulator on {self.endpoint_url} did not answer: {exc}") from exc
        if applied.get("lambda") != MOTO_CONFIG["lambda"]:
            raise EmulatorError(f"moto refused the configuration {MOTO_CONFIG}: it answered {applied}")

    def _start_scheduler(self) -> None:
        try:
            from mlops_local.scheduler import RuleScheduler
        except ImportError as exc:
            LOG.warning("EventBridge rules will not fire: the scheduler is not available (%s)", exc)
            return
        self._scheduler = RuleScheduler(endpoint_url=self.endpoint_url, region=self.region)
        self._scheduler.start()

    def stop(self) -> None:
        """Stop the scheduler, the server, every Lambda worker and every ECS task's process."""
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._executor is not None:
            self._executor.stop()
            self._executor = None
        if self._jobs is not None:
            self._jobs.stop_all()
            self._jobs = None
        if self._committer is not None and self.persist:
            self._committer.stop()  # the last snapshot, after the last request
        self._committer = None


def _check_port_free(host: str, port: int) -> None:
    # ThreadedMotoServer binds in a thread and would wait forever if the bind failed: check here first.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise EmulatorError(
                    f"port {port} on {host} is already in use: stop what listens there or choose another port"
                ) from exc
            raise EmulatorError(f"cannot listen on {host}:{port}: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops_local.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--state-dir", type=Path, default=Path(".mlops"))
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument(
        "--ephemeral", action="store_true", help="keep nothing across restarts (the state folder's snapshot is ignored)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    server = EmulatorServer(args.host, args.port, args.state_dir, args.region, persist=not args.ephemeral)
    try:
        server.start()
    except ToolError as exc:
        # The same one line as the `mlops` command's errors, last in the log, where `mlops up` reads it.
        print(error_line(exc), file=sys.stderr, flush=True)
        return 1
    print(f"emulator ready on {server.endpoint_url}", flush=True)
    try:
        stopping.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
