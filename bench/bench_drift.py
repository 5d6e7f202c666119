"""Benchmark: our drift verdict against Evidently's DataDriftPreset on the same large data.

Run by hand: `python bench/bench_drift.py [--rows 1000000] [--columns 10] [--small-reference] [--max-load 1.5]`.
Prints the time of each step (profile build, serialization, load from bytes, detection, Evidently) and the
speed-up both for detection alone and for load + detection; fails if any per-column verdict differs from
Evidently's. Timings are wall-clock and only mean something on an otherwise idle machine: `--max-load` waits
for the 1-minute load average to drop below a bound first, and the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd
from mlops_core.drift import ReferenceProfile, build_profile, detect_drift, evidently_data_definition

REPEATS = 3  # detection is also timed warm, best of this many runs


def make_data(rows: int, columns: int, reference_rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Numeric columns; every third one shifts by a little more than Wasserstein's 0.1 threshold."""
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame({f"x{i}": rng.normal(0, 1 + i / 10, reference_rows) for i in range(columns)})
    current = pd.DataFrame(
        {f"x{i}": rng.normal(0.3 * (1 + i / 10) if i % 3 == 0 else 0.0, 1 + i / 10, rows) for i in range(columns)}
    )
    return reference, current


def evidently_verdicts(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[dict, float, float]:
    started = time.perf_counter()
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    imported = time.perf_counter()
    definition = evidently_data_definition(reference, target=None)
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    result = snapshot.dict()
    finished = time.perf_counter()
    verdicts = {}
    for metric in result["metrics"][1:]:
        verdicts[metric["config"]["column"]] = {"method": metric["config"]["method"], "score": metric["value"]}
    for test in result["tests"]:
        params = test["metric_config"]["params"]
        if params["type"].endswith("ValueDrift"):
            verdicts[params["column"]]["drifted"] = test["status"] == "FAIL"
    return verdicts, imported - started, finished - imported


def wait_for_quiet(max_load: float | None, patience_s: float) -> None:
    if max_load is None:
        return
    deadline = time.monotonic() + patience_s
    while os.getloadavg()[0] >= max_load and time.monotonic() < deadline:
        print(f"  load average {os.getloadavg()[0]:.2f} >= {max_load}: waiting", flush=True)
        time.sleep(15)


def _load() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def _timed(step, *args):
    started = time.perf_counter()
    result = step(*args)
    return result, time.perf_counter() - started


def run(rows: int, columns: int, reference_rows: int, seed: int, max_load: float | None, patience_s: float) -> None:
    reference, current = make_data(rows, columns, reference_rows, seed)
    wait_for_quiet(max_load, patience_s)
    load_before = _load()

    profile, build_s = _timed(lambda: build_profile(reference, target=None))
    data, to_bytes_s = _timed(profile.to_bytes)
    loaded, load_s = _timed(ReferenceProfile.from_bytes, data)
    result, detect_s = _timed(detect_drift, loaded, current)
    warm_s = min(_timed(detect_drift, loaded, current)[1] for _ in range(REPEATS))
    load_after_ours = _load()

    theirs, import_s, evidently_s = evidently_verdicts(reference, current)
    load_after_evidently = _load()
    ours = result.to_dict()["columns"]
    for column, expected in theirs.items():
        got = ours[column]
        assert (got["method"], got["drifted"]) == (expected["method"], expected["drifted"]), (column, got, expected)
        assert np.isclose(got["score"], expected["score"], rtol=1e-9, atol=1e-12), (column, got, expected)
    worst = max(abs(ours[c]["score"] - theirs[c]["score"]) / max(abs(theirs[c]["score"]), 1e-300) for c in theirs)

    shape = f"reference {reference_rows:,} rows, current {rows:,} rows, {columns} numeric columns"
    print(f"\n{shape}, {os.cpu_count()} CPUs")
    print(f"  method: {sorted({c['method'] for c in ours.values()})}, drifted {result.number_of_drifted_columns}")
    print(f"  1-min/5-min/15-min load average: {load_before} before, {load_after_ours} after ours, ", end="")
    print(f"{load_after_evidently} after Evidently")
    print(f"  | {'step':<44} | {'seconds':>8} |")
    print(f"  |{'-' * 46}|{'-' * 10}|")
    rows_out = [
        ("build_profile (once per baseline)", build_s),
        (f"profile to_bytes ({len(data) / 1e6:.1f} MB)", to_bytes_s),
        ("profile from_bytes", load_s),
        ("detect_drift (first call)", detect_s),
        (f"detect_drift (warm, best of {REPEATS})", warm_s),
        ("from_bytes + detect_drift (first call)", load_s + detect_s),
        ("evidently import", import_s),
        ("evidently DataDriftPreset run", evidently_s),
    ]
    for label, seconds in rows_out:
        print(f"  | {label:<44} | {seconds:>8.3f} |")
    print(f"  speed-up, Evidently run / detect_drift (first call): {evidently_s / detect_s:.0f}x")
    print(f"  speed-up, Evidently run / (from_bytes + detect_drift): {evidently_s / (load_s + detect_s):.0f}x")
    print(f"  verdicts identical on {len(theirs)} columns; largest relative score difference: {worst:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--small-reference", action="store_true", help="also run a 1,000-row reference (K-S)")
    parser.add_argument("--max-load", type=float, help="wait until the 1-minute load average is below this")
    parser.add_argument("--patience", type=float, default=600, help="seconds to wait for --max-load at most")
    args = parser.parse_args()
    run(args.rows, args.columns, args.rows, args.seed, args.max_load, args.patience)
    if args.small_reference:
        run(args.rows, args.columns, 1000, args.seed, args.max_load, args.patience)


if __name__ == "__main__":
    main()
