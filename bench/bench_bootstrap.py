"""Benchmark of the paired bootstrap of ΔF1-macro: multinomial draws over joint cells vs row resampling.

Run by hand from the repository root:  python bench/bench_bootstrap.py [--n 1000000] [--resamples 10000]
It prints a table: the multinomial bootstrap at full size (target: under 1 s), the row-resampling loop with
scikit-learn's f1_score timed on a few resamples and extrapolated, and how well the two agree on a smaller n.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "shared" / "python"))

from mlops_core.stats.bootstrap import paired_bootstrap_f1, paired_bootstrap_f1_rows

TARGET_SECONDS = 1.0


def synthetic(n: int, seed: int, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three classes; Production right 80% of the time, Staging 81%, errors uniform."""
    rng = np.random.default_rng(seed)
    y = labels[rng.integers(0, len(labels), n)]

    def predictions(accuracy: float) -> np.ndarray:
        return np.where(rng.random(n) < accuracy, y, labels[rng.integers(0, len(labels), n)])

    return y, predictions(0.80), predictions(0.81)


def timed(function, *args, repeat: int = 1, **kwargs):
    """The last result and the median wall time of `repeat` calls (other work on the machine adds noise)."""
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(*args, **kwargs)
        seconds.append(time.perf_counter() - start)
    return result, float(np.median(seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of the multinomial bootstrap")
    parser.add_argument("--row-resamples", type=int, default=20, help="row-loop resamples actually timed")
    parser.add_argument("--agreement-n", type=int, default=2_000)
    parser.add_argument("--agreement-resamples", type=int, default=2_000)
    args = parser.parse_args()

    print(f"paired bootstrap of ΔF1-macro, 3 classes, n = {args.n:,}\n")
    print(f"{'method (seconds include label encoding)':<44} {'resamples':>10} {'seconds':>9} {'s per 10k':>10}")
    rows = []
    for name, labels in (("ints", np.arange(3)), ("strings", np.array(["Adelie", "Chinstrap", "Gentoo"]))):
        y, a, b = synthetic(args.n, 0, labels)
        paired_bootstrap_f1(y[:1000], a[:1000], b[:1000], n_resamples=10)  # warm-up: imports, BLAS threads
        fast, seconds = timed(paired_bootstrap_f1, y, a, b, n_resamples=args.resamples, repeat=args.repeat)
        rows.append((f"multinomial, {name} labels (median of {args.repeat})", args.resamples, seconds))
    y, a, b = synthetic(args.n, 0, np.arange(3))
    _, slow_seconds = timed(paired_bootstrap_f1_rows, y, a, b, n_resamples=args.row_resamples)
    rows.append(("row resampling + sklearn f1_score, ints", args.row_resamples, slow_seconds))
    for label, count, seconds in rows:
        print(f"{label:<44} {count:>10,} {seconds:>9.3f} {seconds / count * 10_000:>10.1f}")
    fast_per_10k = rows[0][2] / rows[0][1] * 10_000
    slow_per_10k = slow_seconds / args.row_resamples * 10_000
    verdict = "met" if rows[0][2] < TARGET_SECONDS else "MISSED"
    print(f"\ntarget {args.resamples:,} resamples under {TARGET_SECONDS:.0f} s: {verdict}")
    print(f"speed-up of the multinomial bootstrap over the row loop: {slow_per_10k / fast_per_10k:,.0f}×")
    print(
        f"result at n = {args.n:,}: observed Δ {fast.observed_delta:+.5f}, "
        f"CI [{fast.ci_low:+.5f}, {fast.ci_high:+.5f}], p {fast.p_value:.4g}, significant {fast.significant}"
    )

    n, resamples = args.agreement_n, args.agreement_resamples
    y, a, b = synthetic(n, 1, np.arange(3))
    fast = paired_bootstrap_f1(y, a, b, n_resamples=resamples, seed=1)
    slow = paired_bootstrap_f1_rows(y, a, b, n_resamples=resamples, seed=2)
    sd = (fast.ci_high - fast.ci_low) / (2 * 1.959964)
    se = sd * np.sqrt(2 / resamples)
    print(f"\nagreement at n = {n:,}, {resamples:,} resamples each (Monte-Carlo SE of a mean difference {se:.5f})")
    print(f"{'':<14} {'multinomial':>12} {'rows':>12} {'difference':>12}")
    for field in ("observed_delta", "mean_delta", "ci_low", "ci_high", "p_value"):
        mine, reference = getattr(fast, field), getattr(slow, field)
        print(f"{field:<14} {mine:>12.5f} {reference:>12.5f} {mine - reference:>+12.5f}")


if __name__ == "__main__":
    main()
