"""Benchmark: our drift verdict against Evidently's DataDriftPreset on the same large data.

Run by hand: `python bench/bench_drift.py [--rows 1000000] [--columns 10] [--small-reference]`.
Prints a table of timings and fails if any per-column verdict differs from Evidently's.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from mlops_core.drift import build_profile, detect_drift, evidently_data_definition


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


def run(rows: int, columns: int, reference_rows: int, seed: int) -> None:
    reference, current = make_data(rows, columns, reference_rows, seed)

    started = time.perf_counter()
    profile = build_profile(reference, target=None)
    profiled = time.perf_counter()
    data = profile.to_bytes()
    serialized = time.perf_counter()
    result = detect_drift(type(profile).from_bytes(data), current)
    detected = time.perf_counter()

    theirs, import_s, evidently_s = evidently_verdicts(reference, current)
    ours = result.to_dict()["columns"]
    for column, expected in theirs.items():
        got = ours[column]
        assert (got["method"], got["drifted"]) == (expected["method"], expected["drifted"]), (column, got, expected)
        assert np.isclose(got["score"], expected["score"], rtol=1e-9, atol=1e-12), (column, got, expected)
    worst = max(abs(ours[c]["score"] - theirs[c]["score"]) / max(abs(theirs[c]["score"]), 1e-300) for c in theirs)

    ours_s = detected - serialized
    print(f"\nreference {reference_rows:,} rows, current {rows:,} rows, {columns} numeric columns")
    print(f"  method: {sorted({c['method'] for c in ours.values()})}, drifted {result.number_of_drifted_columns}")
    print(f"  {'step':<40}{'seconds':>10}")
    print(f"  {'build_profile (once per baseline)':<40}{profiled - started:>10.3f}")
    print(f"  {'profile to_bytes (' + format(len(data) / 1e6, '.1f') + ' MB)':<40}{serialized - profiled:>10.3f}")
    print(f"  {'from_bytes + detect_drift':<40}{ours_s:>10.3f}")
    print(f"  {'evidently import':<40}{import_s:>10.3f}")
    print(f"  {'evidently DataDriftPreset run':<40}{evidently_s:>10.3f}")
    print(
        f"  speed-up (evidently run / ours): {evidently_s / ours_s:.0f}x; verdicts identical on {len(theirs)} columns"
    )
    print(f"  largest relative score difference: {worst:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--small-reference", action="store_true", help="also run a 1,000-row reference (K-S)")
    args = parser.parse_args()
    run(args.rows, args.columns, args.rows, args.seed)
    if args.small_reference:
        run(args.rows, args.columns, 1000, args.seed)


if __name__ == "__main__":
    main()
