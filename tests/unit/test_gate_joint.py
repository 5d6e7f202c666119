from __future__ import annotations

import numpy as np
import pytest
from mlops_core.stats import (
    bootstrap_statistics,
    jackknife_statistics,
    joint_counts,
    observed_statistics,
    paired_bootstrap_f1,
)
from mlops_core.stats.joint import JointCounts
from sklearn.metrics import confusion_matrix, f1_score


def rows(seed: int, n: int, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.choice(labels, n)
    a = np.where(rng.random(n) < 0.7, y, rng.choice(labels, n))
    b = np.where(rng.random(n) < 0.8, y, rng.choice(labels, n))
    return y, a, b


def sklearn_statistics(y, a, b, labels) -> np.ndarray:
    macro = f1_score(y, b, average="macro", zero_division=0) - f1_score(y, a, average="macro", zero_division=0)
    per_class = f1_score(y, b, labels=labels, average=None, zero_division=0) - f1_score(
        y, a, labels=labels, average=None, zero_division=0
    )
    return np.concatenate([[macro], per_class])


def test_counts_hold_every_row_once_and_the_confusion_matrices():
    y, a, b = rows(1, 500, np.array(["x", "y", "z"]))
    joint = joint_counts(y, a, b)
    assert isinstance(joint, JointCounts)
    assert joint.n == 500 and joint.k == 3 and joint.labels.tolist() == ["x", "y", "z"]
    assert joint.n_cells <= 27 and joint.counts.min() > 0
    assert joint.n_disagreements == int(np.count_nonzero(a != b))
    np.testing.assert_array_equal(joint.confusion("a"), confusion_matrix(y, a, labels=["x", "y", "z"]))
    np.testing.assert_array_equal(joint.confusion("b"), confusion_matrix(y, b, labels=["x", "y", "z"]))
    with pytest.raises(ValueError, match="model must be 'a' or 'b'"):
        joint.confusion("c")


@pytest.mark.parametrize(
    "labels", [np.arange(3), np.array(["setosa", "versicolor", "virginica"]), np.array([-4, 7, 1000, 12])]
)
def test_observed_statistics_equal_sklearn(labels):
    y, a, b = rows(2, 300, labels)
    joint = joint_counts(y, a, b)
    np.testing.assert_allclose(
        observed_statistics(joint), sklearn_statistics(y, a, b, joint.labels), rtol=0, atol=1e-15
    )


def test_jackknife_equals_leaving_each_row_out():
    # Labels 3 (only predicted by A) and the rare true class make the present-label set change when a row goes.
    y, a, b = rows(3, 80, np.arange(3))
    a[0], y[1], b[1] = 3, 4, 4
    joint = joint_counts(y, a, b)
    values = jackknife_statistics(joint)
    cell = {key: i for i, key in enumerate(zip(joint.cell_true, joint.cell_a, joint.cell_b, strict=True))}
    index = {label: i for i, label in enumerate(joint.labels.tolist())}
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        expected = sklearn_statistics(y[keep], a[keep], b[keep], joint.labels)
        got = values[cell[(index[y[i]], index[a[i]], index[b[i]])]]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
    assert values.shape == (joint.n_cells, 1 + joint.k)


def test_jackknife_of_a_single_row_has_no_macro_f1():
    values = jackknife_statistics(joint_counts([1], [1], [2]))
    assert np.isnan(values[0, 0])  # the leave-one-out sample is empty: no class is present
    assert values[0, 1:].tolist() == [0.0, 0.0]


def test_bootstrap_statistics_draw_the_resamples_of_paired_bootstrap_f1():
    y, a, b = rows(4, 400, np.arange(4))
    draws = bootstrap_statistics(joint_counts(y, a, b), n_resamples=2000, seed=9)
    reference = paired_bootstrap_f1(y, a, b, n_resamples=2000, seed=9)
    assert draws.shape == (2000, 5)
    assert draws[:, 0].mean() == pytest.approx(reference.mean_delta, abs=1e-12)
    low, high = np.quantile(np.where(np.abs(draws[:, 0]) < 1e-12, 0.0, draws[:, 0]), [0.025, 0.975])
    assert (low, high) == (reference.ci_low, reference.ci_high)


def test_bootstrap_statistics_reject_bad_options():
    joint = joint_counts([0, 1], [0, 1], [1, 1])
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_statistics(joint, n_resamples=0, seed=1)
    with pytest.raises(ValueError, match="seed"):
        bootstrap_statistics(joint, n_resamples=10, seed=-1)
