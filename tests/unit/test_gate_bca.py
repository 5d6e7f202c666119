from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from mlops_core.stats import Bca, PairedBootstrap, jackknife_se, joint_counts
from mlops_core.stats.bca import TOLERANCE, acceleration

PHI = NormalDist()


def mean_bootstrap(x: np.ndarray, n_resamples: int, rng: np.random.Generator) -> Bca:
    """BCa fit for the mean of x: resampled means, and the jackknife means (nθ̂ − xᵢ)/(n − 1)."""
    n = len(x)
    weights = rng.multinomial(n, np.full(n, 1 / n), size=n_resamples)
    draws = (weights @ x / n)[:, None]
    jackknife = ((x.sum() - x) / (n - 1))[:, None]
    return Bca.fit(draws, np.array([x.mean()]), jackknife, np.ones(n))


def test_bias_correction_and_acceleration_follow_the_textbook_formulas():
    rng = np.random.default_rng(1)
    x = rng.exponential(1.0, 30)
    fit = mean_bootstrap(x, 1999, rng)
    draws = fit.draws[:, 0]
    share = (np.count_nonzero(draws < x.mean()) + 0.5 * np.count_nonzero(draws == x.mean())) / len(draws)
    assert fit.z0[0] == pytest.approx(PHI.inv_cdf(share), abs=1e-12)
    jack = (x.sum() - x) / (len(x) - 1)
    u = jack.mean() - jack
    assert fit.acceleration[0] == pytest.approx((u**3).sum() / (6 * (u**2).sum() ** 1.5), rel=1e-12)
    assert fit.acceleration[0] > 0  # the mean of a right-skewed sample
    alpha1 = PHI.cdf(fit.z0[0] + (fit.z0[0] + PHI.inv_cdf(0.05)) / (1 - fit.acceleration[0] * (fit.z0[0] - 1.6449)))
    j = math.floor(alpha1 * (len(draws) + 1))
    assert fit.lower(0.05)[0] == pytest.approx(draws[j - 1], abs=1e-4 * abs(draws[j - 1]) + 1e-12)


def test_bca_covers_the_mean_of_a_skewed_sample_better_than_percentiles():
    # One-sided 95% bounds for the mean of Exp(1) samples of 20: BCa's coverage is nearer 95% on both sides.
    rng = np.random.default_rng(2026)
    reps, truth = 1000, 1.0
    covered = {"bca_low": 0, "pct_low": 0, "bca_high": 0, "pct_high": 0}
    for _ in range(reps):
        fit = mean_bootstrap(rng.exponential(truth, 20), 999, rng)
        plain = Bca(fit.draws, np.zeros(1), np.zeros(1))  # z0 = a = 0: the percentile bounds
        covered["bca_low"] += fit.lower(0.05)[0] < truth
        covered["pct_low"] += plain.lower(0.05)[0] < truth
        covered["bca_high"] += fit.upper(0.05)[0] > truth
        covered["pct_high"] += plain.upper(0.05)[0] > truth
    error = {key: abs(value / reps - 0.95) for key, value in covered.items()}
    assert error["bca_low"] < error["pct_low"]
    assert error["bca_high"] < error["pct_high"]
    assert 0.93 <= covered["bca_low"] / reps <= 0.97


@pytest.mark.parametrize("seed", range(6))
def test_p_value_at_most_alpha_exactly_when_the_bound_clears_delta(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    y = rng.integers(0, 3, n)
    a = np.where(rng.random(n) < 0.7, y, rng.integers(0, 3, n))
    b = np.where(rng.random(n) < rng.uniform(0.6, 0.95), y, rng.integers(0, 3, n))
    fit = PairedBootstrap.run(joint_counts(y, a, b), n_resamples=int(rng.integers(40, 3000)), seed=seed).bca
    for alpha in (0.001, 0.01, 0.05, 0.2):
        for delta in (-0.05, 0.0, 0.03, float(rng.normal(0, 0.05))):
            np.testing.assert_array_equal(fit.p_greater(delta) <= alpha, fit.lower(alpha) > delta + TOLERANCE)
            np.testing.assert_array_equal(fit.p_less(delta) <= alpha, fit.upper(alpha) < delta - TOLERANCE)


def test_without_bias_or_acceleration_the_p_value_is_the_bootstrap_share():
    draws = np.arange(1, 100, dtype=float)[:, None]  # 99 draws, 1..99
    fit = Bca(draws, np.zeros(1), np.zeros(1))
    assert fit.p_greater(10.0)[0] == 11 / 100  # (#{θ* ≤ 10} + 1) / (B + 1)
    assert fit.p_greater(0.0)[0] == 1 / 100
    assert fit.p_greater(1000.0)[0] == 1.0
    assert fit.lower(0.05)[0] == 5.0  # the ⌊0.05 · 100⌋ = 5th smallest
    assert fit.upper(0.05)[0] == 95.0
    assert fit.lower(0.005)[0] == -math.inf  # ⌊0.005 · 100⌋ = 0: too few resamples for a 99.5% bound
    assert fit.upper(0.005)[0] == math.inf


def test_identical_draws_give_the_observed_value_as_both_bounds():
    fit = Bca.fit(np.zeros((500, 2)), np.zeros(2), np.zeros((3, 2)), np.array([1, 1, 1]))
    assert fit.z0.tolist() == [0.0, 0.0] and fit.acceleration.tolist() == [0.0, 0.0]
    assert fit.lower(0.05).tolist() == [0.0, 0.0] and fit.upper(0.05).tolist() == [0.0, 0.0]
    assert fit.p_greater(0.0).tolist() == [1.0, 1.0]


def test_negation_swaps_the_tails():
    rng = np.random.default_rng(3)
    fit = mean_bootstrap(rng.exponential(1.0, 25), 999, rng)
    flipped = fit.negated()
    assert flipped.lower(0.1)[0] == -fit.upper(0.1)[0]
    assert flipped.z0[0] == -fit.z0[0] and flipped.acceleration[0] == -fit.acceleration[0]
    assert np.all(np.diff(flipped.draws[:, 0]) >= 0)


def test_acceleration_and_se_weight_each_cell_by_its_rows():
    values = np.array([[0.1], [0.3], [0.2]])
    weights = np.array([2, 1, 3])
    expanded = np.repeat(values[:, 0], weights)
    u = expanded.mean() - expanded
    assert acceleration(values, weights)[0] == pytest.approx((u**3).sum() / (6 * (u**2).sum() ** 1.5))
    n = len(expanded)
    assert jackknife_se(values, weights)[0] == pytest.approx(math.sqrt((n - 1) / n * (u**2).sum()))
    assert acceleration(np.full((3, 1), 0.5), weights)[0] == 0.0
    assert np.isnan(jackknife_se(values[:1], np.array([1]))[0])
    with pytest.raises(ValueError, match="one weight per cell"):
        acceleration(values, np.array([1, 2]))
