"""Cold start of each pipeline function, measured as Lambda measures Init Duration: a fresh interpreter importing
the handler module with the layer on the path. Also shows what each step's first invocation imports lazily,
since that cost lands on the first request instead.

    .venv/bin/python bench/bench_cold_start.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEPS = {
    "check_data_drift": ["pandas", "pyarrow", "scipy.stats", "evidently"],
    "train_model": ["pandas", "mlflow", "pycaret.classification"],
    "evaluate_candidate": ["pandas", "mlflow.sklearn"],
    "run_ab_test": ["pandas", "requests"],
    "find_pending_candidate": ["mlflow"],
    "promote_if_better": ["mlflow"],
    "generate_report": ["boto3"],
}
PROBE = """
import sys, time
started = time.perf_counter()
import app
init = time.perf_counter() - started
heavy = [m for m in ("pandas", "numpy", "mlflow", "evidently", "pycaret", "sklearn") if m in sys.modules]
started = time.perf_counter()
for module in sys.argv[1:]:
    __import__(module)
lazy = time.perf_counter() - started
print(f"{init:.3f} {lazy:.3f} {','.join(heavy) or '-'}")
"""


def measure(step: str, lazy_modules: list[str], repeats: int = 3) -> tuple[float, float, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "layers" / "shared" / "python"),
        "PYCARET_CUSTOM_LOGGING_PATH": os.devnull,
    }
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, *lazy_modules],
            cwd=REPO / "functions" / step,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        runs.append((float(out[0]), float(out[1]), out[2]))
    runs.sort()
    return runs[len(runs) // 2]


def main() -> None:
    print(f"{'function':20} {'init (s)':>9} {'heavy modules at init':>22} {'first-call imports (s)':>23}")
    for step, lazy in STEPS.items():
        init, first, heavy = measure(step, lazy)
        print(f"{step:20} {init:9.3f} {heavy:>22} {first:23.2f}   ({', '.join(lazy)})")


if __name__ == "__main__":
    main()
