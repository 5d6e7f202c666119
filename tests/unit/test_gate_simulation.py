"""Seeded simulation of the offline gate: false promotions under the null, power under a real gain.

Predictions are simulated directly as arrays: 3 balanced classes, Production right 85% of the time, the
candidate right with its own accuracy, independently, errors spread over the other classes (so per-class F1
equals accuracy in expectation, and ΔF1-macro ≈ the accuracy gap). Sizes: 45 (iris's held-out part), 300 and
2,000 rows. Every decision runs the real `offline_decision` at α = 0.05, with 999 resamples requested instead
of the default 9,999 to keep the whole file to a few seconds (the gate raises them to 1,199 so that Holm's
first class step at 0.05/3 rests on 20 resamples); the sign-flip tests that decide below 100 disagreeing rows
are exact or Monte-Carlo with those resamples.

Under the null the false-promotion rate must not be detectably above α: the lower end of its 95% Wilson
interval is at most α. The stricter reading, the upper end at most α, allows at most 15 promotions in 500
(3.0%): a test of exact size α, which this gate aims to be, passes it about 2% of the time, and more seeds
only make that rarer; only a test well below its stated level would pass it.

Measured with this file's simulation over seeds 0–4,999 (not run here): promotions under the null 5.3% at
45 rows (exact sign flip; the test alone rejects 4.65% of seeds 5,000–24,999, and `test_gate_sign_flip`
checks its size given the disagreeing rows), 5.0% at 300 (Monte-Carlo sign flip), 5.0% at 2,000 (BCa);
power at +0.03: 11% at 45 rows, 29% at 300, 88% at 2,000.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import cache

import numpy as np
import pytest
from mlops_core.decision import INSUFFICIENT_DATA, offline_decision
from mlops_core.policy import SIGNIFICANT_IMPROVEMENT

ALPHA = 0.05
SEEDS = 500
RESAMPLES = 999
K = 3
ACCURACY_PRODUCTION = 0.85
ACCURACY_GAIN = 0.88  # ΔF1-macro ≈ +0.03


def wilson(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return centre - half, centre + half


def simulate(seed: int, n: int, accuracy_candidate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)

    def predict(accuracy: float) -> np.ndarray:
        return np.where(rng.random(n) < accuracy, y, (y + rng.integers(1, K, n)) % K)

    return y, predict(ACCURACY_PRODUCTION), predict(accuracy_candidate)


@cache
def verdicts(n: int, accuracy_candidate: float) -> Counter:
    counts: Counter = Counter()
    for seed in range(SEEDS):
        decision = offline_decision(
            *simulate(seed, n, accuracy_candidate), alpha=ALPHA, n_resamples=RESAMPLES, seed=seed
        )
        counts[decision.verdict] += 1
        counts[f"test {decision.test}"] += 1
    return counts


@pytest.mark.parametrize("n", [45, 300, 2000])
def test_false_promotions_under_the_null_are_not_above_alpha(n):
    counts = verdicts(n, ACCURACY_PRODUCTION)
    promoted = counts[SIGNIFICANT_IMPROVEMENT]
    low, high = wilson(promoted, SEEDS)
    print(f"\nnull, n={n}: {promoted}/{SEEDS} promoted = {promoted / SEEDS:.3f}, Wilson 95% [{low:.3f}, {high:.3f}]")
    print(f"  verdicts {dict(counts)}")
    assert low <= ALPHA


def test_at_45_rows_the_verdict_is_mostly_insufficient_data():
    counts = verdicts(45, ACCURACY_PRODUCTION)
    assert counts[INSUFFICIENT_DATA] > SEEDS / 2
    assert counts["test exact_sign_flip"] == SEEDS  # at 45 rows few rows disagree: always the exact test


def test_power_at_2000_rows_for_a_gain_of_three_points():
    counts = verdicts(2000, ACCURACY_GAIN)
    promoted = counts[SIGNIFICANT_IMPROVEMENT]
    low, high = wilson(promoted, SEEDS)
    print(f"\n+0.03, n=2000: power {promoted / SEEDS:.3f}, Wilson 95% [{low:.3f}, {high:.3f}]; {dict(counts)}")
    assert low >= 0.70


def test_the_simulated_gain_is_three_points_of_f1():
    from mlops_core.stats import classification_metrics

    y, a, b = simulate(12345, 300_000, ACCURACY_GAIN)
    gain = classification_metrics(y, b)["f1_macro"] - classification_metrics(y, a)["f1_macro"]
    assert gain == pytest.approx(0.03, abs=0.003)


def test_as_the_pipeline_runs_it_false_promotions_have_a_wilson_upper_bound_below_alpha():
    """The pipeline's first test runs at LORD++'s α₁ = α/2 · γ₁ = 0.0125 (decision.ledger), so its size is well
    below α and the strict reading holds: the upper end of the 95% Wilson interval is at most α."""
    from mlops_core.decision import lord_plus_plus, telescoping_gamma

    level = lord_plus_plus([], alpha=ALPHA, gamma=telescoping_gamma)
    promoted = 0
    for seed in range(SEEDS):
        y, a, b = simulate(seed, 300, ACCURACY_PRODUCTION)
        decision = offline_decision(y, a, b, alpha=ALPHA, alpha_t=level, n_resamples=RESAMPLES, seed=seed)
        promoted += decision.verdict == SIGNIFICANT_IMPROVEMENT
    low, high = wilson(promoted, SEEDS)
    print(f"\nnull, n=300, α_t={level:.4f}: {promoted}/{SEEDS} promoted, Wilson 95% [{low:.4f}, {high:.4f}]")
    assert high <= ALPHA


@pytest.mark.slow  # about 20 s: late levels are small, and the bootstrap's resamples grow as 20 / α_t
def test_over_a_stream_of_daily_tests_the_chance_of_any_false_promotion_stays_below_alpha():
    """Streams of 4 tests under the global null (no candidate is better), each at the level LORD++ gives it
    after the earlier outcomes: the share of streams with at least one promotion must have its Wilson upper
    bound at most α (the rule bounds it by W₀ = α/2)."""
    from mlops_core.decision import lord_plus_plus, telescoping_gamma

    any_promotion = 0
    for stream in range(SEEDS):
        history: list[dict] = []
        for day in range(4):
            seed = 100_000 + stream * 10 + day
            level = lord_plus_plus(history, alpha=ALPHA, gamma=telescoping_gamma)
            decision = offline_decision(
                *simulate(seed, 45, ACCURACY_PRODUCTION), alpha=ALPHA, alpha_t=level, n_resamples=RESAMPLES, seed=seed
            )
            history.append({"alpha_t": level, "rejected": decision.rejected})
        any_promotion += any(entry["rejected"] for entry in history)
    low, high = wilson(any_promotion, SEEDS)
    print(f"\nstreams of 4 null tests: {any_promotion}/{SEEDS} with a promotion, Wilson 95% [{low:.4f}, {high:.4f}]")
    assert high <= ALPHA
