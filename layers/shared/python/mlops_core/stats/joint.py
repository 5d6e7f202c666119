"""Joint counts of (label, prediction A, prediction B) and the F1 statistics computed from them.

Every paired comparison of two classifiers on the same rows depends on the rows only through how many rows
fall in each (label, A, B) cell: at most K³ cells, whatever n is. A bootstrap resample is a vector of cell
counts (one multinomial draw), a jackknife leave-one-out sample is the counts minus one row of one cell (so
the n jackknife values take at most one value per cell, and all of them cost O(cells · K)), and a sign flip of
the disagreeing rows moves rows between the cells (t, a, b) and (t, b, a). This module holds the counts and
one vectorised scorer for all three.

The statistics, in this column order, are ΔF1-macro = F1-macro(B) − F1-macro(A), then ΔF1 of each class in
label order. F1 follows scikit-learn (`metrics`): per class 2·tp / (true + pred) with zero_division=0, and each
model's macro average over the labels present in y_true ∪ that model's predictions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mlops_core.stats.metrics import encode_labels, per_class_scores

# Cells are counted with a dense K³ bincount unless K³ exceeds both of these (then a sort of the n cell ids).
_DENSE_CELLS_MIN = 1 << 16
_DENSE_CELLS_PER_ROW = 4


@dataclass(frozen=True, eq=False)
class JointCounts:
    """Non-empty (label, A, B) cells of a paired comparison and how many rows each holds.

    `labels` is the sorted union of all labels (ints or strings); the cell arrays hold indices into it.
    """

    labels: np.ndarray
    cell_true: np.ndarray
    cell_a: np.ndarray
    cell_b: np.ndarray
    counts: np.ndarray

    @property
    def k(self) -> int:
        return len(self.labels)

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def n_cells(self) -> int:
        return len(self.counts)

    @property
    def n_disagreements(self) -> int:
        """Rows on which the two models predict different labels."""
        return int(self.counts[self.cell_a != self.cell_b].sum())

    def confusion(self, model: str) -> np.ndarray:
        """K×K int64 counts of model "a" or "b", rows = true label, columns = predicted, in label order."""
        if model not in ("a", "b"):
            raise ValueError(f"model must be 'a' or 'b', got {model!r}")
        pred = self.cell_a if model == "a" else self.cell_b
        return (
            np.bincount(self.cell_true * self.k + pred, weights=self.counts, minlength=self.k**2)
            .reshape(self.k, self.k)
            .astype(np.int64)
        )

    def design(self) -> CellDesign:
        return CellDesign.of(self)


def joint_counts(y_true: Any, pred_a: Any, pred_b: Any) -> JointCounts:
    """Count the rows of each (label, A, B) cell; labels may be ints or strings (validated as in `metrics`)."""
    labels, (t, a, b) = encode_labels(y_true, pred_a, pred_b, names=["y_true", "pred_a", "pred_b"])
    k, n = len(labels), len(t)
    cell_ids = (t * k + a) * k + b
    if k**3 <= max(_DENSE_CELLS_PER_ROW * n, _DENSE_CELLS_MIN):
        counts = np.bincount(cell_ids, minlength=k**3)
        cells = np.flatnonzero(counts)
        counts = counts[cells]
    else:  # many classes: K³ bins would dwarf the data
        cells, counts = np.unique(cell_ids, return_counts=True)
    return JointCounts(
        labels=labels,
        cell_true=cells // (k * k),
        cell_a=(cells // k) % k,
        cell_b=cells % k,
        counts=counts.astype(np.int64),
    )


@dataclass(frozen=True, eq=False)
class CellDesign:
    """Per cell, 0/1 rows over the K classes: its true class, each model's prediction and true positive.

    Counts per class of any weighting of the cells (a resample, a leave-one-out sample) are then one matrix
    product: weights @ design.true, and so on.
    """

    true: np.ndarray
    pred_a: np.ndarray
    pred_b: np.ndarray
    tp_a: np.ndarray
    tp_b: np.ndarray

    @classmethod
    def of(cls, joint: JointCounts) -> CellDesign:
        classes = np.arange(joint.k)
        true = (joint.cell_true[:, None] == classes).astype(np.float64)
        return cls(
            true=true,
            pred_a=(joint.cell_a[:, None] == classes).astype(np.float64),
            pred_b=(joint.cell_b[:, None] == classes).astype(np.float64),
            tp_a=true * (joint.cell_true == joint.cell_a)[:, None],
            tp_b=true * (joint.cell_true == joint.cell_b)[:, None],
        )

    def sums(self, weights: np.ndarray) -> ClassSums:
        """Per-class sums of each row of `weights` (R × cells, float64)."""
        return ClassSums(
            true=weights @ self.true,
            tp_a=weights @ self.tp_a,
            pred_a=weights @ self.pred_a,
            tp_b=weights @ self.tp_b,
            pred_b=weights @ self.pred_b,
        )

    def leave_one_out(self, counts: np.ndarray) -> ClassSums:
        """Per-class sums of the sample without one row of cell c, for each cell c (row c of each array)."""
        total = self.sums(counts.astype(np.float64)[None, :])
        return ClassSums(
            true=total.true - self.true,
            tp_a=total.tp_a - self.tp_a,
            pred_a=total.pred_a - self.pred_a,
            tp_b=total.tp_b - self.tp_b,
            pred_b=total.pred_b - self.pred_b,
        )


@dataclass(frozen=True, eq=False)
class ClassSums:
    """Per-class counts (R × K each) of R weighted samples: true rows, and each model's tp and predictions."""

    true: np.ndarray
    tp_a: np.ndarray
    pred_a: np.ndarray
    tp_b: np.ndarray
    pred_b: np.ndarray

    def f1(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-class F1 of A and of B (R × K), and the masks of the classes present for each."""
        _, _, f1_a, present_a = per_class_scores(self.tp_a, self.true, self.pred_a)
        _, _, f1_b, present_b = per_class_scores(self.tp_b, self.true, self.pred_b)
        return f1_a, present_a, f1_b, present_b

    def statistics(self) -> np.ndarray:
        """R × (1 + K): ΔF1-macro (B − A), then ΔF1 of each class. ΔF1-macro of a sample without rows is NaN."""
        f1_a, present_a, f1_b, present_b = self.f1()
        with np.errstate(invalid="ignore", divide="ignore"):
            macro_a = np.where(present_a, f1_a, 0.0).sum(axis=1) / present_a.sum(axis=1)
            macro_b = np.where(present_b, f1_b, 0.0).sum(axis=1) / present_b.sum(axis=1)
        return np.column_stack([macro_b - macro_a, f1_b - f1_a])


def observed_statistics(joint: JointCounts) -> np.ndarray:
    """The statistics (1 + K) of the rows themselves."""
    return joint.design().sums(joint.counts.astype(np.float64)[None, :]).statistics()[0]


def jackknife_statistics(joint: JointCounts) -> np.ndarray:
    """Leave-one-out statistics, one row per cell (cells × (1 + K)); cell c's row stands for counts[c] rows.

    O(cells · K) instead of n refits. With a single row the leave-one-out sample is empty and scores NaN.
    """
    return joint.design().leave_one_out(joint.counts).statistics()
