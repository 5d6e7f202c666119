"""The local stack's processes: the emulator (which serves the API through its emulated API Gateway) and the
MLflow tracking server; and `chalice local` for developing the app.

Each runs as its own process group, logs to <state>/logs/<name>.log, and is recorded in <state>/stack.json so
`mlops status` and `mlops down` find it from another shell.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mlops_core import settings

from mlops_local import environment
from mlops_local.exceptions import ERROR_PREFIX, MissingDependencyError, PortInUseError, StackNotUpError, ToolError
from mlops_local.targets import DEFAULT_REGION, Target, emulator_target

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_LIBRARY = REPO_ROOT / "layers" / "shared" / "python"
APP_DIR = REPO_ROOT / "app"
TEMPLATE = REPO_ROOT / "template.yaml"
DEFAULT_STACK = "mlops-pipeline"
# In the order they start. The API is not one: it is the stack's ApiFunction behind the emulated API Gateway.
SERVICES = ("emulator", "mlflow")
DEFAULT_DATASET = settings.DEFAULTS[settings.DATASET]


@dataclass
class Ports:
    emulator: int = 4566
    mlflow: int = 5000
    api: int = 8000

    @classmethod
    def from_env(cls) -> Ports:
        defaults = cls()
        return cls(
            **{
                name: _port_from_env(variable, getattr(defaults, name))
                for name, variable in environment.PORT_VARIABLES.items()
            }
        )


def _port_from_env(variable: str, default: int) -> int:
    raw = os.environ.get(variable)
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ToolError(f"{variable}={raw!r} is not a port number (1-65535)")
    return int(raw)


@dataclass
class StackState:
    """What `mlops up` started: enough for another shell to find and stop it."""

    state_dir: str
    ports: Ports
    host: str = "127.0.0.1"
    pids: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    api_key: str = ""
    stack_name: str = DEFAULT_STACK
    dataset: str = DEFAULT_DATASET  # the one dataset this stack watches; its API serves that dataset's model
    parameters: dict[str, str] = field(default_factory=dict)  # the template parameters of the last deploy
    origin: str = "up"  # "demo" when `mlops demo` created it: the next demo starts afresh
    ephemeral: bool = False  # the emulator keeps nothing across restarts (benchmarks, throwaway runs)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.ports.emulator}"

    @property
    def mlflow_url(self) -> str:
        return f"http://{self.host}:{self.ports.mlflow}"

    @property
    def api_url(self) -> str:
        """The deployed API, as the stack's output gives it (the emulated API Gateway's invoke URL)."""
        return self.outputs.get("ApiUrl", "")

    @property
    def dev_api_url(self) -> str:
        """Where `mlops dev-api` serves the app under `chalice local`, for developing the app only."""
        return f"http://{self.host}:{self.ports.api}"

    def target(self) -> Target:
        return emulator_target(self.endpoint_url)

    def save(self) -> None:
        """Atomically, readable by its owner only: the file holds the API key."""
        path = Path(self.state_dir) / "stack.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        # A name of its own per writer: two commands saving at once must not move each other's file.
        tmp = path.with_name(f"stack.json.{os.getpid()}.{threading.get_ident()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(json.dumps(asdict(self), indent=2))
            file.flush()
            os.fsync(file.fileno())
        tmp.replace(path)

    @classmethod
    def load(cls, state_dir: Path) -> StackState:
        saved = cls.saved(state_dir)
        if saved is None:
            raise StackNotUpError("the stack is not up: run `mlops up` (or `make demo`) first")
        return saved

    @classmethod
    def saved(cls, state_dir: Path) -> StackState | None:
        """The stack recorded in `state_dir`, running or stopped; None when there is none."""
        path = state_dir / "stack.json"
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        raw["ports"] = Ports(**raw["ports"])
        return cls(**raw)

    def running(self) -> dict[str, int]:
        """{service: pid} of the services that are alive."""
        return {name: pid for name, pid in self.pids.items() if pid_alive(pid)}


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free_ports(host: str, ports: Ports, names: tuple[str, ...] = SERVICES) -> None:
    for name, port in asdict(ports).items():
        if name in names and not port_is_free(host, port):
            variable = environment.PORT_VARIABLES[name]
            raise PortInUseError(
                f"port {port} ({name}) on {host} is already in use: stop what holds it "
                f"(`mlops down`, or `lsof -i :{port}`) or choose another port with {variable}"
            )


def spawn(name: str, command: list[str], *, state_dir: Path, env: dict[str, str], cwd: Path | None = None) -> int:
    """Start a long-running service in its own session, so it outlives the command that started it."""
    log_dir = state_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise MissingDependencyError(f"{command[0]} is not installed: run `make setup`") from exc
    finally:
        log_file.close()
    return process.pid


def wait_http(url: str, *, timeout: float, name: str, pid: int | None, state_dir: Path) -> None:
    """Wait until the URL answers at all (any HTTP status); fail fast if the process died."""
    deadline = time.monotonic() + timeout
    log = state_dir / "logs" / f"{name}.log"
    while time.monotonic() < deadline:
        if pid is not None and not pid_alive(pid):
            # A service that fails the way the tools do (the emulator on an unsupported moto) says why in one
            # line, last in its log: pass that on as this command's one line.
            reason = _last_error_line(log)
            raise StackNotUpError(reason or f"{name} exited while starting: see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.3)
    raise StackNotUpError(f"{name} did not answer at {url} within {timeout:.0f} s: see its log in {state_dir}/logs")


def _last_error_line(log: Path, tail_bytes: int = 8192) -> str | None:
    try:
        with log.open("rb") as file:
            file.seek(max(file.seek(0, os.SEEK_END) - tail_bytes, 0))
            lines = file.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    last = next((line for line in reversed(lines) if line.strip()), "")
    return last.removeprefix(ERROR_PREFIX) if last.startswith(ERROR_PREFIX) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still "exists": reap it if it is ours, and count it dead if it is not (a service outlives the
    # `mlops up` that started it, and an init that does not reap leaves it a zombie once killed).
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the parenthesised command name, which may itself contain spaces or parens.
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def stop_pid(pid: int, *, grace: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after the grace period. Waits for the whole group:
    a service's children (MLflow's server workers) may outlive its leader and hold its port."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not pid_alive(pid) and not _group_members(pid):
                return
            time.sleep(0.1)


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of the process group `pgid`, from /proc; empty where there is no /proc."""
    members = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        # After the command name: state, ppid, pgrp, ...
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def base_env(state: StackState) -> dict[str, str]:
    env = dict(os.environ)
    env.update(environment.CREDENTIALS_ENV)
    env.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)
    env["AWS_ENDPOINT_URL"] = state.endpoint_url
    env["MLFLOW_S3_ENDPOINT_URL"] = state.endpoint_url
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_emulator(state: StackState) -> int:
    state_dir = Path(state.state_dir)
    command = [
        sys.executable,
        "-m",
        "mlops_local.emulator",
        "--host",
        state.host,
        "--port",
        str(state.ports.emulator),
        "--state-dir",
        str(state_dir / "emulator"),
        *(["--ephemeral"] if state.ephemeral else []),
    ]
    env = base_env(state)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "infra"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    pid = spawn("emulator", command, state_dir=state_dir, env=env)
    wait_http(f"{state.endpoint_url}/moto-api/", timeout=60, name="emulator", pid=pid, state_dir=state_dir)
    return pid


def start_mlflow(state: StackState, artifacts_bucket: str) -> int:
    state_dir = Path(state.state_dir)
    database = (state_dir / "mlflow.db").resolve()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        state.host,
        "--port",
        str(state.ports.mlflow),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{database}",
        # The server proxies artifacts, so clients need no S3 credentials of their own.
        "--serve-artifacts",
        "--artifacts-destination",
        f"s3://{artifacts_bucket}/mlflow",
    ]
    pid = spawn("mlflow", command, state_dir=state_dir, env=base_env(state))
    wait_http(f"{state.mlflow_url}/health", timeout=120, name="mlflow", pid=pid, state_dir=state_dir)
    return pid


def api_environment(state: StackState, template_path: Path = TEMPLATE) -> dict[str, str]:
    """What the Chalice app reads: the environment template.yaml gives ApiFunction, and the shared library.

    The variables are the template's Globals and ApiFunction's own, resolved against the parameters and outputs
    the last deploy recorded in `state`, so that the app under `chalice local` sees what the deployed function sees.
    """
    from mlops_local.deployer import load_template
    from mlops_local.stack_values import DeployedStack

    stack = DeployedStack(
        load_template(template_path), state.parameters, state.outputs, state.stack_name, state.target().region
    )
    env = base_env(state)
    env.update(stack.function_environment("ApiFunction"))
    env["PYTHONPATH"] = os.pathsep.join([str(SHARED_LIBRARY), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def dev_api_command(state: StackState) -> tuple[list[str], dict[str, str]]:
    """`chalice local` serving the app with the deployed function's environment, for developing the app only:
    a development server (a listen queue of five), not the stack's API."""
    chalice = Path(sys.executable).with_name("chalice")
    if not chalice.exists():
        raise MissingDependencyError("chalice is not installed in this environment: run `make setup`")
    command = [str(chalice), "local", "--host", state.host, "--port", str(state.ports.api), "--no-autoreload"]
    return command, api_environment(state)


def wait_api(state: StackState, *, timeout: float = 180) -> dict:
    """Wait until the deployed API answers /health through the gateway, which also loads its models (the first
    invocation of a worker imports the app and MLflow): its health body once it does."""
    deadline = time.monotonic() + timeout
    url = f"{state.api_url}/health"
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            body = error.read()
            with contextlib.suppress(ValueError):
                answer = json.loads(body)
                if isinstance(answer, dict) and "status" in answer:  # the app itself answered: 503 unavailable
                    return answer
            last = f"HTTP {error.code}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as error:
            last = str(error)
        time.sleep(0.5)
    raise StackNotUpError(f"the API did not answer at {url} within {timeout:.0f} s ({last}): see `mlops logs api`")
