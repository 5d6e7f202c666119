"""Classification metrics equal to scikit-learn's, computed with numpy over a confusion matrix.

Equal means: accuracy, then precision, recall and F1 macro-averaged over the labels present in
y_true ∪ y_pred with zero_division=0, which is what `sklearn.metrics.*_score(average="macro",
zero_division=0)` returns. Counting first and scoring the counts lets the A/B statistics score confusion
counts aggregated elsewhere, and lets the bootstrap score thousands of resamples at once.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from mlops_core.contracts import Metrics

# Integer labels spanning at most this many values are encoded with a lookup table (O(n)) instead of a sort.
_MAX_DENSE_LABEL_RANGE = 1 << 20
# String labels are encoded by one vectorized comparison per distinct label (O(n·K)) up to this many labels,
# then by a sort: sorting millions of strings costs seconds, a classifier's handful of classes milliseconds.
_MAX_SCANNED_STRING_LABELS = 16


def _as_labels(values: Any, name: str) -> np.ndarray:
    """One-dimensional array of int64 or str labels; anything else (floats with fractions, NaN, None,
    strings mixed with numbers) is rejected, as scikit-learn rejects it, but with the culprit named."""
    # Sequences go through object dtype: np.asarray([0, "a"]) would silently turn 0 into "0".
    arr = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if len(arr) == 0:
        return np.empty(0, dtype=np.int64)
    kind = arr.dtype.kind
    if kind == "O":
        items = arr.tolist()
        if all(isinstance(v, str) for v in items):
            return arr.astype(str)
        if all(isinstance(v, numbers.Integral) for v in items):
            return arr.astype(np.int64)
        if all(isinstance(v, numbers.Real) for v in items):
            arr, kind = arr.astype(np.float64), "f"
        else:
            found = ", ".join(sorted({type(v).__name__ for v in items}))
            raise ValueError(f"{name} holds values of types {found}: labels must be all ints or all strings")
    if kind in "iub":
        return arr.astype(np.int64, copy=False)
    if kind == "U":
        return arr
    if kind == "S":
        return arr.astype(str)
    if kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} holds non-integral or missing float values: labels must be ints or strings")
        return arr.astype(np.int64)
    raise ValueError(f"{name} has unsupported dtype {arr.dtype}: labels must be ints or strings")


def _same_kind(arrays: Sequence[np.ndarray], names: Sequence[str]) -> None:
    # numpy would silently turn 1 into "1" when concatenating ints with strings; scikit-learn refuses the mix.
    # Empty arrays hold no labels, so they fit either kind.
    filled = [(a, n) for a, n in zip(arrays, names, strict=True) if len(a)]
    if len({a.dtype.kind == "U" for a, _ in filled}) > 1:
        described = ", ".join(f"{n}: {'strings' if a.dtype.kind == 'U' else 'integers'}" for a, n in filled)
        raise ValueError(f"labels mix strings and integers ({described})")


def _encode_few_strings(values: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Sorted distinct values and codes, or None once more than `limit` distinct values turn up."""
    codes = np.full(len(values), -1, dtype=np.int64)
    found = []
    first_unmatched = 0
    while first_unmatched < len(values):
        if len(found) == limit:
            return None
        value = values[first_unmatched]
        codes[values == value] = len(found)
        found.append(value)
        unmatched = codes[first_unmatched:] < 0
        first_unmatched += int(np.argmax(unmatched)) if unmatched.any() else len(unmatched)
    labels = np.array(found, dtype=values.dtype)
    order = np.argsort(labels)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return labels[order], rank[codes]


def encode_labels(*arrays: Any, names: Sequence[str] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Sorted union of the labels of equally long arrays, and each array as int64 codes into that union."""
    names = list(names) if names is not None else [f"array {i}" for i in range(len(arrays))]
    labelled = [_as_labels(a, n) for a, n in zip(arrays, names, strict=True)]
    lengths = {len(a) for a in labelled}
    if len(lengths) > 1:
        described = ", ".join(f"{n}={len(a)}" for a, n in zip(labelled, names, strict=True))
        raise ValueError(f"inputs must have equal lengths, got {described}")
    if not lengths or lengths == {0}:
        raise ValueError("inputs are empty: at least one labelled row is needed")
    _same_kind(labelled, names)
    joined = np.concatenate(labelled)
    if joined.dtype.kind == "i":
        low, high = int(joined.min()), int(joined.max())
        if high - low < _MAX_DENSE_LABEL_RANGE:
            shifted = joined - low
            present = np.bincount(shifted, minlength=high - low + 1) > 0
            lookup = np.cumsum(present) - 1
            labels = np.flatnonzero(present) + low
            codes = lookup[shifted]
        else:
            labels, codes = np.unique(joined, return_inverse=True)
    else:
        scanned = _encode_few_strings(joined, _MAX_SCANNED_STRING_LABELS)
        labels, codes = scanned if scanned is not None else np.unique(joined, return_inverse=True)
    n = len(labelled[0])
    return labels, [codes[i * n : (i + 1) * n].astype(np.int64, copy=False) for i in range(len(labelled))]


def _confusion_from_codes(true_codes: np.ndarray, pred_codes: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(true_codes * k + pred_codes, minlength=k * k).reshape(k, k)


def confusion_counts(y_true: Any, y_pred: Any, labels: Any) -> np.ndarray:
    """K×K int64 counts, rows = true label, columns = predicted label, in the order of `labels`.

    Unlike scikit-learn, which silently drops rows whose labels are not listed, an unlisted label is an
    error: counts that lose rows would bias every metric computed from them.
    """
    label_arr = _as_labels(labels, "labels")
    if len(label_arr) == 0:
        raise ValueError("labels is empty")
    if len(np.unique(label_arr)) != len(label_arr):
        raise ValueError("labels holds duplicates")
    t = _as_labels(y_true, "y_true")
    p = _as_labels(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValueError(f"y_true and y_pred must have equal lengths, got {len(t)} and {len(p)}")
    _same_kind([t, p, label_arr], ["y_true", "y_pred", "labels"])
    order = np.argsort(label_arr, kind="stable")
    ordered = label_arr[order]

    def codes(values: np.ndarray, name: str) -> np.ndarray:
        if len(values) == 0:
            return np.empty(0, dtype=np.int64)
        pos = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
        unknown = ordered[pos] != values
        if np.any(unknown):
            sample = sorted({str(v) for v in values[unknown][:1000].tolist()})[:5]
            raise ValueError(f"{name} holds labels not in labels: {sample}")
        return order[pos].astype(np.int64)

    return _confusion_from_codes(codes(t, "y_true"), codes(p, "y_pred"), len(label_arr))


def per_class_scores(
    tp: np.ndarray, true_sum: np.ndarray, pred_sum: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 per class (zero_division=0) and the mask of present classes, along the last axis.

    F1 is 2·tp / (true + pred), scikit-learn's own formula, so the per-class values match it bit for bit.
    A class is present when it occurs in y_true or y_pred, i.e. when true + pred > 0.
    """
    tp = np.asarray(tp, dtype=np.float64)
    true_sum = np.asarray(true_sum, dtype=np.float64)
    pred_sum = np.asarray(pred_sum, dtype=np.float64)
    both = true_sum + pred_sum
    precision = np.divide(tp, pred_sum, out=np.zeros_like(tp), where=pred_sum > 0)
    recall = np.divide(tp, true_sum, out=np.zeros_like(tp), where=true_sum > 0)
    f1 = np.divide(2.0 * tp, both, out=np.zeros_like(tp), where=both > 0)
    return precision, recall, f1, both > 0


def metrics_from_confusion(matrix: Any) -> Metrics:
    """Metrics of a K×K confusion matrix (rows = true, columns = predicted) of non-negative counts.

    Labels with neither a true nor a predicted row are left out of the macro average, as scikit-learn
    leaves out labels absent from y_true ∪ y_pred.
    """
    cm = np.asarray(matrix)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError(f"confusion matrix must be square K×K with K ≥ 1, got shape {cm.shape}")
    if cm.dtype.kind not in "iuf" or cm.dtype == np.bool_:
        raise ValueError(f"confusion matrix must hold numeric counts, got dtype {cm.dtype}")
    if not np.all(np.isfinite(cm)) or np.any(cm < 0):
        raise ValueError("confusion matrix must hold finite non-negative counts")
    total = cm.sum()
    if total <= 0:
        raise ValueError("confusion matrix is empty: no rows were counted")
    tp = np.diagonal(cm)
    precision, recall, f1, present = per_class_scores(tp, cm.sum(axis=1), cm.sum(axis=0))
    return Metrics(
        accuracy=float(tp.sum() / total),
        precision_macro=float(precision[present].mean()),
        recall_macro=float(recall[present].mean()),
        f1_macro=float(f1[present].mean()),
    )


def classification_metrics(y_true: Any, y_pred: Any) -> Metrics:
    """Accuracy and macro precision/recall/F1 of predictions; labels may be ints or strings."""
    labels, (t, p) = encode_labels(y_true, y_pred, names=["y_true", "y_pred"])
    return metrics_from_confusion(_confusion_from_codes(t, p, len(labels)))
