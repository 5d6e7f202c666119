"""Bias-corrected and accelerated (BCa) bootstrap bounds and p-values, for several statistics at once.

Efron (1987); Davison & Hinkley (1997), §5.3. For a statistic θ with bootstrap draws θ*, observed θ̂ and
jackknife (leave-one-out) values θ₍ᵢ₎:

- bias correction z₀ = Φ⁻¹(#{θ* < θ̂}/B + ½·#{θ* = θ̂}/B), the mid-rank form, because F1 resamples tie often;
- acceleration a = Σ(θ̄ − θ₍ᵢ₎)³ / (6 · (Σ(θ̄ − θ₍ᵢ₎)²)^{3/2}), θ̄ the mean of the jackknife values;
- the lower bound at level 1 − α is the α₁ quantile of θ*, α₁ = Φ(z₀ + (z₀ + z_α) / (1 − a·(z₀ + z_α))),
  taken as the order statistic θ*₍ⱼ₎ with j = ⌊α₁·(B + 1)⌋ (no bound, −∞, when j = 0: too few resamples);
- the p-value of H0: θ ≤ δ inverts that bound: with G = (#{θ* ≤ δ} + 1)/(B + 1) and u = Φ⁻¹(G) − z₀,
  p = Φ(u / (1 + a·u) − z₀). Then p ≤ α exactly when the lower bound at level 1 − α exceeds δ, because both
  reduce to G ≤ α₁ (the map is increasing on the branch 1 + a·u > 0; off it p is 0 or 1, as the bound is).
  G is at least 1/(B + 1), but p is not floored there: with z₀ or a ≠ 0 the map may move G below it.

Upper bounds and the p-values of H0: θ ≥ δ are the same arithmetic on −θ. Values within `TOLERANCE` of each
other count as equal: ΔF1 values equal in exact arithmetic differ by float noise of order 1e-16.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

TOLERANCE = 1e-12
_NORMAL = NormalDist()


@dataclass(frozen=True, eq=False)
class Bca:
    """Sorted bootstrap draws (B × m) with each column's bias correction z0 and acceleration a."""

    draws: np.ndarray
    z0: np.ndarray
    acceleration: np.ndarray

    @classmethod
    def fit(cls, draws: np.ndarray, observed: np.ndarray, jackknife: np.ndarray, weights: np.ndarray) -> Bca:
        """`jackknife` holds distinct leave-one-out values (rows) that stand for `weights` rows each; NaN rows
        (an empty leave-one-out sample) and columns whose jackknife is constant give acceleration 0."""
        draws = np.sort(np.asarray(draws, dtype=np.float64), axis=0)
        observed = np.asarray(observed, dtype=np.float64)
        b = len(draws)
        below = (draws < observed - TOLERANCE).sum(axis=0)
        tied = (np.abs(draws - observed) <= TOLERANCE).sum(axis=0)
        share = np.clip((below + 0.5 * tied) / b, 0.5 / b, 1.0 - 0.5 / b)
        z0 = np.array([_NORMAL.inv_cdf(float(s)) for s in share])
        return cls(draws=draws, z0=z0, acceleration=acceleration(jackknife, weights))

    @property
    def n_resamples(self) -> int:
        return len(self.draws)

    def negated(self) -> Bca:
        """The same fit for −θ: upper bounds and lower-tail p-values of θ are lower-side ones of −θ."""
        return Bca(draws=-self.draws[::-1], z0=-self.z0, acceleration=-self.acceleration)

    def adjusted_level(self, alpha: float) -> np.ndarray:
        """α₁ of each column: the quantile of the draws that is the BCa lower bound at level 1 − alpha."""
        z_alpha = _NORMAL.inv_cdf(alpha)
        out = np.empty(len(self.z0))
        for i, (z0, a) in enumerate(zip(self.z0.tolist(), self.acceleration.tolist(), strict=True)):
            if z0 == 0.0 and a == 0.0:  # the percentile bound: α₁ = α exactly, not Φ(Φ⁻¹(α)) ± an ulp
                out[i] = alpha
                continue
            s = z0 + z_alpha
            denominator = 1.0 - a * s
            # Off the increasing branch the formula has no meaning; the limit there is 0 for a lower bound.
            out[i] = _NORMAL.cdf(z0 + s / denominator) if denominator > 0 else (0.0 if s < 0 else 1.0)
        return out

    def lower(self, alpha: float) -> np.ndarray:
        """One-sided lower bound of each column at level 1 − alpha; −inf where B is too small for it."""
        b = self.n_resamples
        j = np.floor(self.adjusted_level(alpha) * (b + 1)).astype(np.int64)
        j = np.minimum(j, b)
        values = self.draws[np.maximum(j, 1) - 1, np.arange(self.draws.shape[1])]
        return np.where(j >= 1, values, -np.inf)

    def upper(self, alpha: float) -> np.ndarray:
        """One-sided upper bound of each column at level 1 − alpha; +inf where B is too small for it."""
        return -self.negated().lower(alpha)

    def p_greater(self, delta: float | np.ndarray) -> np.ndarray:
        """p-value of H0: θ ≤ delta against θ > delta, per column.

        Not floored at 1/(B + 1): the BCa map can move G below it, and a floor would break p ≤ α ⟺ bound > δ.
        """
        b = self.n_resamples
        delta = np.broadcast_to(np.asarray(delta, dtype=np.float64), self.z0.shape)
        at_or_below = (self.draws <= delta + TOLERANCE).sum(axis=0)
        share = (at_or_below + 1) / (b + 1)
        out = np.empty(len(self.z0))
        for i, (g, z0, a) in enumerate(zip(share.tolist(), self.z0.tolist(), self.acceleration.tolist(), strict=True)):
            if g >= 1.0:
                out[i] = 1.0
                continue
            if z0 == 0.0 and a == 0.0:  # the plain percentile test: keep p == G exactly
                out[i] = g
                continue
            u = _NORMAL.inv_cdf(g) - z0
            if 1.0 + a * u > 0:
                out[i] = _NORMAL.cdf(u / (1.0 + a * u) - z0)
            else:  # beyond the branch: every level rejects (a > 0) or none does (a < 0)
                out[i] = 0.0 if a > 0 else 1.0
        return np.clip(out, 0.0, 1.0)

    def p_less(self, delta: float | np.ndarray) -> np.ndarray:
        """p-value of H0: θ ≥ delta against θ < delta, per column."""
        return self.negated().p_greater(-np.asarray(delta, dtype=np.float64))


def acceleration(jackknife: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """BCa acceleration of each column from weighted jackknife values; 0 where undefined."""
    values = np.asarray(jackknife, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if values.ndim != 2 or len(values) != len(w):
        raise ValueError("jackknife must be cells × statistics with one weight per cell")
    if not np.all(np.isfinite(values)) or w.sum() < 2:
        return np.zeros(values.shape[1])
    mean = (w @ values) / w.sum()
    dev = mean - values
    second = w @ dev**2
    third = w @ dev**3
    with np.errstate(invalid="ignore", divide="ignore"):
        a = third / (6.0 * second**1.5)
    return np.where(second > TOLERANCE**2, a, 0.0)


def jackknife_se(jackknife: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Jackknife standard error of each column, √((n − 1)/n · Σ wᵢ(θ₍ᵢ₎ − θ̄)²); NaN with fewer than 2 rows."""
    values = np.asarray(jackknife, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    n = w.sum()
    if n < 2 or not np.all(np.isfinite(values)):
        return np.full(values.shape[1], math.nan)
    mean = (w @ values) / n
    return np.sqrt((n - 1) / n * (w @ (values - mean) ** 2))
