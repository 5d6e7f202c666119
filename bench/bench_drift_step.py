"""Benchmark: the whole check_data_drift step at sizes, for where the drift check would have to fan out.

Run by hand, from the repository root:

    .venv/bin/python bench/bench_drift_step.py [--rows 1000000 3000000 10000000] [--columns 10]

Runs the step's own code (`mlops_core.pipeline.check_drift.run`, with the EvidentlyReporter the function
uses) over a bucket kept in a local folder, so every object is read whole into memory as S3's GetObject body
is: the Parquet batch read and cast to the baseline's types, the stored reference profile loaded, the verdict,
and the Evidently HTML report on the bounded sample. Baseline and batch have the same number of rows, numeric
columns (every third one shifted) and a 3-class label. Each size runs three processes: one writes the data
(not timed), one runs the step on a new baseline (it builds and stores the profile first, as a run after
`mlops dataset add` does), one runs it again on the stored profile (every later run). The step's peak memory
is its process's peak RSS, imports included, as Lambda counts it. The 1-minute load average is printed with
each row: wall times mean little on a busy machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "shared" / "python"))

DATASET = "drift-bench"


class FolderStore:
    """An ObjectStore over a local folder: what the step reads from S3, read from disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def bucket(self) -> str:
        return "bench"

    def uri(self, key: str) -> str:
        return f"s3://bench/{key}"

    def _path(self, key: str) -> Path:
        return self.root / key

    def get(self, key: str) -> bytes:
        from mlops_core.exceptions import NotFoundError

        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"{self.uri(key)} does not exist") from None

    def head(self, key: str):
        from mlops_core.ports import StoredObject

        path = self._path(key)
        if not path.is_file():
            return None
        stat = path.stat()
        etag = hashlib.md5(f"{key}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
        return StoredObject(key, f'"{etag}"', datetime.fromtimestamp(stat.st_mtime, UTC), stat.st_size)

    def put_new(self, key: str, body: bytes, content_type: str | None = None) -> None:
        from mlops_core.data import ObjectExistsError

        path = self._path(key)
        if path.exists():
            raise ObjectExistsError(self.bucket, key)
        self.put(key, body, content_type)

    def put(self, key: str, body: bytes, content_type: str | None = None) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)

    def list(self, prefix: str) -> Iterator:
        for path in sorted(self.root.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and key.startswith(prefix):
                yield self.head(key)


def prepare(root: Path, rows: int, columns: int, seed: int) -> str:
    """Baseline, dataset.json and one batch in the folder; returns the batch's key."""
    import numpy as np
    import pandas as pd
    from mlops_core.data import DatasetConfig
    from mlops_core.data.publish import baseline_key, publish_dataset

    rng = np.random.default_rng(seed)

    def frame(shift: float) -> pd.DataFrame:
        data = {
            f"x{i}": rng.normal(shift * (1 + i / 10) if i % 3 == 0 else 0.0, 1 + i / 10, rows) for i in range(columns)
        }
        data["label"] = rng.choice(np.array(["a", "b", "c"]), rows)
        return pd.DataFrame(data)

    store = FolderStore(root)
    config = DatasetConfig(name=DATASET, target="label", baseline_key=baseline_key(DATASET, "parquet"))
    publish_dataset(store, frame(0.0), config)
    key = f"datasets/{DATASET}/current/batch.parquet"
    store.put(key, frame(0.3).to_parquet(index=False))
    return key


def run_step(root: Path, batch_key: str, run_id: str) -> dict:
    os.environ["DATASET"] = DATASET
    started = time.perf_counter()  # imports included: a cold function pays them (Evidently's is inside the step)
    from mlops_core.adapters import EvidentlyReporter, SystemClock
    from mlops_core.pipeline import check_drift
    from mlops_core.pipeline.deps import Deps, PipelineSettings

    store = FolderStore(root)
    deps = Deps(
        settings=PipelineSettings.from_env(),
        data=store,
        reports=store,
        registry=None,  # type: ignore[arg-type]  # not used by this step
        trainer=None,  # type: ignore[arg-type]
        drift_reporter=EvidentlyReporter(),
        api=None,  # type: ignore[arg-type]
        clock=SystemClock(),
    )
    output = check_drift.run({"run_id": run_id, "input": {"batch_key": batch_key}}, deps)
    return {
        "step_s": round(time.perf_counter() - started, 1),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "detected": output["detected"],
        "decided_by": sorted({c.get("decided_by", "-") for c in output["columns"].values()}),
        "load": round(os.getloadavg()[0], 2),
    }


def _child(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--columns", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)  # a child: write the data there
    parser.add_argument("--step", type=Path, help=argparse.SUPPRESS)  # a child: run the step there
    parser.add_argument("--batch-key", help=argparse.SUPPRESS)
    parser.add_argument("--run-id", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        print(json.dumps({"batch_key": prepare(args.prepare, args.rows[0], args.columns, args.seed)}))
        return
    if args.step:
        print(json.dumps(run_step(args.step, args.batch_key, args.run_id)))
        return
    print("| rows × columns | run | step, imports included | peak memory (RSS) | verdict decided by | load |")
    print("| --- | --- | --- | --- | --- | --- |")
    for rows in args.rows:
        with tempfile.TemporaryDirectory(prefix="drift-step-") as folder:
            size = ["--rows", str(rows), "--columns", str(args.columns), "--seed", str(args.seed)]
            batch_key = _child("--prepare", folder, *size)["batch_key"]
            for run in ("first (builds the profile)", "later (stored profile)"):
                run_id = f"bench-{len(run)}"
                result = _child("--step", folder, "--batch-key", batch_key, "--run-id", run_id, *size)
                print(
                    f"| {rows:,} × {args.columns} | {run} | {result['step_s']} s | "
                    f"{result['peak_mb']:,} MB | {', '.join(result['decided_by'])} | {result['load']} |",
                    flush=True,
                )
                print(json.dumps({"rows": rows, "run": run, **result}), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
