from __future__ import annotations

import json
import math

import numpy as np
import pytest
from mlops_core.stats import bootstrap, joint
from mlops_core.stats.bootstrap import StatisticalTest, paired_bootstrap_f1, paired_bootstrap_f1_rows
from sklearn.metrics import f1_score

Z_975 = 1.959963984540054


def noisy(y: np.ndarray, accuracy: float, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Predictions that copy y with probability `accuracy` and are uniformly random otherwise."""
    return np.where(rng.random(len(y)) < accuracy, y, labels[rng.integers(0, len(labels), len(y))])


def dataset(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(sum(name.encode()))  # a fixed dataset per name
    if name == "three_int_classes":
        labels = np.arange(3)
        y = rng.integers(0, 3, 300)
        return y, noisy(y, 0.70, labels, rng), noisy(y, 0.76, labels, rng)
    if name == "five_string_classes_imbalanced":
        labels = np.array(["Adelie", "Chinstrap", "Gentoo", "Macaroni", "Rockhopper"])
        y = rng.choice(labels, 250, p=[0.4, 0.3, 0.2, 0.07, 0.03])
        return y, noisy(y, 0.65, labels, rng), noisy(y, 0.70, labels, rng)
    if name == "rare_labels":
        # Labels that many resamples lose, where scikit-learn's rule (macro average over the labels present
        # in that resample's y_true ∪ y_pred, separately for A and B) matters: label 3 occurs once, only in
        # A's predictions; label 4 occurs twice in y_true and B gets one of those rows right.
        labels = np.arange(3)
        y = np.concatenate([rng.integers(0, 3, 148), [4, 4]])
        a = noisy(y, 0.8, labels, rng)
        b = noisy(y, 0.8, labels, rng)
        a[0], b[-1] = 3, 4
        return y, a, b
    raise KeyError(name)


DATASETS = ["three_int_classes", "five_string_classes_imbalanced", "rare_labels"]


def sklearn_delta(y, a, b) -> float:
    return f1_score(y, b, average="macro", zero_division=0) - f1_score(y, a, average="macro", zero_division=0)


@pytest.mark.parametrize(("name", "seed"), [(n, 1) for n in DATASETS] + [("rare_labels", 2)])
def test_multinomial_agrees_with_row_resampling(name, seed):
    y, a, b = dataset(name)
    fast = paired_bootstrap_f1(y, a, b, n_resamples=4000, seed=seed)
    slow = paired_bootstrap_f1_rows(y, a, b, n_resamples=1000, seed=seed + 100)
    # Both estimate the same bootstrap distribution; they differ only by Monte-Carlo error.
    sd = (fast.ci_high - fast.ci_low) / (2 * Z_975)  # normal approximation of the deltas' spread
    assert sd > 0
    spread = math.sqrt(1 / fast.n_resamples + 1 / slow.n_resamples)
    # SE of a mean: sd/√B; of the 2.5% or 97.5% quantile: √(q(1−q))/φ(z_q) · sd/√B ≈ 2.67 sd/√B.
    mean_tolerance = 4 * sd * spread
    quantile_tolerance = 4 * 2.67 * sd * spread
    assert fast.observed_delta == slow.observed_delta
    assert fast.mean_delta == pytest.approx(slow.mean_delta, abs=mean_tolerance)
    assert fast.ci_low == pytest.approx(slow.ci_low, abs=quantile_tolerance)
    assert fast.ci_high == pytest.approx(slow.ci_high, abs=quantile_tolerance)


@pytest.mark.parametrize("name", DATASETS)
def test_observed_delta_is_sklearns_f1_difference(name):
    y, a, b = dataset(name)
    result = paired_bootstrap_f1(y, a, b, n_resamples=10)
    assert result.observed_delta == sklearn_delta(y, a, b)


def test_observed_delta_with_many_string_classes():
    rng = np.random.default_rng(7)
    labels = np.array([f"class_{i:02d}" for i in range(15)])
    y = rng.choice(labels, 400)
    a, b = noisy(y, 0.5, labels, rng), noisy(y, 0.6, labels, rng)
    assert paired_bootstrap_f1(y, a, b, n_resamples=10).observed_delta == sklearn_delta(y, a, b)


def test_same_seed_same_result_and_other_seed_other_draws():
    y, a, b = dataset("three_int_classes")
    first = paired_bootstrap_f1(y, a, b, n_resamples=500, seed=3)
    again = paired_bootstrap_f1(y, a, b, n_resamples=500, seed=3)
    other = paired_bootstrap_f1(y, a, b, n_resamples=500, seed=4)
    assert first == again
    assert first.to_dict() == again.to_dict()
    assert other.mean_delta != first.mean_delta
    assert other.observed_delta == first.observed_delta


def test_chunking_does_not_change_the_draws(monkeypatch):
    y, a, b = dataset("five_string_classes_imbalanced")
    whole = paired_bootstrap_f1(y, a, b, n_resamples=700, seed=5)
    monkeypatch.setattr(bootstrap, "_CHUNK_BYTES", 8 * 1000)  # a few resamples per chunk
    assert paired_bootstrap_f1(y, a, b, n_resamples=700, seed=5) == whole


def test_sorted_cell_counting_for_many_classes_equals_dense_counting(monkeypatch):
    rng = np.random.default_rng(11)
    labels = np.arange(40)
    y = rng.integers(0, 40, 600)
    a, b = noisy(y, 0.5, labels, rng), noisy(y, 0.6, labels, rng)
    dense = paired_bootstrap_f1(y, a, b, n_resamples=300)
    monkeypatch.setattr(joint, "_DENSE_CELLS_MIN", 0)
    monkeypatch.setattr(joint, "_DENSE_CELLS_PER_ROW", 0)
    assert paired_bootstrap_f1(y, a, b, n_resamples=300) == dense


def test_clearly_better_staging_is_significant():
    rng = np.random.default_rng(21)
    labels = np.array(["a", "b", "c"])
    y = rng.choice(labels, 400)
    result = paired_bootstrap_f1(y, noisy(y, 0.6, labels, rng), noisy(y, 0.9, labels, rng), n_resamples=999)
    assert result.significant
    assert result.ci_low > 0.05
    assert result.p_value == 1 / 1000  # no resample at or below zero: only the +1 remains


def test_identical_predictions_are_not_significant():
    y, a, _ = dataset("three_int_classes")
    result = paired_bootstrap_f1(y, a, a.copy(), n_resamples=500)
    assert not result.significant
    assert result.observed_delta == result.mean_delta == result.ci_low == result.ci_high == 0.0
    assert result.p_value == 1.0
    assert result.histogram["counts"] == [0] * 15 + [500] + [0] * 14


def test_worse_staging_is_not_significant():
    rng = np.random.default_rng(22)
    labels = np.arange(3)
    y = rng.integers(0, 3, 400)
    result = paired_bootstrap_f1(y, noisy(y, 0.9, labels, rng), noisy(y, 0.6, labels, rng), n_resamples=500)
    assert not result.significant
    assert result.ci_high < 0
    assert result.p_value == 1.0


def test_significance_needs_both_p_below_alpha_and_interval_above_zero():
    rng = np.random.default_rng(23)
    labels = np.arange(3)
    y = rng.integers(0, 3, 400)
    a, better = noisy(y, 0.6, labels, rng), noisy(y, 0.9, labels, rng)
    # One resample: the interval lies above zero, but p = 1/2 can never fall below alpha.
    lone = paired_bootstrap_f1(y, a, better, n_resamples=1)
    assert lone.ci_low > 0
    assert lone.p_value == 0.5
    assert not lone.significant
    # A tiny, noisy gain: p is below a lax alpha, but the interval straddles zero.
    slightly = noisy(y, 0.62, labels, np.random.default_rng(24))
    lax = paired_bootstrap_f1(y, noisy(y, 0.6, labels, np.random.default_rng(25)), slightly, alpha=0.9)
    assert lax.p_value < 0.9
    assert lax.ci_low < 0
    assert not lax.significant


def test_confidence_sets_the_interval_width():
    y, a, b = dataset("three_int_classes")
    narrow = paired_bootstrap_f1(y, a, b, confidence=0.5)
    wide = paired_bootstrap_f1(y, a, b, confidence=0.99)
    assert wide.ci_low < narrow.ci_low < narrow.mean_delta < narrow.ci_high < wide.ci_high
    assert (narrow.confidence, wide.confidence) == (0.5, 0.99)


def test_result_matches_the_contract_and_serializes():
    y, a, b = dataset("five_string_classes_imbalanced")
    result = paired_bootstrap_f1(y, a, b, n_resamples=321, seed=9, alpha=0.1)
    data = result.to_dict()
    assert set(data) == set(StatisticalTest.__annotations__)
    assert json.loads(json.dumps(data)) == data
    assert (data["metric"], data["n"], data["n_resamples"], data["seed"], data["alpha"]) == (
        "f1_macro",
        250,
        321,
        9,
        0.1,
    )
    edges, counts = data["histogram"]["edges"], data["histogram"]["counts"]
    assert len(edges) == 31 and len(counts) == 30
    assert sum(counts) == 321
    assert edges[0] <= data["ci_low"] <= data["mean_delta"] <= data["ci_high"] <= edges[-1]
    assert 1 / 322 <= data["p_value"] <= 1


def test_a_single_row_and_a_single_class():
    result = paired_bootstrap_f1(["x"], ["x"], ["y"], n_resamples=20)
    assert result.observed_delta == -1.0
    assert result.ci_low == result.ci_high == -1.0
    assert not result.significant


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        (([0, 1], [0, 1], [0]), {}, r"equal lengths, got y_true=2, pred_a=2, pred_b=1"),
        (([], [], []), {}, "empty"),
        (([0], [0], ["0"]), {}, "mix strings and integers"),
        (([0.5], [0], [0]), {}, "y_true holds non-integral"),
        (([0], [0], [0]), {"n_resamples": 0}, "n_resamples must be an integer ≥ 1"),
        (([0], [0], [0]), {"n_resamples": 10.0}, "n_resamples must be an integer ≥ 1"),
        (([0], [0], [0]), {"n_resamples": True}, "n_resamples must be an integer ≥ 1"),
        (([0], [0], [0]), {"seed": -1}, "seed must be a non-negative integer"),
        (([0], [0], [0]), {"seed": "42"}, "seed must be a non-negative integer"),
        (([0], [0], [0]), {"alpha": 0}, "alpha must be a number strictly between 0 and 1"),
        (([0], [0], [0]), {"alpha": 1}, "alpha must be a number strictly between 0 and 1"),
        (([0], [0], [0]), {"alpha": float("nan")}, "alpha must be a number strictly between 0 and 1"),
        (([0], [0], [0]), {"alpha": "0.05"}, "alpha must be a number strictly between 0 and 1"),
        (([0], [0], [0]), {"confidence": 1.5}, "confidence must be a number strictly between 0 and 1"),
    ],
)
@pytest.mark.parametrize("function", [paired_bootstrap_f1, paired_bootstrap_f1_rows])
def test_bad_input_is_rejected_clearly(function, args, options, message):
    with pytest.raises(ValueError, match=message):
        function(*args, **options)
