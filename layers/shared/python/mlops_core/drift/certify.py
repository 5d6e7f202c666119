"""Verdicts from a bounded (sketched) reference profile: certified when the score's proven error bound keeps
it on one side of the threshold, left to the exact reference column otherwise.

The sketch's statistic is within the profile's stored bound of the exact one for any current sample (see
profile._sketch), and each test's verdict is monotone in its score, so when both ends of
[score - bound, score + bound] give the same verdict, the exact score, wherever it lies in between, gives it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlops_core.drift import methods

if TYPE_CHECKING:
    from mlops_core.drift.profile import NumericalProfile

# Relative slack for the floating-point rounding of the score itself (our exact scores match Evidently's to
# about 1e-12): a score this close to the threshold is left to the exact path.
ROUNDING = 1e-9
# Equal-width cells of the unsorted screen (`screen_wasserstein`): the reference and the current are counted
# into them, which costs a few passes over the current instead of a sort.
GRID_CELLS = 1 << 16


@dataclass(frozen=True)
class Bounded:
    """A score from the sketch and the interval the exact score is proven to lie in."""

    score: float
    low: float
    high: float

    def certifies(self, method: methods.Method) -> bool:
        return method.drifted(self.low) == method.drifted(self.high)

    @property
    def error(self) -> float:
        """How far the exact score can be from `score`."""
        return max(self.score - self.low, self.high - self.score)


def screen_wasserstein(sketch: NumericalProfile, current: np.ndarray) -> Bounded | None:
    """Bounds on the normed Wasserstein distance between the reference and the unsorted finite `current`,
    from counts over `GRID_CELLS` equal-width cells spanning both sides; None when they have no width.

    W1 is the integral of |F - G| (F the sketch's CDF, G the current's). Over one cell of width h, both are
    non-decreasing: F stays within [a, a'] (the sketch's mass before the cell, and through it), G within [b, b'].
    Each side's integral over the cell is known exactly from its points in the cell: a point at x adds
    (right edge - x) / n. Where the ranges do not overlap (a' <= b or b' <= a), one CDF lies above the other
    across the cell and the cell's share of W1 is exactly the difference of the integrals; elsewhere it is at
    least that difference and at most h * max(a' - b, b' - a). Ranges overlap only where the CDFs come closer
    than a cell's mass, so the interval is usually narrow. The sketch's own error and rounding (positions
    moved by a few ulps of the span) are added.
    """
    low_end = min(float(current.min()), float(sketch.values[0]))
    high_end = max(float(current.max()), float(sketch.values[-1]))
    span = high_end - low_end
    if not (span > 0 and math.isfinite(span)):
        return None
    scale = GRID_CELLS * (1 - 8 * float(np.finfo(np.float64).eps)) / span
    ref_mass, ref_rest = _cell_sums(sketch.values, low_end, scale, sketch.counts.astype(np.float64))
    cur_mass, cur_rest = _cell_sums(current, low_end, scale, None)
    n_ref, n_cur = float(sketch.rows), float(current.size)
    a = (np.cumsum(ref_mass) - ref_mass) / n_ref
    a_through = a + ref_mass / n_ref
    b = (np.cumsum(cur_mass) - cur_mass) / n_cur
    b_through = b + cur_mass / n_cur
    # Integrals over each cell, in units of the cell's width.
    gap = np.abs((b + cur_rest / n_cur) - (a + ref_rest / n_ref))
    apart = (a_through <= b) | (b_through <= a)
    widest = np.where(apart, gap, np.maximum(a_through - b, b_through - a))
    floor = max(float(sketch.std), 0.001)  # as normed_wasserstein floors it
    width = 1 / scale
    low, high = width * float(gap.sum()), width * float(widest.sum())
    error = sketch.wasserstein_error + 64 * float(np.finfo(np.float64).eps) * span
    return _padded((low + high) / 2 / floor, (low - error) / floor, (high + error) / floor)


def _cell_sums(
    values: np.ndarray, low_end: float, scale: float, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: the mass of `values` in it and the sum of their distances to its right edge, in cells.

    Few passes over the values: the distances come from the sum of positions per cell (each cell's count
    times its right edge, less that sum), whose rounding stays within the slack `screen_wasserstein` adds.
    """
    position = np.subtract(values, low_end)
    position *= scale  # below GRID_CELLS: the scale is shrunk by a few ulps
    cell = position.astype(np.intp)
    if weights is not None:
        position *= weights
    mass = np.bincount(cell, weights=weights, minlength=GRID_CELLS).astype(np.float64)
    if mass.size != GRID_CELLS:
        raise AssertionError(f"a value fell past the last of {GRID_CELLS} cells")  # the scale rules it out
    return mass, mass * np.arange(1, GRID_CELLS + 1) - np.bincount(cell, weights=position, minlength=GRID_CELLS)


def sketch_score(method: methods.Method, sketch: NumericalProfile, current_sorted: np.ndarray) -> Bounded | None:
    """The score of `method` on the sketch with its proven interval; None when the sketch cannot bound it
    (scipy's exact K-S p-value, for two samples of at most 10,000 values, has no closed form to bound)."""
    if method is methods.WASSERSTEIN:
        floor = max(float(sketch.std), 0.001)  # as normed_wasserstein floors it
        score = methods.wasserstein_distance(sketch.values, sketch.counts, current_sorted) / floor
        error = sketch.wasserstein_error / floor
        return _padded(score, score - error, score + error)
    if method is methods.KS:
        n_ref, n_cur = sketch.rows, current_sorted.size
        if max(n_ref, n_cur) <= methods.KS_EXACT_MAX_ROWS:
            return None
        statistic = methods.ks_statistic(sketch.values, sketch.counts, current_sorted)
        score = methods.ks_asymptotic_p_value(statistic, n_ref, n_cur)
        # The p-value falls as the statistic grows: the largest statistic gives the lowest p-value.
        low = methods.ks_asymptotic_p_value(min(1.0, statistic + sketch.cdf_error), n_ref, n_cur)
        high = methods.ks_asymptotic_p_value(max(0.0, statistic - sketch.cdf_error), n_ref, n_cur)
        return _padded(score, low, high)
    raise ValueError(f"no bound for {method.name!r} on a numerical sketch")  # selection never picks one


def _padded(score: float, low: float, high: float) -> Bounded:
    pad = ROUNDING * max(abs(low), abs(high)) + 1e-300
    return Bounded(score, low - pad, high + pad)
