"""Paired bootstrap of ΔF1-macro = F1-macro(B) − F1-macro(A) on the same rows (A = Production, B = Staging).

The delta depends on the rows only through the joint counts of (label, prediction A, prediction B): at most K³
cells. Resampling n rows with replacement is therefore one multinomial draw of n over the observed cells, so
each resample costs O(cells) instead of O(n), and all resamples are drawn as one array (in chunks to bound
memory). The same confusion-matrix arithmetic as `metrics` scores each resample, including scikit-learn's
rule that the macro average runs over the labels present in that resample's y_true ∪ y_pred.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import numpy as np

from mlops_core.stats.bca import Bca, jackknife_se
from mlops_core.stats.joint import JointCounts, jackknife_statistics, joint_counts, observed_statistics
from mlops_core.stats.metrics import encode_labels, metrics_from_confusion

HISTOGRAM_BINS = 30
# Multinomial draws plus the per-class sums of one chunk stay under this many bytes.
_CHUNK_BYTES = 32 * 1024 * 1024
# Deltas this close to zero are float noise from summing different per-class F1 values that are equal in
# exact arithmetic; they must not count as an improvement.
_ZERO_TOLERANCE = 1e-12


class StatisticalTest(TypedDict):
    """The percentile bootstrap's result as JSON (the kernel the offline decision's BCa test builds on)."""

    metric: Literal["f1_macro"]
    n: int
    n_resamples: int
    seed: int
    observed_delta: float
    mean_delta: float
    ci_low: float
    ci_high: float
    confidence: float
    p_value: float
    alpha: float
    significant: bool
    histogram: dict[str, list[float]]  # {"edges": [...], "counts": [...]} of the resampled deltas


@dataclass(frozen=True)
class BootstrapResult:
    """Outcome of the test; the fields are exactly those of `StatisticalTest`."""

    n: int
    n_resamples: int
    seed: int
    observed_delta: float
    mean_delta: float
    ci_low: float
    ci_high: float
    confidence: float
    p_value: float
    alpha: float
    significant: bool
    histogram: dict[str, list[float]] = field(repr=False)
    metric: Literal["f1_macro"] = "f1_macro"

    def to_dict(self) -> StatisticalTest:
        return StatisticalTest(
            metric=self.metric,
            n=self.n,
            n_resamples=self.n_resamples,
            seed=self.seed,
            observed_delta=self.observed_delta,
            mean_delta=self.mean_delta,
            ci_low=self.ci_low,
            ci_high=self.ci_high,
            confidence=self.confidence,
            p_value=self.p_value,
            alpha=self.alpha,
            significant=self.significant,
            histogram={key: list(values) for key, values in self.histogram.items()},
        )


def _check_options(n_resamples: Any, seed: Any, alpha: Any, confidence: Any) -> None:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, numbers.Integral) or n_resamples < 1:
        raise ValueError(f"n_resamples must be an integer ≥ 1, got {n_resamples!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    for name, value in (("alpha", alpha), ("confidence", confidence)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
            raise ValueError(f"{name} must be a number strictly between 0 and 1, got {value!r}")


def _summarize(
    deltas: np.ndarray, observed: float, *, n: int, seed: int, alpha: float, confidence: float
) -> BootstrapResult:
    deltas = np.where(np.abs(deltas) < _ZERO_TOLERANCE, 0.0, deltas)
    tail = (1.0 - confidence) / 2.0
    ci_low, ci_high = np.quantile(deltas, [tail, 1.0 - tail])
    # One-sided test of H0: ΔF1 ≤ 0. The +1 counts the observed sample as one of the equally likely
    # resamples (Davison & Hinkley 1997, eq. 4.11; Phipson & Smyth 2010): the estimate is then never 0,
    # which a finite number of resamples cannot justify, and p < alpha needs at least 1/alpha − 1 resamples.
    p_value = (int(np.count_nonzero(deltas <= 0.0)) + 1) / (len(deltas) + 1)
    counts, edges = np.histogram(deltas, bins=HISTOGRAM_BINS)
    return BootstrapResult(
        n=n,
        n_resamples=len(deltas),
        seed=int(seed),
        observed_delta=float(observed),
        mean_delta=float(deltas.mean()),
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        confidence=float(confidence),
        p_value=float(p_value),
        alpha=float(alpha),
        significant=bool(p_value < alpha and ci_low > 0.0),
        histogram={"edges": edges.tolist(), "counts": counts.tolist()},
    )


def _observed_delta(joint: JointCounts) -> float:
    """ΔF1-macro scored exactly as scikit-learn scores each model (the resamples use the same arithmetic)."""
    return (
        metrics_from_confusion(joint.confusion("b"))["f1_macro"]
        - metrics_from_confusion(joint.confusion("a"))["f1_macro"]
    )


def _resampled_weights(
    joint: JointCounts, n_resamples: int, seed: int, floats_per_resample: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(first index, cell counts of each resample in the chunk) over chunks of at most _CHUNK_BYTES.

    The draws do not depend on the chunking: numpy's Generator draws the same stream in any chunk sizes.
    """
    rng = np.random.default_rng(seed)
    n = joint.n
    probabilities = joint.counts / n
    chunk = max(1, min(n_resamples, _CHUNK_BYTES // (8 * floats_per_resample)))
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        # float64 holds counts exactly up to 2**53 and lets the products that follow run on BLAS.
        yield start, rng.multinomial(n, probabilities, size=size).astype(np.float64)


def bootstrap_statistics(joint: JointCounts, *, n_resamples: int, seed: int) -> np.ndarray:
    """n_resamples × (1 + K): ΔF1-macro, then ΔF1 of each class, of each multinomial resample of the cells.

    The same seed draws the same resamples as `paired_bootstrap_f1`, so column 0 equals its deltas.
    """
    _check_options(n_resamples, seed, 0.5, 0.5)
    design = joint.design()
    out = np.empty((n_resamples, 1 + joint.k))
    for start, weights in _resampled_weights(joint, n_resamples, seed, joint.n_cells + 16 * joint.k):
        out[start : start + len(weights)] = design.sums(weights).statistics()
    return out


def paired_bootstrap_f1(
    y_true: Any,
    pred_a: Any,
    pred_b: Any,
    *,
    n_resamples: int = 1000,
    seed: int = 42,
    alpha: float = 0.05,
    confidence: float = 0.95,
) -> BootstrapResult:
    """Paired bootstrap of F1-macro(pred_b) − F1-macro(pred_a), by multinomial draws over the joint cells."""
    _check_options(n_resamples, seed, alpha, confidence)
    joint = joint_counts(y_true, pred_a, pred_b)
    design = joint.design()
    deltas = np.empty(n_resamples)
    for start, weights in _resampled_weights(joint, n_resamples, seed, joint.n_cells + 6 * joint.k):
        deltas[start : start + len(weights)] = design.sums(weights).statistics()[:, 0]
    return _summarize(deltas, _observed_delta(joint), n=joint.n, seed=seed, alpha=alpha, confidence=confidence)


def paired_bootstrap_f1_rows(
    y_true: Any,
    pred_a: Any,
    pred_b: Any,
    *,
    n_resamples: int = 1000,
    seed: int = 42,
    alpha: float = 0.05,
    confidence: float = 0.95,
) -> BootstrapResult:
    """Reference: resample rows and score each resample with scikit-learn's f1_score. Slow; for tests and
    benchmarks that check `paired_bootstrap_f1` against it."""
    from sklearn.metrics import f1_score

    _check_options(n_resamples, seed, alpha, confidence)
    # Integer codes keep scikit-learn's label rule (a bijection preserves which labels are present).
    _, (t, a, b) = encode_labels(y_true, pred_a, pred_b, names=["y_true", "pred_a", "pred_b"])
    n = len(t)

    def f1(truth: np.ndarray, pred: np.ndarray) -> float:
        return float(f1_score(truth, pred, average="macro", zero_division=0))

    rng = np.random.default_rng(seed)
    deltas = np.empty(n_resamples)
    for i in range(n_resamples):
        rows = rng.integers(0, n, size=n)
        deltas[i] = f1(t[rows], b[rows]) - f1(t[rows], a[rows])
    return _summarize(deltas, f1(t, b) - f1(t, a), n=n, seed=seed, alpha=alpha, confidence=confidence)


@dataclass(frozen=True, eq=False)
class PairedBootstrap:
    """What the BCa bounds and tests need, computed once: ΔF1-macro and ΔF1 per class (columns 0 and 1..K)
    observed, resampled, and left out one row at a time."""

    joint: JointCounts
    observed: np.ndarray  # 1 + K
    jackknife: np.ndarray  # cells × (1 + K); row c stands for joint.counts[c] leave-one-out samples
    bca: Bca
    seed: int

    @classmethod
    def run(cls, joint: JointCounts, *, n_resamples: int, seed: int) -> PairedBootstrap:
        observed = observed_statistics(joint)
        jackknife = jackknife_statistics(joint)
        draws = bootstrap_statistics(joint, n_resamples=n_resamples, seed=seed)
        return cls(
            joint=joint,
            observed=observed,
            jackknife=jackknife,
            bca=Bca.fit(draws, observed, jackknife, joint.counts),
            seed=int(seed),
        )

    @property
    def n_resamples(self) -> int:
        return self.bca.n_resamples

    def se(self) -> np.ndarray:
        """Jackknife standard error of each statistic (NaN with fewer than 2 rows)."""
        return jackknife_se(self.jackknife, self.joint.counts)
