"""Spending α across the daily promotion tests: LORD++, a pure function of the past tests.

Rule (LORD++; Javanmard & Montanari 2018, Ramdas, Yang, Wainwright & Jordan 2017): number the offline tests
t = 1, 2, … (every run that reached the offline test, whatever its verdict), let τ₁ < τ₂ < … be the tests that
rejected H0, and fix a target level α, an initial wealth W₀ ≤ α (default α/2) and a non-increasing sequence
γ₁, γ₂, … ≥ 0 with Σγⱼ ≤ 1. Test t runs at

    α_t = γ_t · W₀ + (α − W₀) · γ_{t−τ₁} + α · Σ_{j ≥ 2, τⱼ < t} γ_{t−τⱼ}

(the terms of rejections not yet made are absent). The default
γⱼ = 0.07720838 · log(max(j, 2)) / (j · e^√(log j)) is the shape of Javanmard & Montanari's eq. (31) with the
constant of the R package onlineFDR (Σγⱼ ≈ 0.98 ≤ 1, checked numerically: the sum to 10⁷ plus the integral of
the tail). Each rejection earns back wealth; without rejections the level decays. At α = 0.05, W₀ = α/2:
α₁ ≈ 0.0013, α₁₀ ≈ 0.0001, α₁₀₀ ≈ 0.00001. A sequence γ that puts more weight on its first terms spends more
early and less later; pass it as `gamma` (keep it non-increasing with Σγⱼ ≤ 1).

The pipeline passes `telescoping_gamma`, γⱼ = 1/(j(j+1)) (Σγⱼ = 1 exactly, non-increasing): at α = 0.05 and
W₀ = α/2 the first test runs at 0.0125, the second at 0.0042, the tenth at 0.00023, and a test right after a
rejection gets back at least (α − W₀)/2. It spends early because the pipeline's tests are few (one per drifted
run that reaches the offline test) and each needs a usable level to have power; the default above would give
the first test 0.0013, which at a few hundred held-out rows can almost never promote.

Guarantee without rejections, under ANY dependence between the tests: until the first rejection the levels are
fixed numbers, α_t = γ_t · W₀, so when every candidate is no better than Production the chance of ever promoting
one is at most Σ_t γ_t · W₀ ≤ W₀ (a union bound over the first rejection). The pipeline relies on this one when
it pools held-out rows across runs (the same rows then enter several tests).

Guarantee (FDR): if each test's p-value is valid (P(p ≤ u) ≤ u under its null) and the null p-values are independent
of each other and of the non-null ones, then for every horizon T the false discovery rate
E[V_T / max(R_T, 1)] ≤ α, V_T the false and R_T all rejections among tests 1..T, and so is the modified FDR
E[V_T] / E[R_T] (Ramdas et al. 2017 for LORD++, extending Javanmard & Montanari's proof for LORD).
Independence needs disjoint held-out rows from run to run; the BCa p-values are valid only approximately, the
sign-flip ones exactly. The guarantee is about the stream: it holds only if every test in the stream used at
most the level this rule gave it, which `lord_plus_plus` checks against the recorded levels.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

GAMMA_CONSTANT = 0.07720838
# Relative slack when checking recorded levels against the rule (JSON round trips of floats are exact, but a
# level may have been computed by another float path).
_SLACK = 1e-9


class PastTest(TypedDict):
    alpha_t: float  # the level the test ran at
    rejected: bool  # whether it rejected its H0 (the offline result's "rejected")


def lord_gamma(j: int) -> float:
    """γⱼ = 0.07720838 · log(max(j, 2)) / (j · e^√(log j)), j ≥ 1."""
    if isinstance(j, bool) or not isinstance(j, numbers.Integral) or j < 1:
        raise ValueError(f"j must be an integer ≥ 1, got {j!r}")
    return GAMMA_CONSTANT * math.log(max(j, 2)) / (j * math.exp(math.sqrt(math.log(j))))


def telescoping_gamma(j: int) -> float:
    """γⱼ = 1 / (j (j + 1)), j ≥ 1: sums to exactly 1 and front-loads the spending (see the module docstring)."""
    if isinstance(j, bool) or not isinstance(j, numbers.Integral) or j < 1:
        raise ValueError(f"j must be an integer ≥ 1, got {j!r}")
    return 1.0 / (j * (j + 1))


def _level(t: int, rejections: Sequence[int], alpha: float, w0: float, gamma: Callable[[int], float]) -> float:
    level = gamma(t) * w0
    for i, tau in enumerate(rejections):
        level += (alpha - w0 if i == 0 else alpha) * gamma(t - tau)
    return level


def _entry(entry: Any, index: int) -> tuple[float, bool]:
    if not isinstance(entry, Mapping):
        raise ValueError(f"history[{index}] must be a mapping with alpha_t and rejected, got {entry!r}")
    level, rejected = entry.get("alpha_t"), entry.get("rejected")
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 <= level < 1:
        raise ValueError(f"history[{index}].alpha_t must be a number in [0, 1), got {level!r}")
    if not isinstance(rejected, bool):
        raise ValueError(f"history[{index}].rejected must be a bool, got {rejected!r}")
    return float(level), rejected


def lord_plus_plus(
    history: Sequence[Mapping[str, Any]],
    *,
    alpha: float = 0.05,
    w0: float | None = None,
    gamma: Callable[[int], float] = lord_gamma,
) -> float:
    """This test's level α_t from the past tests in order (oldest first), each {"alpha_t", "rejected"}.

    Raises ValueError when a past test ran at a level above the one the rule allowed it: the history was not
    spent by this rule (another alpha, w0 or gamma), and the guarantee would not hold.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}")
    w0 = alpha / 2 if w0 is None else w0
    if isinstance(w0, bool) or not isinstance(w0, numbers.Real) or not 0 <= w0 <= alpha:
        raise ValueError(f"w0 must be a number in [0, alpha], got {w0!r}")
    if isinstance(history, str | bytes | Mapping) or not isinstance(history, Sequence):
        raise ValueError("history must be a sequence of past tests")
    rejections: list[int] = []
    for index, entry in enumerate(history):
        level, rejected = _entry(entry, index)
        allowed = _level(index + 1, rejections, alpha, w0, gamma)
        if level > allowed * (1 + _SLACK):
            raise ValueError(
                f"history[{index}] ran at alpha_t {level:.6g}, above the {allowed:.6g} LORD++ allowed it with "
                f"alpha {alpha} and w0 {w0}: the history was spent by another rule"
            )
        if rejected:
            rejections.append(index + 1)
    return _level(len(history) + 1, rejections, alpha, w0, gamma)
