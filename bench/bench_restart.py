"""What durable state costs and buys, on the whole local stack started as a user starts it.

1. Restart: `mlops down`, then the time from `mlops up` to the API answering /health `ready` with the
   Production model it served before, and to its first /predict answer.
2. Overhead: the same two executions (a first model on a drifted batch, then a challenger on a stronger one,
   same seeds) on a stack that saves its state and on one started with `--ephemeral`, one after the other.

    .venv/bin/python bench/bench_restart.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
MLOPS = Path(sys.executable).with_name("mlops")
FEATURES = {"sepal_length": 6.1, "sepal_width": 2.8, "petal_length": 4.7, "petal_width": 1.2}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(budget: float | None = 20, models: str | None = "lr,dt") -> dict[str, str]:
    """A user's shell without AWS or MLflow settings, on free ports, with `mlops` on the PATH; `budget` and
    `models` set the stack's AutoML budget and model list (None: the template's defaults)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_"))}
    env.update(
        MLOPS_EMULATOR_PORT=str(free_port()),
        MLOPS_MLFLOW_PORT=str(free_port()),
        MLOPS_API_PORT=str(free_port()),
    )
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if budget is not None:
        env["MLOPS_TRAINING_BUDGET_SECONDS"] = f"{budget:g}"
    if models:
        env["MLOPS_TRAINING_MODELS"] = models
    return env


def mlops(state_dir: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(MLOPS), "--state-dir", str(state_dir), *args], env=env, capture_output=True, text=True, cwd=REPO
    )
    if result.returncode != 0:
        raise SystemExit(f"mlops {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def api_url(state_dir: Path) -> str:
    """The deployed API behind the emulated API Gateway, as the stack's output gives it."""
    return json.loads((state_dir / "stack.json").read_text())["outputs"]["ApiUrl"]


def execution_seconds(state_dir: Path, env: dict[str, str], strength: str, seed: str) -> float:
    mlops(state_dir, env, "simulate", "--strength", strength, "--seed", seed)
    out = mlops(state_dir, env, "run")
    line = next(line for line in out.splitlines() if line.startswith("execution "))
    return float(line.rsplit(" in ", 1)[1].removesuffix(" s"))


def pipeline_times(ephemeral: bool) -> list[float]:
    with tempfile.TemporaryDirectory() as folder:
        state_dir, env = Path(folder) / "state", environment()
        mlops(state_dir, env, "up", "--detach", *(["--ephemeral"] if ephemeral else []))
        try:
            mlops(state_dir, env, "seed")
            return [execution_seconds(state_dir, env, "1.0", "3"), execution_seconds(state_dir, env, "1.5", "4")]
        finally:
            mlops(state_dir, env, "down")


def restart_times() -> tuple[float, float, str]:
    with tempfile.TemporaryDirectory() as folder:
        state_dir, env = Path(folder) / "state", environment()
        try:
            return _restart(state_dir, env)
        finally:
            subprocess.run([str(MLOPS), "--state-dir", str(state_dir), "down"], env=env, capture_output=True)


def _restart(state_dir: Path, env: dict[str, str]) -> tuple[float, float, str]:
    mlops(state_dir, env, "up", "--detach")
    mlops(state_dir, env, "seed")
    execution_seconds(state_dir, env, "1.0", "3")
    version = requests.post(f"{api_url(state_dir)}/predict", json={"features": FEATURES}, timeout=60).json()
    mlops(state_dir, env, "down")
    started = time.perf_counter()
    mlops(state_dir, env, "up", "--detach")
    url = api_url(state_dir)
    while requests.get(f"{url}/health", timeout=60).json().get("status") != "ready":
        time.sleep(0.1)
    ready = time.perf_counter() - started
    answer = requests.post(f"{url}/predict", json={"features": FEATURES}, timeout=60).json()
    first = time.perf_counter() - started
    mlops(state_dir, env, "down")
    same = "same" if answer["model_version"] == version["model_version"] else "DIFFERENT"
    return ready, first, f"{same} Production version (v{answer['model_version']})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="pairs of stacks (saving, ephemeral) to time")
    args = parser.parse_args()

    ready, first, version = restart_times()
    print(f"restart: `mlops up` to /health ready {ready:.1f} s, to the first /predict {first:.1f} s; {version}")

    saving, ephemeral = [], []
    for _ in range(args.repeat):  # alternate, so a change in the machine's load hits both sides alike
        saving.append(pipeline_times(ephemeral=False))
        ephemeral.append(pipeline_times(ephemeral=True))
    for index, name in enumerate(("first model (drift 1.0)", "challenger (drift 1.5)")):
        on = statistics.median(run[index] for run in saving)
        off = statistics.median(run[index] for run in ephemeral)
        print(f"{name:26} saving state {on:6.1f} s   ephemeral {off:6.1f} s   ratio {on / off:.2f}")


if __name__ == "__main__":
    main()
