from __future__ import annotations

import numpy as np
import pytest
from mlops_core.contracts import Metrics
from mlops_core.stats import classification_metrics, confusion_counts, encode_labels, metrics_from_confusion
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support


def sklearn_metrics(y_true, y_pred) -> dict[str, float]:
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "precision_macro": precision,
        "recall_macro": recall,
        "f1_macro": f1,
    }


def assert_equal_to_sklearn(y_true, y_pred) -> None:
    ours = classification_metrics(y_true, y_pred)
    theirs = sklearn_metrics(y_true, y_pred)
    assert set(ours) == set(Metrics.__annotations__)
    for name, value in theirs.items():
        # Same formulas in the same order: equal to the last bit, not merely close.
        assert ours[name] == value, (name, ours[name], value)
        assert type(ours[name]) is float


@pytest.mark.parametrize("seed", range(12))
def test_random_int_labels_equal_sklearn(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    k = int(rng.integers(2, 12))
    y_true = rng.integers(0, k, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, n))
    assert_equal_to_sklearn(y_true, y_pred)


@pytest.mark.parametrize("seed", range(6))
def test_random_string_labels_equal_sklearn(seed):
    rng = np.random.default_rng(100 + seed)
    names = np.array(["Adelie", "Chinstrap", "Gentoo", "setosa", "virginica"])
    y_true = names[rng.integers(0, 5, 200)]
    y_pred = names[rng.integers(0, 5, 200)]
    assert_equal_to_sklearn(y_true, y_pred)
    assert_equal_to_sklearn(list(y_true), list(y_pred))  # plain lists and object arrays too
    assert_equal_to_sklearn(y_true.astype(object), y_pred.astype(object))


@pytest.mark.parametrize("n_labels", [1, 16, 17, 40])
def test_many_string_labels_equal_sklearn(n_labels):
    # Up to 16 distinct strings are encoded by scanning, more by sorting: both must match.
    rng = np.random.default_rng(n_labels)
    names = np.array([f"class {i:02d}" for i in range(n_labels)])
    y_true = rng.choice(names, 500)
    y_pred = np.where(rng.random(500) < 0.5, y_true, rng.choice(names, 500))
    assert_equal_to_sklearn(y_true, y_pred)
    labels, (codes,) = encode_labels(y_true)
    assert labels.tolist() == sorted(set(y_true.tolist()))
    assert (labels[codes] == y_true).all()


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [
        ([1, 1, 1], [1, 1, 1]),  # one class, all right
        ([0, 0, 0], [1, 1, 1]),  # all wrong: predicted label absent from y_true
        ([0, 1, 2, 2], [0, 0, 0, 0]),  # classes never predicted
        ([0, 0, 0, 0], [0, 1, 2, 3]),  # classes only predicted
        (["a"], ["b"]),  # a single row
        ([0, 5, 1000], [5, 5, 1000]),  # sparse integer labels
        ([-3, 2, 2], [-3, -3, 2]),  # negative labels
        ([0, 3_000_000, 7], [3_000_000, 0, 7]),  # range too wide for the lookup table
        ([True, False, True], [True, True, True]),  # booleans
        ([1.0, 2.0, 2.0], [2.0, 2.0, 1.0]),  # integral floats
    ],
)
def test_edge_cases_equal_sklearn(y_true, y_pred):
    assert_equal_to_sklearn(y_true, y_pred)


def test_values_by_hand():
    # class 0: tp 1, true 2, pred 1 → P 1, R 1/2, F1 2/3; class 1: tp 1, true 2, pred 2 → P 1/2, R 1/2, F1 1/2;
    # class 2 only predicted: P 0, R 0 (zero division), F1 0, and still averaged in (present in y_pred).
    metrics = classification_metrics([0, 0, 1, 1], [0, 1, 1, 2])
    assert metrics["accuracy"] == pytest.approx(2 / 4)
    assert metrics["precision_macro"] == pytest.approx((1 + 1 / 2 + 0) / 3)
    assert metrics["recall_macro"] == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)
    assert metrics["f1_macro"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)


def test_confusion_counts_follow_given_label_order():
    matrix = confusion_counts(["b", "a", "a", "c"], ["a", "a", "c", "c"], labels=["c", "a", "b"])
    expected = confusion_matrix(["b", "a", "a", "c"], ["a", "a", "c", "c"], labels=["c", "a", "b"])
    assert matrix.dtype == np.int64
    np.testing.assert_array_equal(matrix, expected)


def test_confusion_counts_keep_absent_labels_and_accept_empty_input():
    matrix = confusion_counts([0, 1], [1, 1], labels=[0, 1, 2])
    np.testing.assert_array_equal(matrix, [[0, 1, 0], [0, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(confusion_counts([], [], labels=["x", "y"]), np.zeros((2, 2)))


@pytest.mark.parametrize(
    ("y_true", "y_pred", "labels", "message"),
    [
        ([0, 3], [0, 0], [0, 1], r"y_true holds labels not in labels: \['3'\]"),
        (["a"], ["z"], ["a", "b"], r"y_pred holds labels not in labels: \['z'\]"),
        ([0, 1], [0], [0, 1], "equal lengths"),
        ([0], [0], [], "labels is empty"),
        ([0], [0], [0, 0], "duplicates"),
        (["0"], ["0"], [0, 1], "mix strings and integers"),
        ([0, "a"], [0, 0], [0, "a"], "labels holds values of types int, str"),
    ],
)
def test_confusion_counts_errors(y_true, y_pred, labels, message):
    with pytest.raises(ValueError, match=message):
        confusion_counts(y_true, y_pred, labels)


@pytest.mark.parametrize("seed", range(5))
def test_metrics_from_aggregated_counts_equal_metrics_from_rows(seed):
    # The A/B statistics add confusion counts batch by batch; the sum must score like the rows themselves.
    rng = np.random.default_rng(seed)
    labels = ["x", "y", "z", "w"]
    batches = [(rng.choice(labels, 50), rng.choice(labels, 50)) for _ in range(4)]
    total = sum(confusion_counts(t, p, labels) for t, p in batches)
    y_true = np.concatenate([t for t, _ in batches])
    y_pred = np.concatenate([p for _, p in batches])
    # The label order differs (given vs sorted), so the macro means add the same terms in another order.
    from_rows = classification_metrics(y_true, y_pred)
    assert metrics_from_confusion(total) == pytest.approx(from_rows, rel=1e-12)
    # Counts stored as floats (JSON, DynamoDB numbers) score the same.
    assert metrics_from_confusion(total.astype(float)) == metrics_from_confusion(total)


def test_metrics_from_confusion_ignores_labels_never_seen():
    with_unused = np.array([[3, 1, 0], [2, 4, 0], [0, 0, 0]])
    assert metrics_from_confusion(with_unused) == metrics_from_confusion(with_unused[:2, :2])


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (np.zeros((2, 2), dtype=int), "empty"),
        (np.zeros((0, 0)), "square"),
        (np.ones((2, 3)), "square"),
        (np.ones(4), "square"),
        (np.array([[1, -1], [0, 2]]), "non-negative"),
        (np.array([[1.0, np.nan], [0, 2]]), "finite"),
        (np.array([[1.0, np.inf], [0, 2]]), "finite"),
        (np.array([["1", "2"], ["3", "4"]]), "numeric"),
        (np.array([[True, False], [False, True]]), "numeric"),
    ],
)
def test_metrics_from_confusion_errors(matrix, message):
    with pytest.raises(ValueError, match=message):
        metrics_from_confusion(matrix)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        ([], [], "empty"),
        ([0, 1], [0], r"equal lengths, got y_true=2, y_pred=1"),
        ([0, 1], ["0", "1"], r"mix strings and integers \(y_true: integers, y_pred: strings\)"),
        ([0, "a"], [0, 0], "y_true holds values of types int, str: labels must be all ints or all strings"),
        (["a", None], ["a", "a"], "y_true holds values of types NoneType, str"),
        ([1 + 2j], [1], "y_true holds values of types complex"),
        ([0.5, 1.0], [1, 1], "y_true holds non-integral or missing float values"),
        ([0, 1], [np.nan, 1.0], "y_pred holds non-integral or missing float values"),
        (np.array([0.0, 1.0]), np.array([np.inf, 1.0]), "y_pred holds non-integral or missing float values"),
        (np.array(["a", "b"]), np.array([0, 1]), "mix strings and integers"),
        ([[0, 1]], [[0, 1]], "one-dimensional"),
        (np.array([1 + 2j]), np.array([1 + 2j]), "y_true has unsupported dtype complex128"),
    ],
)
def test_classification_metrics_errors(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        classification_metrics(y_true, y_pred)


def test_encode_labels_gives_sorted_union_and_codes():
    labels, (a, b) = encode_labels(["b", "c"], ["a", "c"])
    assert labels.tolist() == ["a", "b", "c"]
    assert a.tolist() == [1, 2]
    assert b.tolist() == [0, 2]
    labels, (a,) = encode_labels([10, -5, 10])
    assert labels.tolist() == [-5, 10]
    assert a.tolist() == [1, 0, 1]
