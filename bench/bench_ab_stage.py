"""The online stage's traffic on 5,000 held-out rows, through the deployed API behind the emulated API Gateway:
today's batches (250 rows a /predict with one user id each, feedback in batches, 4 threads) against the former
per-row design (one /predict and one /feedback per row, 8 threads), on the same stack in the same run.

Starts its own stack (iris), trains and promotes a first model, then times both.

    .venv/bin/python bench/bench_ab_stage.py [--rows 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
MLOPS = Path(sys.executable).with_name("mlops")
sys.path[:0] = [str(REPO / "layers" / "shared" / "python"), str(REPO / "infra")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mlops(state_dir: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(MLOPS), "--state-dir", str(state_dir), *args], env=env, capture_output=True, text=True, cwd=REPO
    )
    if result.returncode != 0:
        raise SystemExit(f"mlops {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def rows(count: int) -> tuple[list[dict], list[str]]:
    from mlops_core.data import simulate_drift
    from mlops_core.data.demo_datasets import iris

    batch, _ = simulate_drift(iris(), target="species", seed=7, strength=1.0, rows=count)
    labels = batch.pop("species").astype(str).tolist()
    return batch.to_dict(orient="records"), labels


def per_row(url: str, records: list[dict], labels: list[str]) -> float:
    session = requests.Session()
    started = time.perf_counter()

    def one(index: int) -> None:
        answer = session.post(
            f"{url}/predict", json={"features": records[index], "user_id": f"row-{index}"}, timeout=120
        ).json()
        session.post(
            f"{url}/feedback", json={"prediction_id": answer["prediction_id"], "label": labels[index]}, timeout=120
        ).raise_for_status()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(len(records))))
    return time.perf_counter() - started


def batched(url: str, records: list[dict], labels: list[str], size: int = 250) -> float:
    session = requests.Session()
    started = time.perf_counter()

    def one(at: int) -> None:
        users = [f"batch-{i}" for i in range(at, at + size)][: len(records[at : at + size])]
        answers = session.post(
            f"{url}/predict", json={"instances": records[at : at + size], "user_ids": users}, timeout=120
        ).json()["predictions"]
        feedback = [
            {"prediction_id": a["prediction_id"], "label": label}
            for a, label in zip(answers, labels[at : at + size], strict=True)
        ]
        session.post(f"{url}/feedback", json={"feedback": feedback}, timeout=120).raise_for_status()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(0, len(records), size)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    records, labels = rows(args.rows)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_"))}
    env.update(MLOPS_EMULATOR_PORT=str(free_port()), MLOPS_MLFLOW_PORT=str(free_port()), MLOPS_TRAINING_MODELS="lr")
    with tempfile.TemporaryDirectory() as folder:
        state_dir = Path(folder) / "state"
        mlops(state_dir, env, "up", "--detach")
        try:
            mlops(state_dir, env, "seed")
            mlops(state_dir, env, "simulate", "--strength", "1.0", "--seed", "3")
            mlops(state_dir, env, "run")
            url = json.loads((state_dir / "stack.json").read_text())["outputs"]["ApiUrl"]
            time.sleep(6)  # the API's alias cache settles after the promotion
            batch_seconds = batched(url, records, labels)
            row_seconds = per_row(url, records, labels)
        finally:
            mlops(state_dir, env, "down")
    print(f"{args.rows} rows through the emulated API Gateway, predictions and their labels:")
    print(f"  batched (250 rows a request, 4 threads): {batch_seconds:7.1f} s")
    print(f"  per row (2 requests a row, 8 threads):   {row_seconds:7.1f} s")
    print(f"  per row ÷ batched: {row_seconds / batch_seconds:.1f}×")


if __name__ == "__main__":
    main()
