"""The statistical tests of Evidently 0.7's default drift selection, on reference counts instead of rows.

Each function mirrors one `evidently.legacy.calculations.stattests` implementation, floating-point
operations included, so scores match Evidently's to rounding. Inputs are already cleaned: no NaN, no ±inf,
at least one value per side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from mlops_core.drift.kinds import Kind


@dataclass(frozen=True)
class Method:
    name: str  # Evidently's display name, as it appears in `ValueDrift(method=...)`
    threshold: float
    rule: Literal["p<=", "p<", "d>="]  # drifted when the score compares so to the threshold

    def drifted(self, score: float) -> bool:
        if self.rule == "p<=":
            return score <= self.threshold
        if self.rule == "p<":
            return score < self.threshold
        return score >= self.threshold


KS = Method("K-S p_value", 0.05, "p<=")
CHI_SQUARE = Method("chi-square p_value", 0.05, "p<")
Z_TEST = Method("Z-test p_value", 0.05, "p<")
JENSEN_SHANNON = Method("Jensen-Shannon distance", 0.1, "d>=")
WASSERSTEIN = Method("Wasserstein distance (normed)", 0.1, "d>=")

# Evidently switches from tests to distances above this many non-missing reference values.
SMALL_REFERENCE_ROWS = 1000


def select_method(kind: Kind, reference_rows: int, n_values: int) -> Method:
    """Evidently's `_get_default_stattest`: `reference_rows` counts the column's non-missing reference
    values, `n_values` the distinct values of both sides together."""
    if reference_rows <= SMALL_REFERENCE_ROWS:
        if kind == "num" and n_values > 5:
            return KS
        return CHI_SQUARE if n_values > 2 else Z_TEST
    if kind == "num" and n_values > 5:
        return WASSERSTEIN
    return JENSEN_SHANNON


def ks_p_value(ref_values: np.ndarray, ref_counts: np.ndarray, current: np.ndarray) -> float:
    """Two-sided two-sample K-S p-value (scipy's `ks_2samp`, method "auto").

    Only used for small references, so rebuilding the reference sample from its counts is cheap, and
    leaves scipy's exact/asymptotic choice exactly as Evidently gets it.
    """
    from scipy.stats import ks_2samp

    return float(ks_2samp(np.repeat(ref_values, ref_counts), current)[1])


def chi_square_p_value(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Pearson chi-square of current counts against reference frequencies scaled to the current size.

    A value absent from the reference has an expected count of 0, hence an infinite statistic and p = 0.
    """
    from scipy.stats import chisquare

    k_norm = int(cur_counts.sum()) / int(ref_counts.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(chisquare(cur_counts, ref_counts * k_norm)[1])


def z_test_p_value(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Two-proportion Z-test on the share of values other than the first key (two values at most).

    Written as Evidently writes it, `2 * (1 - cdf)` rather than the survival function, so tiny p-values
    round to the same number.
    """
    from scipy.stats import norm

    ref_present = np.flatnonzero(ref_counts)
    cur_present = np.flatnonzero(cur_counts)
    if ref_present.size == 1 and cur_present.size == 1 and ref_present[0] == cur_present[0]:
        return 1.0
    n1 = int(ref_counts.sum())
    n2 = int(cur_counts.sum())
    p1 = float(n1 - int(ref_counts[0])) / n1
    p2 = float(n2 - int(cur_counts[0])) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - norm.cdf(np.abs(z))))


def jensen_shannon_distance(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (natural log) between the value shares of both sides.

    Under Evidently's default selection this only meets categorical columns and numerical ones with at
    most 5 distinct values, so its quantile-binning branch (numerical, > 20 values) never applies here.
    """
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(ref_counts / int(ref_counts.sum()), cur_counts / int(cur_counts.sum())))


def wasserstein_distance(ref_values: np.ndarray, ref_counts: np.ndarray, current_sorted: np.ndarray) -> float:
    """First Wasserstein distance between the reference (sorted unique values with counts) and a sorted
    current sample: the integral of |F_ref - F_cur| over the merged breakpoints, as scipy computes it.

    Linear after the caller's sort: merging two sorted runs with a stable sort costs about one pass.
    """
    n_ref = int(ref_counts.sum())
    n_cur = current_sorted.size
    merged = np.concatenate([ref_values, current_sorted])
    order = np.argsort(merged, kind="stable")
    points = merged[order]
    weights = np.concatenate([ref_counts.astype(np.int64), np.zeros(n_cur, dtype=np.int64)])[order]
    # Integer running counts divided once, like scipy's `searchsorted(...) / size`; a running sum of
    # 1/n would drift. Between tied points the width is 0, so tie order does not matter.
    gap = np.cumsum(weights)[:-1] / n_ref
    gap -= np.cumsum(order >= ref_values.size, dtype=np.int64)[:-1] / n_cur
    np.abs(gap, out=gap)
    gap *= np.diff(points)
    return float(np.sum(gap))


def normed_wasserstein(
    ref_values: np.ndarray, ref_counts: np.ndarray, ref_std: float, current_sorted: np.ndarray
) -> float:
    """Wasserstein distance in units of the reference's population std, floored at 0.001 as Evidently
    does so a constant reference does not divide by zero."""
    return wasserstein_distance(ref_values, ref_counts, current_sorted) / max(float(ref_std), 0.001)
