"""The deployed API through the emulated API Gateway against `chalice local`, same app, same stack, same run.

Starts an emulator on a free port, deploys template.yaml, starts `chalice local` on another free port with the
environment the stack gives ApiFunction, then drives one cheap route on both with 1, 8 and 32 concurrent
clients: requests per second, p50 and p99 latency, errors (a reset connection or any status but 200).

Run by hand from the repository root:
    .venv/bin/python bench/bench_api_gateway.py [--route /config/traffic] [--clients 1,8,32] [--seconds 10]
Each client opens a connection per request, as the emulator's server closes every connection after its answer.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "infra"), str(REPO / "layers" / "shared" / "python")]
READY_LINE = "emulator ready on "


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not come up within {timeout:.0f} s")


def answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_emulator(state_dir: Path, port: int, *, ephemeral: bool) -> subprocess.Popen[bytes]:
    log = state_dir / "emulator.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "infra"), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "mlops_local.emulator", "--port", str(port), "--state-dir", str(state_dir)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*command, *(["--ephemeral"] if ephemeral else [])], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    wait_until(lambda: READY_LINE in log.read_text(errors="replace") or process.poll() is not None, "the emulator")
    if process.poll() is not None:
        raise SystemExit(f"the emulator exited:\n{log.read_text()}")
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Level:
    clients: int
    requests: int  # all requests sent in the window, the last ones ending after it
    errors: int
    seconds: float  # the window
    completed: int  # requests that ended within the window
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.completed / self.seconds

    def percentile(self, which: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[which - 1]

    def cells(self) -> list[str]:
        """req/s, p50, p99 and max in ms, errors."""
        milliseconds = [self.percentile(50), self.percentile(99), max(self.latencies, default=float("nan"))]
        return [
            f"{self.rate:.0f}",
            *(f"{value * 1000:.1f}" for value in milliseconds),
            f"{self.errors}/{self.requests}",
        ]


def one_request(host: str, port: int, path: str) -> tuple[float, bool]:
    """(seconds, ok) for one GET on a new connection."""
    started = time.perf_counter()
    try:
        connection = http.client.HTTPConnection(host, port, timeout=60)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
        finally:
            connection.close()
    except OSError:
        ok = False
    return time.perf_counter() - started, ok


def drive(url: str, clients: int, seconds: float, warmup_requests: int) -> Level:
    """`clients` threads, each sending one request after another: first `warmup_requests` untimed (so every
    concurrent worker exists), then for `seconds`."""
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
    latencies: list[float] = []
    counts = {"requests": 0, "errors": 0, "completed": 0}
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)
    go = threading.Event()
    deadline = [0.0]

    def client() -> None:
        for _ in range(warmup_requests):
            one_request(host, port, path)
        ready.wait()
        go.wait()
        mine: list[float] = []
        errors = completed = 0
        while time.perf_counter() < deadline[0]:
            elapsed, ok = one_request(host, port, path)
            mine.append(elapsed)
            errors += not ok
            completed += time.perf_counter() <= deadline[0]
        with lock:
            latencies.extend(mine)
            counts["requests"] += len(mine)
            counts["errors"] += errors
            counts["completed"] += completed

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    deadline[0] = started + seconds
    go.set()
    for thread in threads:
        thread.join()
    return Level(clients, counts["requests"], counts["errors"], seconds, counts["completed"], latencies)


def deploy_stack(endpoint_url: str, port: int, api_port: int, template: Path, state_dir: Path):
    from mlops_local.cli import _parameters as cli_parameters
    from mlops_local.deployer import deploy
    from mlops_local.services import Ports, StackState
    from mlops_local.targets import Target

    state = StackState(
        state_dir=str(state_dir), ports=Ports(emulator=port, mlflow=free_port(), api=api_port), api_key="bench-key"
    )
    state.parameters = {**cli_parameters(state), "ScheduleState": "DISABLED"}
    result = deploy(
        Target("emulator", endpoint_url, "us-east-1", "mlops-deployment-artifacts"),
        template_path=template,
        stack_name=f"bench-gateway-{uuid.uuid4().hex[:8]}",
        parameters=state.parameters,
        timeout_seconds=120,
    )
    state.stack_name, state.outputs = result.stack_name, result.outputs
    return state


def rest_api_id(endpoint_url: str, stack_name: str) -> str:
    import boto3
    from mlops_local.environment import CLIENT_CREDENTIALS

    cloudformation = boto3.client(
        "cloudformation", endpoint_url=endpoint_url, region_name="us-east-1", **CLIENT_CREDENTIALS
    )
    resource = cloudformation.describe_stack_resource(StackName=stack_name, LogicalResourceId="PredictionApi")
    return resource["StackResourceDetail"]["PhysicalResourceId"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--route", default="/config/traffic", help="a GET route of the app that answers 200")
    parser.add_argument("--clients", default="1,8,32", help="comma-separated concurrency levels")
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per level and target")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per client before each level")
    parser.add_argument("--template", type=Path, default=REPO / "template.yaml")
    parser.add_argument("--ephemeral", action="store_true", help="an emulator that saves no state")
    args = parser.parse_args()
    levels = [int(n) for n in args.clients.split(",")]

    from mlops_local.api_gateway import invoke_url
    from mlops_local.services import api_environment

    with tempfile.TemporaryDirectory() as folder:
        state_dir = Path(folder)
        port, api_port = free_port(), free_port()
        endpoint_url = f"http://127.0.0.1:{port}"
        emulator = start_emulator(state_dir, port, ephemeral=args.ephemeral)
        chalice = None
        try:
            state = deploy_stack(endpoint_url, port, api_port, args.template, state_dir)
            gateway_url = invoke_url(endpoint_url, rest_api_id(endpoint_url, state.stack_name), "Prod") + args.route
            chalice_bin = Path(sys.executable).with_name("chalice")
            command = [str(chalice_bin), "local", "--host", "127.0.0.1", "--port", str(api_port), "--no-autoreload"]
            with (state_dir / "chalice.log").open("ab") as out:
                chalice = subprocess.Popen(
                    command,
                    cwd=REPO / "app",
                    env=api_environment(state, args.template),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            chalice_url = f"http://127.0.0.1:{api_port}{args.route}"
            wait_until(lambda: answers_200(chalice_url), "chalice local")
            wait_until(lambda: answers_200(gateway_url), "the API through the gateway")

            results: dict[str, list[Level]] = {"gateway": [], "chalice": []}
            for clients in levels:
                for name, url in (("gateway", gateway_url), ("chalice", chalice_url)):
                    level = drive(url, clients, args.seconds, args.warmup)
                    results[name].append(level)
                    rate, p50, p99, slowest, errors = level.cells()
                    print(
                        f"  {name:<8} {clients:>3} clients: {rate:>6} req/s  p50 {p50:>7} ms  p99 {p99:>7} ms"
                        f"  max {slowest:>7} ms  errors {errors}",
                        flush=True,
                    )
        finally:
            if chalice is not None:
                stop(chalice)
            stop(emulator)

    print()
    print(f"GET {args.route}, {args.seconds:.0f} s per level, {os.cpu_count()} cores, ephemeral={args.ephemeral}")
    columns = ["req/s", "p50 ms", "p99 ms", "max ms", "errors"]
    header = ["clients", *(f"gateway {c}" for c in columns), *(f"chalice local {c}" for c in columns), "ratio"]
    print("| " + " | ".join(header) + " |")
    print("|" + " ---: |" * len(header))
    for gateway, chalice_level in zip(results["gateway"], results["chalice"], strict=True):
        ratio = f"{gateway.rate / chalice_level.rate:.2f}×"
        print("| " + " | ".join([str(gateway.clients), *gateway.cells(), *chalice_level.cells(), ratio]) + " |")


if __name__ == "__main__":
    main()
