from __future__ import annotations

import itertools

import numpy as np
import pytest
from mlops_core.stats import joint_counts, sign_flip_test
from mlops_core.stats.sign_flip import EXACT, MONTE_CARLO, n_outcomes
from sklearn.metrics import f1_score


def delta(y, a, b) -> float:
    return f1_score(y, b, average="macro", zero_division=0) - f1_score(y, a, average="macro", zero_division=0)


def brute_force_p(y, a, b) -> float:
    """Swap A and B on every subset of the disagreeing rows; the share of swaps scoring at least the observed."""
    rows = np.flatnonzero(a != b)
    observed = delta(y, a, b)
    hits = 0
    for bits in itertools.product([False, True], repeat=len(rows)):
        swapped = rows[np.array(bits, dtype=bool)]
        aa, bb = a.copy(), b.copy()
        aa[swapped], bb[swapped] = b[swapped], a[swapped]
        hits += delta(y, aa, bb) >= observed - 1e-12
    return hits / 2 ** len(rows)


def few_disagreements(seed: int, labels: np.ndarray, n: int = 40, disagreements: int = 9):
    rng = np.random.default_rng(seed)
    y = rng.choice(labels, n)
    a = np.where(rng.random(n) < 0.7, y, rng.choice(labels, n))
    b = a.copy()
    rows = rng.choice(n, disagreements, replace=False)
    b[rows] = np.where(rng.random(disagreements) < 0.6, y[rows], rng.choice(labels, disagreements))
    return y, a, b


@pytest.mark.parametrize(
    ("seed", "labels"),
    [
        (0, np.arange(3)),
        (1, np.arange(3)),
        (2, np.array(["Adelie", "Chinstrap", "Gentoo", "Macaroni"])),
        (3, np.arange(2)),
    ],
)
def test_exact_p_value_equals_enumerating_every_swap(seed, labels):
    y, a, b = few_disagreements(seed, labels)
    result = sign_flip_test(joint_counts(y, a, b))
    assert result.test == EXACT
    assert result.n_disagreements == int(np.count_nonzero(a != b))
    assert result.p_value == pytest.approx(brute_force_p(y, a, b), abs=1e-12)
    assert result.observed_delta == pytest.approx(delta(y, a, b), abs=1e-15)
    assert result.reason.startswith(f"{EXACT}: {result.n_disagreements} disagreeing rows")


def test_monte_carlo_agrees_with_the_exact_p_value_and_is_seeded():
    y, a, b = few_disagreements(4, np.arange(3), n=200, disagreements=24)
    joint = joint_counts(y, a, b)
    exact = sign_flip_test(joint)
    drawn = sign_flip_test(joint, n_resamples=20_000, seed=7, max_exact_outcomes=1)
    assert drawn.test == MONTE_CARLO and drawn.n_resamples == 20_000
    assert (
        drawn.reason.startswith(f"{MONTE_CARLO}: {exact.n_disagreements} disagreeing rows") and "seed 7" in drawn.reason
    )
    se = np.sqrt(exact.p_value * (1 - exact.p_value) / 20_000)
    assert drawn.p_value == pytest.approx(exact.p_value, abs=4 * se + 1 / 20_001)
    assert sign_flip_test(joint, n_resamples=500, seed=7, max_exact_outcomes=1) == sign_flip_test(
        joint, n_resamples=500, seed=7, max_exact_outcomes=1
    )


def test_twenty_disagreeing_rows_are_always_enumerated():
    # Twenty rows in twenty different mirrored cell pairs: 2^20 outcomes, the most twenty rows can have.
    k = 4
    pairs = [(t, low, high) for t in range(k) for low in range(k) for high in range(low + 1, k)][:20]
    y = np.array([t for t, _, _ in pairs] + [0] * 30)
    a = np.array([low for _, low, _ in pairs] + [0] * 30)
    b = np.array([high for _, _, high in pairs] + [0] * 30)
    result = sign_flip_test(joint_counts(y, a, b))
    assert result.test == EXACT and result.n_outcomes == 2**20


def test_no_disagreement_gives_p_one():
    result = sign_flip_test(joint_counts(["a", "b", "a"], ["a", "a", "b"], ["a", "a", "b"]))
    assert (result.test, result.p_value, result.n_disagreements, result.n_outcomes) == (EXACT, 1.0, 0, 1)


def test_a_single_disagreeing_row_can_do_no_better_than_one_half():
    result = sign_flip_test(joint_counts([1], [0], [1]))
    assert result.p_value == 0.5 and result.observed_delta == 1.0


def test_a_clearly_better_candidate_is_significant_and_a_worse_one_is_not():
    y = np.arange(60) % 3
    a = y.copy()
    a[:12] = (y[:12] + 1) % 3  # A wrong on 12 rows where B is right
    exact = sign_flip_test(joint_counts(y, a, y))
    assert exact.p_value == 2.0**-12  # only the observed orientation of all 12 rows scores as high
    assert sign_flip_test(joint_counts(y, y, a)).p_value == 1.0


def test_n_outcomes_stops_counting_past_the_cap():
    assert n_outcomes(np.array([1, 2, 3]), cap=100) == 24
    assert n_outcomes(np.array([1000, 1000]), cap=100) == 101


def test_bad_options_are_rejected():
    joint = joint_counts([0, 1], [0, 1], [1, 1])
    with pytest.raises(ValueError, match="≥ 1"):
        sign_flip_test(joint, n_resamples=0)
    with pytest.raises(ValueError, match="seed"):
        sign_flip_test(joint, seed=-1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_test_is_exact_given_the_disagreeing_rows(seed):
    # Under H0 every orientation of the disagreeing rows is equally likely; the share of them that the test
    # rejects at α is its size given those rows, and it must not exceed α whatever the rows are.
    y, a, _ = few_disagreements(seed, np.arange(3), n=45)
    rng = np.random.default_rng(seed)
    rows = rng.choice(45, 9, replace=False)
    b = a.copy()
    b[rows] = (a[rows] + rng.integers(1, 3, 9)) % 3
    for alpha in (0.05, 0.2):
        rejected = 0
        for bits in itertools.product([False, True], repeat=len(rows)):
            swapped = rows[np.array(bits, dtype=bool)]
            aa, bb = a.copy(), b.copy()
            aa[swapped], bb[swapped] = b[swapped], a[swapped]
            rejected += sign_flip_test(joint_counts(y, aa, bb)).p_value <= alpha
        assert rejected / 2 ** len(rows) <= alpha
