"""Benchmark of the offline promotion gate beside today's multinomial bootstrap kernel, same data, same run.

Run by hand from the repository root:  python bench/bench_gate.py [--n 1000000] [--resamples 10000]
Both are timed alternately (median of --repeat runs each, label encoding included): `paired_bootstrap_f1` and
`offline_decision` (BCa bounds with the jackknife acceleration, per-class Holm guardrails, the power plan, and
the sign-flip test when few rows disagree). Three cases: int labels and string labels where many rows
disagree (the BCa path), and the sign-flip path's worst case: 20 disagreeing rows, each in its own mirrored
cell pair of 4 classes, so the exact test enumerates 2^20 outcomes. It prints the table and the ratio
gate ÷ kernel (target ≤ 10×); --output FILE also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "shared" / "python"))

from bench_bootstrap import synthetic
from mlops_core.decision import offline_decision
from mlops_core.stats import paired_bootstrap_f1

TARGET_RATIO = 10.0


def cases(n: int) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    ints = synthetic(n, 0, np.arange(3))
    strings = synthetic(n, 0, np.array(["Adelie", "Chinstrap", "Gentoo"]))
    # Four classes, both models equal but on 20 rows, one in each of 20 mirrored (label, A, B) cell pairs.
    y, _, _ = synthetic(n, 0, np.arange(4))
    a = y.copy()
    a[20 : n // 5] = (y[20 : n // 5] + 1) % 4
    pairs = [(t, low, high) for t in range(4) for low in range(4) for high in range(low + 1, 4)][:20]
    y[:20], a[:20] = [t for t, _, _ in pairs], [low for _, low, _ in pairs]
    b = a.copy()
    b[:20] = [high for _, _, high in pairs]
    return {
        "ints, BCa": ints,
        "strings, BCa": strings,
        "ints, 20 rows differ: exact": (y, a, b),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each, alternating")
    parser.add_argument("--output", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    print(f"offline gate vs multinomial kernel, n = {args.n:,}, {args.resamples:,} resamples\n")
    print(f"{'case':<30} {'kernel s':>9} {'gate s':>9} {'gate ÷ kernel':>14}  verdict, test")
    figures = {"n": args.n, "resamples": args.resamples, "repeat": args.repeat, "rows": []}
    worst = 0.0
    for name, (y, a, b) in cases(args.n).items():
        # warm-up: imports, BLAS threads
        paired_bootstrap_f1(y[:1000], a[:1000], b[:1000], n_resamples=10)
        offline_decision(y[:1000], a[:1000], b[:1000], n_resamples=10)
        kernel, gate = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            paired_bootstrap_f1(y, a, b, n_resamples=args.resamples)
            kernel.append(time.perf_counter() - start)
            start = time.perf_counter()
            decision = offline_decision(y, a, b, n_resamples=args.resamples)
            gate.append(time.perf_counter() - start)
        kernel_s, gate_s = float(np.median(kernel)), float(np.median(gate))
        ratio = gate_s / kernel_s
        worst = max(worst, ratio)
        print(f"{name:<30} {kernel_s:>9.3f} {gate_s:>9.3f} {ratio:>13.2f}×  {decision.verdict}, {decision.test}")
        figures["rows"].append(
            {
                "case": name,
                "kernel_seconds": kernel_s,
                "gate_seconds": gate_s,
                "ratio": ratio,
                "gate_resamples": decision.n_resamples,
                "verdict": decision.verdict,
                "test_reason": decision.test_reason,
                "decided_by": decision.decided_by,
            }
        )
    verdict = "met" if worst <= TARGET_RATIO else "MISSED"
    print(f"\nworst ratio {worst:.2f}× (target ≤ {TARGET_RATIO:.0f}×): {verdict}")
    for row in figures["rows"]:
        print(f"{row['case']}: {row['test_reason']}; {row['decided_by']}")
    figures["worst_ratio"] = worst
    if args.output:
        args.output.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.output}")


if __name__ == "__main__":
    main()
