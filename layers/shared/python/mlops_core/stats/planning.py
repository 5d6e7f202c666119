"""Planned sample size of the offline test: the minimum detectable effect at the rows available, and the rows a
test of H0: ΔF1-macro ≤ δ_min needs to detect ΔF1-macro = δ_min + margin with the planned power.

Variance estimate: the jackknife standard error of ΔF1-macro on the pilot rows (the held-out rows themselves),
computed exactly from the joint (label, A, B) counts (`joint.jackknife_statistics`), scaled to one row:
σ₁ = SE_jack · √n. ΔF1-macro is a smooth function of cell proportions, so its SE shrinks as σ₁/√n, and a
one-sided level-α test on the normal approximation has power Φ(√n·(Δ − δ_min)/σ₁ − z₁₋α). Hence

    MDE(n)        = δ_min + (z₁₋α + z_power) · σ₁ / √n
    n_required    = ⌈((z₁₋α + z_power) · σ₁ / margin)²⌉, at least 2 (a variance needs two rows).

σ₁ is estimated at the pilot's own effect and disagreement rate and is itself uncertain at small n; when the
models agree on every pilot row it is 0 and any n suffices: on these rows the two models cannot be told apart.
With a single row there is no variance estimate: MDE and n_required are None and the data are insufficient.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from mlops_core.stats.bca import jackknife_se
from mlops_core.stats.joint import JointCounts, jackknife_statistics

MIN_ROWS = 2
_NORMAL = NormalDist()


@dataclass(frozen=True)
class SamplePlan:
    n: int
    alpha: float  # level of the one-sided test
    power: float
    delta_min: float
    margin: float  # the effect planned for is delta_min + margin
    se: float | None  # jackknife SE of ΔF1-macro at n; None with fewer than 2 rows
    sd_per_row: float | None  # σ₁ = se · √n
    mde: float | None  # smallest true ΔF1-macro detected with `power` at n
    required_n: int | None  # rows needed for `power` at ΔF1-macro = delta_min + margin
    missing_rows: int | None  # max(0, required_n − n)
    sufficient: bool  # n ≥ required_n
    variance: str = "jackknife SE of ΔF1-macro on the pilot rows, scaled by √n"


def _z_sum(alpha: float, power: float) -> float:
    return _NORMAL.inv_cdf(1.0 - alpha) + _NORMAL.inv_cdf(power)


def _check_probability(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number strictly between 0 and 1, got {value!r}")


def _check_non_negative(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number ≥ 0, got {value!r}")


def minimum_detectable_effect(
    sd_per_row: float, n: int, *, alpha: float, power: float = 0.8, delta_min: float = 0.0
) -> float:
    """Smallest true ΔF1-macro that a one-sided level-alpha test of ΔF1 ≤ delta_min detects with `power`."""
    _check_non_negative(sd_per_row, "sd_per_row")
    _check_probability(alpha, "alpha")
    _check_probability(power, "power")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be an integer ≥ 1, got {n!r}")
    return float(delta_min + _z_sum(alpha, power) * sd_per_row / math.sqrt(n))


def required_sample_size(sd_per_row: float, margin: float, *, alpha: float, power: float = 0.8) -> int:
    """Rows for `power` when the true ΔF1-macro exceeds the tested bound δ_min by `margin` (> 0)."""
    _check_non_negative(sd_per_row, "sd_per_row")
    _check_probability(alpha, "alpha")
    _check_probability(power, "power")
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real) or not margin > 0:
        raise ValueError(f"margin must be a number > 0, got {margin!r}")
    rows = math.ceil((_z_sum(alpha, power) * sd_per_row / margin) ** 2)
    return max(MIN_ROWS, rows)


def plan_sample_size(
    joint: JointCounts, *, alpha: float, power: float = 0.8, delta_min: float = 0.0, margin: float = 0.02
) -> SamplePlan:
    """MDE at the pilot's n and the rows needed for `power` at delta_min + margin, from the pilot's counts."""
    required_sample_size(0.0, margin, alpha=alpha, power=power)  # validates the options
    if isinstance(delta_min, bool) or not isinstance(delta_min, numbers.Real) or not math.isfinite(delta_min):
        raise ValueError(f"delta_min must be a finite number, got {delta_min!r}")
    n = joint.n
    se = float(jackknife_se(jackknife_statistics(joint)[:, :1], joint.counts)[0])
    if n < MIN_ROWS or not math.isfinite(se):
        return SamplePlan(n, alpha, power, delta_min, margin, None, None, None, None, None, False)
    sd = se * math.sqrt(n)
    required = required_sample_size(sd, margin, alpha=alpha, power=power)
    return SamplePlan(
        n=n,
        alpha=alpha,
        power=power,
        delta_min=delta_min,
        margin=margin,
        se=se,
        sd_per_row=sd,
        mde=minimum_detectable_effect(sd, n, alpha=alpha, power=power, delta_min=delta_min),
        required_n=required,
        missing_rows=max(0, required - n),
        sufficient=n >= required,
    )
