"""Benchmark: train_best_model's time budget on large synthetic data.

Run by hand: `python bench/bench_training.py [--rows 50000 200000 1000000 3000000] [--budget 120]
[--time-left 840] [--max-load 1.5]`. Each size runs in its own process (so its peak memory is its own):
make_classification with 10 numeric features and 3 classes, 5 folds, n_jobs 1, PyCaret's default models.
`--time-left` is what train_model hands the trainer inside Lambda (15 minutes less the registration reserve);
a final fit estimated past it is refused, and the table says so. Prints one row per size: wall time, chosen
model, compare sample, models tried and skipped, final fit (estimated and taken) and peak memory (the process
and its workers). Wall times only mean something on an otherwise idle machine: `--max-load` waits for the
1-minute load average to drop below a bound first, and the load average is printed with each row.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def run_one(rows: int, budget: float, time_left: float | None, seed: int) -> dict:
    import pandas as pd
    from mlops_core.training import train_best_model
    from mlops_core.training.exceptions import TrainingBudgetError
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=rows, n_features=10, n_informative=6, n_redundant=2, n_classes=3, random_state=seed
    )
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(10)])
    frame["label"] = y
    started = time.perf_counter()
    result: dict = {"rows": rows, "budget_seconds": budget, "time_left_seconds": time_left}
    try:
        model = train_best_model(
            frame, "label", categorical=[], budget_seconds=budget, seed=seed, time_left_seconds=time_left
        )
        result.update(chosen=model.algorithm, f1_macro=model.cv_metrics["f1_macro"], plan=model.plan)
        result["timings"] = model.timings
    except TrainingBudgetError as exc:
        result.update(chosen=None, refused=str(exc))
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["peak_mb"] = {"process": round(own / 1024), "largest_worker": round(workers / 1024)}
    result["load_average"] = round(os.getloadavg()[0], 2)
    return result


def wait_for_load(max_load: float | None) -> None:
    while max_load is not None and os.getloadavg()[0] > max_load:
        time.sleep(10)


def row(result: dict) -> str:
    plan = result.get("plan") or {}
    if result.get("chosen") is None:
        outcome = "refused: " + result.get("refused", "")[:100]
    else:
        outcome = f"{result['chosen']} (CV F1 {result['f1_macro']:.3f})"
    tried = len(plan.get("models_tried", []))
    skipped = ", ".join(plan.get("models_skipped", {})) or "-"
    final = f"{plan['final_fit_seconds']:.0f} s (est. {plan['final_fit_estimate_seconds']:.0f})" if plan else "-"
    return (
        f"| {result['rows']:,} | {result['budget_seconds']:.0f} s | {result['wall_seconds']:.0f} s | {outcome} | "
        f"{plan.get('sample_rows', 0):,} | {tried} | {skipped} | {final} | "
        f"{result['peak_mb']['process']:,} / {result['peak_mb']['largest_worker']:,} MB | {result['load_average']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[50_000, 200_000, 1_000_000, 3_000_000])
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--time-left", type=float, default=840.0, help="seconds; 0 for no limit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-load", type=float, default=None)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a single size, in this process
    args = parser.parse_args()
    time_left = args.time_left or None
    if args.one:
        print(json.dumps(run_one(args.rows[0], args.budget, time_left, args.seed)))
        return
    print(
        "| rows | budget | wall | chosen model | compare sample | models tried | skipped | final fit | "
        "peak memory (process / worker) | load |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for rows in args.rows:
        wait_for_load(args.max_load)
        command = [sys.executable, __file__, "--one", "--rows", str(rows), "--budget", str(args.budget)]
        command += ["--time-left", str(args.time_left), "--seed", str(args.seed)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(row(result), flush=True)
        print(json.dumps(result), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
