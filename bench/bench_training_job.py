"""Benchmark: one pipeline execution on a large dataset, end to end on the embedded stack, through the job path.

Run by hand, from the repository root:

    .venv/bin/python bench/bench_training_job.py [--rows 1000000] [--batch-rows 100000] [--budget 120]
        [--threshold N] [--models lr,rf,...] [--parameter KEY=VALUE] [--keep]
        [--min-available-gb 6]

Starts its own stack (`mlops up --detach`) in a new temporary state folder on free ports, writes a synthetic
classification baseline and a shifted batch as Parquet (`make_classification`: 10 numeric features, 3 classes;
six features of the batch shifted by 0.3 std, so the batch drifts), adds them with `mlops dataset add` and
`mlops dataset batch`, runs one execution and waits for it. `--rows` is what the state machine's SizeTraining
sums (baseline + batch rows); past the template's `TrainingJobThresholdRows` (or `--threshold`, deployed with
`mlops deploy --parameter`) training runs as the ECS task. Prints the path taken, the wall time of the
execution and of each Task state, the budget, the chosen model and its training plan (compare sample, models
tried and skipped, final fit estimated and taken), the offline decision, the report's URI, the peak memory of
the training task's process tree (sampled every second; the job path only) and the 1-minute load average
(lowest and highest seen during the run). On a shared machine it first waits for `--min-available-gb` of
memory: when memory runs out, the kernel's OOM killer ends the largest process, which is the training task.
The stack is stopped and its folder removed at the end (`--keep` leaves both, to read the report).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import psutil
from bench_restart import environment, mlops

REPO = Path(__file__).resolve().parents[1]
DATASET = "synthetic-large"
SHIFTED = 6  # of the 10 features: past the drift share of 0.5
JOB_COMMAND = "mlops_core.jobs.train_model"  # the training task's command line


def write_data(folder: Path, rows: int, batch_rows: int, seed: int) -> tuple[Path, Path]:
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=rows, n_features=10, n_informative=6, n_redundant=2, n_classes=3, random_state=seed
    )
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(10)])
    frame["label"] = pd.Series(y).map({0: "a", 1: "b", 2: "c"})
    baseline, batch = frame.iloc[batch_rows:], frame.iloc[:batch_rows].copy()
    for column in [f"x{i}" for i in range(SHIFTED)]:
        batch[column] += 0.3 * baseline[column].std()
    paths = folder / "baseline.parquet", folder / "batch.parquet"
    baseline.to_parquet(paths[0], index=False)
    batch.to_parquet(paths[1], index=False)
    return paths


class Watch:
    """The 1-minute load average's range and the peak RSS of the training process tree, sampled as it runs."""

    def __init__(self) -> None:
        self.loads: list[float] = []
        self.peak_mb = 0.0

    def sample(self) -> None:
        self.loads.append(round(os.getloadavg()[0], 2))
        for process in psutil.process_iter(["cmdline"]):
            command = " ".join(process.info["cmdline"] or [])
            if JOB_COMMAND in command:
                self.peak_mb = max(self.peak_mb, _tree_rss_mb(process))

    def load_range(self) -> str:
        return f"{min(self.loads)}-{max(self.loads)}" if self.loads else "n/a"


def _tree_rss_mb(process: psutil.Process) -> float:
    try:
        members = [process, *process.children(recursive=True)]
        return sum(member.memory_info().rss for member in members) / 2**20
    except psutil.Error:
        return 0.0


def run_execution(outputs: dict[str, str], endpoint: str, batch_key: str, watch: Watch) -> dict[str, Any]:
    session = {"region_name": "us-east-1", "aws_access_key_id": "test", "aws_secret_access_key": "test"}
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, **session)
    s3 = boto3.client("s3", endpoint_url=endpoint, **session)
    name = f"bench-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    arn = sfn.start_execution(
        stateMachineArn=outputs["StateMachineArn"], name=name, input=json.dumps({"batch_key": batch_key})
    )["executionArn"]
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        watch.sample()
        time.sleep(1)
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    key = f"reports/{name}/report.json"
    try:
        report = json.loads(s3.get_object(Bucket=outputs["ReportsBucketName"], Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        report = {}
    return {
        "described": described,
        "entered": [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e],
        "report": report,
        "report_uri": f"s3://{outputs['ReportsBucketName']}/{key}",
    }


def summary(run: dict[str, Any], rows: int, watch: Watch, parameters: dict[str, str]) -> list[str]:
    described, report = run["described"], run["report"]
    training = report.get("training") or {}
    plan = training.get("plan") or {}
    steps = {step["step"]: step for step in report.get("steps") or []}
    path = "job (ECS task)" if "TrainModelJob" in run["entered"] else "Lambda"
    if "TrainModel" not in run["entered"] and "TrainModelJob" not in run["entered"]:
        path = "none (no training)"
    wall = (described["stopDate"] - described["startDate"]).total_seconds()
    test = report.get("offline_test")
    if test:
        offline = f"{test.get('verdict')}, because {test.get('decided_by')}"
    else:
        offline = f"no test: {(report.get('evaluation') or {}).get('reason')}"
    lines = [
        f"execution: {described['status']} in {wall:.0f} s; rows (baseline + batch) {rows:,}",
        f"path: {path}; threshold {parameters.get('TrainingJobThresholdRows', 'template default')} rows",
        f"budget: {plan.get('budget_seconds', parameters.get('TrainingBudgetSeconds', 'template default'))} s",
        "states: " + ", ".join(f"{n} {s['seconds']} s" for n, s in steps.items() if s.get("seconds") is not None),
        f"chosen: {training.get('algorithm')} (CV F1-macro {(training.get('metrics') or {}).get('f1_macro')})",
        f"trained on: {plan.get('total_rows')} rows; compare sample {plan.get('sample_rows')} rows",
        f"models tried: {', '.join(plan.get('models_tried') or []) or '-'}",
        f"models skipped: {json.dumps(plan.get('models_skipped') or {})}",
        f"cross-validation seconds: {json.dumps(plan.get('fit_seconds') or {})}",
        f"final fit: {plan.get('final_fit_seconds')} s (estimated {plan.get('final_fit_estimate_seconds')} s)",
        f"offline decision: {offline}; status {report.get('status')}",
        f"training task peak RSS (process tree): {watch.peak_mb:,.0f} MB (sampled every second)",
        f"load average (1 min) during the run: {watch.load_range()}",
        f"report: {run['report_uri']}",
        *(f"  {line}" for line in report.get("summary") or []),
    ]
    if report.get("error"):
        lines.append(f"error: {json.dumps(report['error'])[:2000]}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="baseline + batch rows")
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument("--budget", type=float, default=None, help="TrainingBudgetSeconds (default: the template's)")
    parser.add_argument("--models", default=None, help="TrainingModels (default: PyCaret's default set)")
    parser.add_argument("--threshold", type=int, default=None, help="TrainingJobThresholdRows to deploy")
    parser.add_argument(
        "--parameter", action="append", default=[], metavar="KEY=VALUE", help="another template parameter to deploy"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="leave the stack up")
    parser.add_argument(
        "--min-available-gb", type=float, default=6.0, help="wait until the machine has this much memory available"
    )
    args = parser.parse_args()
    while (available := psutil.virtual_memory().available / 2**30) < args.min_available_gb:
        print(f"waiting: {available:.1f} GB of memory available, {args.min_available_gb:g} GB wanted", flush=True)
        time.sleep(30)

    folder = Path(tempfile.mkdtemp(prefix="bench-training-job-"))
    state_dir = folder / "state"
    env = environment(args.budget, args.models)
    started = time.perf_counter()
    baseline, batch = write_data(folder, args.rows, args.batch_rows, args.seed)
    print(f"data: {args.rows - args.batch_rows:,} baseline + {args.batch_rows:,} batch rows in {folder}", flush=True)
    mlops(state_dir, env, "dataset", "add", DATASET, "--baseline", str(baseline), "--target", "label")
    up = True
    try:
        mlops(state_dir, env, "up", "--detach", "--dataset", DATASET)
        mlops(state_dir, env, "seed")
        parameters = dict(p.split("=", 1) for p in args.parameter)
        if args.threshold is not None:
            parameters["TrainingJobThresholdRows"] = str(args.threshold)
        if parameters:
            mlops(state_dir, env, "deploy", *(f"--parameter={k}={v}" for k, v in parameters.items()))
        lines = mlops(state_dir, env, "dataset", "batch", DATASET, str(batch)).splitlines()
        batch_key = next(line for line in reversed(lines) if not line.startswith("mlops:"))
        print(f"stack up and data in S3 after {time.perf_counter() - started:.0f} s; running", flush=True)
        stack = json.loads((state_dir / "stack.json").read_text())
        parameters = {**stack.get("parameters", {}), **parameters}
        watch = Watch()
        run = run_execution(stack["outputs"], f"http://127.0.0.1:{env['MLOPS_EMULATOR_PORT']}", batch_key, watch)
        print("\n".join(summary(run, args.rows, watch, parameters)), flush=True)
        if args.keep:
            up = False
            print(f"stack left up: `mlops --state-dir {state_dir} down` stops it", flush=True)
    finally:
        if up:
            mlops(state_dir, env, "down")
            shutil.rmtree(folder, ignore_errors=True)  # the data and the stack's state: gigabytes at 1M rows


if __name__ == "__main__":
    main()
