"""Benchmark: our drift verdict against NannyML 0.13 and Evidently's DataDriftPreset on the same large data.

Run by hand, from the repository root:

    python -m venv .venv-nannyml && .venv-nannyml/bin/pip install -r bench/requirements-nannyml.txt   # once
    .venv/bin/python bench/bench_drift.py [--rows 1000000] [--columns 10] [--rounds 3]
        [--growth 1000000,3000000,10000000] [--no-evidently]

Each timing runs in its own process, ours and NannyML's alternating round by round (NannyML in its own venv:
it needs numpy and pandas newer than ours), and the median of `--rounds` is reported, so both see the same
machine load. Ours: `ReferenceProfile.from_bytes` + `detect_drift` on the stored (bounded) profile. NannyML:
`UnivariateDriftCalculator.calculate` with one chunk, for Wasserstein and for K-S (its `fit` is timed apart).
Evidently runs once, in this process; the run fails if any per-column verdict of ours differs from its.
`--growth` times ours alone at other sizes (verdict time, peak memory of the verdict, profile size).
Timings are wall-clock on a shared machine: only the ratios within one run mean something.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
NANNYML_PYTHON = ROOT / ".venv-nannyml" / "bin" / "python"


def make_data(rows: int, columns: int, reference_rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Numeric columns; every third one shifts by a little more than Wasserstein's 0.1 threshold."""
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame({f"x{i}": rng.normal(0, 1 + i / 10, reference_rows) for i in range(columns)})
    current = pd.DataFrame(
        {f"x{i}": rng.normal(0.3 * (1 + i / 10) if i % 3 == 0 else 0.0, 1 + i / 10, rows) for i in range(columns)}
    )
    return reference, current


def _ours(rows: int, columns: int, seed: int) -> dict:
    sys.path.insert(0, str(ROOT / "layers" / "shared" / "python"))
    from mlops_core.drift import ReferenceProfile, build_profile, detect_drift

    reference, current = make_data(rows, columns, rows, seed)
    started = time.perf_counter()
    built = build_profile(reference, target=None)
    build_s = time.perf_counter() - started
    data = built.to_bytes()
    stored = {name: built.exact_column_bytes(name) for name in built.exact_columns}  # as S3 holds them
    del built, reference

    def exact_column(name: str):
        from mlops_core.drift.profile import exact_column_from_bytes

        return exact_column_from_bytes(stored[name], name)

    started = time.perf_counter()
    result = detect_drift(ReferenceProfile.from_bytes(data), current, exact_column=exact_column)
    verdict_s = time.perf_counter() - started
    # Memory apart: tracing every allocation would slow the timed call.
    tracemalloc.start()
    detect_drift(ReferenceProfile.from_bytes(data), current, exact_column=exact_column)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "verdict_s": verdict_s,
        "verdict_peak_mb": peak / 1e6,
        "build_s": build_s,
        "profile_mb": len(data) / 1e6,
        "exact_columns_mb": sum(len(b) for b in stored.values()) / 1e6,
        "decided_by": sorted({c.decided_by for c in result.columns.values()}),
        "columns": {name: c.to_dict() for name, c in result.columns.items()},
    }


def _nannyml(rows: int, columns: int, seed: int) -> dict:
    os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"  # no telemetry
    import warnings

    warnings.filterwarnings("ignore")
    import nannyml

    reference, current = make_data(rows, columns, rows, seed)
    names = list(reference.columns)
    out = {"version": nannyml.__version__}
    for method in ("wasserstein", "kolmogorov_smirnov"):
        calculator = nannyml.UnivariateDriftCalculator(column_names=names, continuous_methods=[method], chunk_number=1)
        started = time.perf_counter()
        calculator.fit(reference)
        fitted = time.perf_counter()
        calculator.calculate(current)
        out[method] = {"fit_s": fitted - started, "calculate_s": time.perf_counter() - fitted}
    return out


def _worker(engine: str, rows: int, columns: int, seed: int) -> dict:
    python = sys.executable if engine == "ours" else str(NANNYML_PYTHON)
    command = [python, __file__, "--worker", engine, "--rows", str(rows), "--columns", str(columns)]
    done = subprocess.run([*command, "--seed", str(seed)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{engine} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _evidently(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[dict, float]:
    sys.path.insert(0, str(ROOT / "layers" / "shared" / "python"))
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset
    from mlops_core.drift import evidently_data_definition

    definition = evidently_data_definition(reference, target=None)
    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    result = snapshot.dict()
    seconds = time.perf_counter() - started
    verdicts = {m["config"]["column"]: {"method": m["config"]["method"]} for m in result["metrics"][1:]}
    for test in result["tests"]:
        params = test["metric_config"]["params"]
        if params["type"].endswith("ValueDrift"):
            verdicts[params["column"]]["drifted"] = test["status"] == "FAIL"
    return verdicts, seconds


def _load() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--growth", default="", help="comma-separated row counts to time ours at, e.g. 1000000,3000000")
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument("--worker", choices=["ours", "nannyml"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run = _ours if args.worker == "ours" else _nannyml
        print(json.dumps(run(args.rows, args.columns, args.seed)))
        return
    if not NANNYML_PYTHON.exists():
        raise SystemExit(f"no NannyML venv at {NANNYML_PYTHON.relative_to(ROOT)}: see this file's docstring")

    print(f"{args.rows:,} rows x {args.columns} numeric columns (reference and current), {os.cpu_count()} CPUs")
    print(f"load average before: {_load()}")
    ours, theirs = [], []
    for round_ in range(args.rounds):
        ours.append(_worker("ours", args.rows, args.columns, args.seed))
        theirs.append(_worker("nannyml", args.rows, args.columns, args.seed))
        print(
            f"  round {round_ + 1}: ours {ours[-1]['verdict_s']:.3f} s, NannyML calculate "
            f"{theirs[-1]['wasserstein']['calculate_s']:.3f} s (Wasserstein), "
            f"{theirs[-1]['kolmogorov_smirnov']['calculate_s']:.3f} s (K-S); load {_load()}",
            flush=True,
        )
    ours_s = statistics.median(o["verdict_s"] for o in ours)
    nml = {m: statistics.median(t[m]["calculate_s"] for t in theirs) for m in ("wasserstein", "kolmogorov_smirnov")}
    nml_fit = {m: statistics.median(t[m]["fit_s"] for t in theirs) for m in ("wasserstein", "kolmogorov_smirnov")}
    print(f"\nmedians of {args.rounds} (NannyML {theirs[0]['version']}):")
    print(f"  ours, from_bytes + detect_drift: {ours_s:.3f} s  (decided by {ours[0]['decided_by']})")
    for method, label in (("wasserstein", "Wasserstein"), ("kolmogorov_smirnov", "K-S")):
        print(
            f"  NannyML calculate, {label}: {nml[method]:.3f} s (fit {nml_fit[method]:.3f} s); "
            f"ours / NannyML = {ours_s / nml[method]:.2f}x"
        )
    print(f"  profile {ours[0]['profile_mb']:.1f} MB, exact columns stored apart {ours[0]['exact_columns_mb']:.1f} MB")

    if not args.no_evidently:
        reference, current = make_data(args.rows, args.columns, args.rows, args.seed)
        verdicts, evidently_s = _evidently(reference, current)
        for column, expected in verdicts.items():
            got = ours[0]["columns"][column]
            assert (got["method"], got["drifted"]) == (expected["method"], expected["drifted"]), (column, got)
        print(f"  Evidently DataDriftPreset run: {evidently_s:.1f} s; Evidently / ours = {evidently_s / ours_s:.0f}x")
        print(f"  verdicts identical to Evidently's on {len(verdicts)} columns")

    for rows in [int(r) for r in args.growth.split(",") if r]:
        grown = _worker("ours", rows, args.columns, args.seed)
        print(
            f"  growth, ours at {rows:,} rows: verdict {grown['verdict_s']:.3f} s, verdict peak "
            f"{grown['verdict_peak_mb']:.0f} MB, profile {grown['profile_mb']:.1f} MB, "
            f"build {grown['build_s']:.1f} s, decided by {grown['decided_by']}",
            flush=True,
        )
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
