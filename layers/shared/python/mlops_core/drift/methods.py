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
from mlops_core.exceptions import DataValidationError


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


def ks_statistic(ref_values: np.ndarray, ref_counts: np.ndarray, current_sorted: np.ndarray) -> float:
    """Two-sided K-S statistic: the largest |F_ref - F_cur| over the data points, as `ks_2samp` finds it.

    Between two reference values F_ref is constant while F_cur only grows, so the extremes sit at a
    reference value or at the last current value below the next one: 2 binary searches per reference
    value into the sorted current give every candidate, each computed with scipy's own divisions.
    """
    n_ref = int(ref_counts.sum(dtype=np.int64))
    n_cur = current_sorted.size
    ref_cdf = np.cumsum(ref_counts, dtype=np.int64) / n_ref
    at_or_below = np.searchsorted(current_sorted, ref_values, side="right") / n_cur
    below = np.searchsorted(current_sorted, ref_values, side="left") / n_cur
    diffs = np.concatenate([ref_cdf - at_or_below, ref_cdf[:-1] - below[1:], [0.0 - below[0]]])
    # F_ref reaches 1 at the last reference value, so the largest difference is never negative.
    return float(max(diffs.max(), -diffs.min()))


# `ks_2samp(method="auto")` computes the exact p-value when neither sample is larger than this, else Smirnov's
# asymptotic one (scipy's `MAX_AUTO_N`).
KS_EXACT_MAX_ROWS = 10000


def ks_p_value(ref_values: np.ndarray, ref_counts: np.ndarray, current_sorted: np.ndarray) -> float:
    """Two-sided two-sample K-S p-value of scipy's `ks_2samp` (method "auto"), which Evidently calls.

    In scipy's exact regime both samples are small, so it simply runs on the reference rebuilt from its
    counts. Above it, the statistic comes from `ks_statistic` and the p-value from the same asymptotic
    distribution, effective size and clipping `ks_2samp` uses: no 1M-row concatenation and searches.
    """
    from scipy.stats import ks_2samp

    n_ref = int(ref_counts.sum(dtype=np.int64))
    n_cur = current_sorted.size
    if max(n_ref, n_cur) <= KS_EXACT_MAX_ROWS:
        return float(ks_2samp(np.repeat(ref_values, ref_counts), current_sorted)[1])
    return ks_asymptotic_p_value(ks_statistic(ref_values, ref_counts, current_sorted), n_ref, n_cur)


def ks_asymptotic_p_value(statistic: float, n_ref: int, n_cur: int) -> float:
    """`ks_2samp`'s p-value above its exact regime: the same effective size and clipping. It falls as the
    statistic grows."""
    from scipy.stats import kstwo

    larger, smaller = sorted([float(n_ref), float(n_cur)], reverse=True)
    effective = larger * smaller / (larger + smaller)
    return float(np.clip(kstwo.sf(statistic, np.round(effective)), 0, 1))


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


# Values per block in `wasserstein_distance`: its temporaries stay in cache and are reused, not paged in anew.
BLOCK = 1 << 15


def wasserstein_distance(ref_values: np.ndarray, ref_counts: np.ndarray, current_sorted: np.ndarray) -> float:
    """First Wasserstein distance between the reference (sorted distinct values with counts) and a sorted
    current sample, as scipy's `wasserstein_distance` defines it.

    Computed as the area between the two quantile functions, which equals scipy's area between the CDFs.
    Scaled by n_ref * n_cur, every step end of both quantile functions is an integer (current cell i ends at
    (i + 1) * n_ref, reference cell j at R_j * n_cur, R the cumulative counts), so merging both step
    sequences is integer arithmetic: no sort, no search, exact segment lengths. Each segment between
    consecutive step ends is attributed to the end that closes it; where a current and a reference end
    coincide, the current one closes first and the reference one closes an empty segment.
    """
    n_ref = int(ref_counts.sum(dtype=np.int64))
    n_cur = current_sorted.size
    if n_ref * n_cur >= 2**63:
        raise DataValidationError(f"{n_ref} reference rows times {n_cur} current rows overflow 64-bit integers")
    ends = np.zeros(ref_values.size + 1, dtype=np.int64)  # ends[j + 1]: where reference cell j ends; ends[0] = 0
    np.cumsum(ref_counts, out=ends[1:])
    ends *= n_cur
    closed = ends[1:] // n_ref  # current cells closed by each reference end: the current cell that segment is in

    area = 0.0
    for first in range(0, ref_values.size, BLOCK):
        # Segments closed by reference end j start at the later of reference end j - 1 and current end
        # `closed[j]`; the last one is empty, so its clipped current index does not matter.
        cells = closed[first : first + BLOCK]
        length = cells * n_ref
        np.maximum(length, ends[first : first + cells.size], out=length)
        np.subtract(ends[first + 1 : first + 1 + cells.size], length, out=length)
        gap = current_sorted.take(cells, mode="clip")
        gap -= ref_values[first : first + cells.size]
        area += _weighted_sum(gap, length)

    # Segments closed by current end i lie in reference cell b_i, the number of reference ends strictly
    # before it (those closing at most i current cells), and start at the later of i * n_ref and ends[b_i].
    bounds = np.append(np.arange(0, n_cur, BLOCK), n_cur)
    closing = np.searchsorted(closed, bounds, side="left").tolist()  # reference ends before each block
    for k, first in enumerate(bounds[:-1].tolist()):
        size = min(BLOCK, n_cur - first)
        cells = np.bincount(closed[closing[k] : closing[k + 1]] - first, minlength=size)
        np.cumsum(cells, out=cells)
        cells += closing[k]
        length = ends.take(cells)
        cur_ends = np.arange(first * n_ref, (first + size) * n_ref, n_ref, dtype=np.int64)
        np.maximum(length, cur_ends, out=length)
        cur_ends += n_ref
        np.subtract(cur_ends, length, out=length)
        gap = ref_values.take(cells)
        gap -= current_sorted[first : first + size]
        area += _weighted_sum(gap, length)
    return area / (n_ref * n_cur)


def _weighted_sum(gap: np.ndarray, length: np.ndarray) -> float:
    np.abs(gap, out=gap)
    gap *= length
    return float(gap.sum())


def normed_wasserstein(
    ref_values: np.ndarray, ref_counts: np.ndarray, ref_std: float, current_sorted: np.ndarray
) -> float:
    """Wasserstein distance in units of the reference's population std, floored at 0.001 as Evidently
    does so a constant reference does not divide by zero."""
    return wasserstein_distance(ref_values, ref_counts, current_sorted) / max(float(ref_std), 0.001)
