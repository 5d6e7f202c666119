"""Value counts of a categorical column, keyed the way Evidently's pandas value counts merge keys.

Evidently unions the values of both sides in a Python set, so `1`, `1.0` and `True` are one key while `"1"`
is another. Keys are therefore split into numbers (float64) and labels (str); anything else is rejected.
Columns are cast to their reference's keys first (mlops_core.drift.schema), so a profile holds one kind only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlops_core.exceptions import DataValidationError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.drift.schema import Keys


@dataclass(frozen=True)
class CategoryCounts:
    numbers: np.ndarray  # sorted unique float64 keys
    number_counts: np.ndarray  # int64
    labels: np.ndarray  # sorted unique str keys
    label_counts: np.ndarray  # int64

    @property
    def rows(self) -> int:
        return int(self.number_counts.sum() + self.label_counts.sum())

    @property
    def keys(self) -> Keys:
        """How the column's values are keyed, which every batch is cast to: a reference cast by
        `build_profile` holds numbers only or labels only."""
        return "text" if self.labels.size else "number"

    @property
    def nbytes(self) -> int:
        """What its arrays take, as a profile stores them."""
        return self.numbers.nbytes + self.number_counts.nbytes + self.labels.nbytes + self.label_counts.nbytes


@dataclass(frozen=True)
class CategoriesApart:
    """What a bounded profile keeps of a categorical column whose counts exceed its bound: how batches are keyed
    (`keys`, as `CategoryCounts.keys`) and the rows counted. The counts themselves are stored apart, like the
    exact column of a numerical sketch, and read for every verdict on the column."""

    keys: Keys
    rows: int


def _number_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Evidently turns ±inf into NaN, then drops NaN.
    values = values[np.isfinite(values)]
    keys, counts = np.unique(values, return_counts=True)
    return keys, counts.astype(np.int64)


def count_categories(column: pd.Series, name: str) -> CategoryCounts:
    """Non-missing, finite values of `column` with their counts."""
    import pandas as pd

    empty_labels = np.array([], dtype=str)
    no_counts = np.array([], dtype=np.int64)
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        keys, counts = _number_counts(column.to_numpy(dtype=np.float64, na_value=np.nan))
        return CategoryCounts(keys, counts, empty_labels, no_counts)

    counted = column.value_counts(dropna=True, sort=False)
    numbers: dict[float, int] = {}
    labels: dict[str, int] = {}
    for key, count in zip(counted.index.tolist(), counted.tolist(), strict=True):
        if count == 0:  # unused levels of a pandas Categorical: Evidently only keys observed values
            continue
        if isinstance(key, str):
            labels[key] = labels.get(key, 0) + int(count)
        elif isinstance(key, bool | int | float | np.bool_ | np.integer | np.floating):
            number = float(key)
            if np.isfinite(number):
                numbers[number] = numbers.get(number, 0) + int(count)
        else:
            raise DataValidationError(
                f"column {name!r} holds a {type(key).__name__} value; categories must be strings or numbers"
            )
    number_keys = np.array(sorted(numbers), dtype=np.float64)
    label_keys = np.array(sorted(labels), dtype=str) if labels else empty_labels
    return CategoryCounts(
        number_keys,
        np.array([numbers[k] for k in number_keys.tolist()], dtype=np.int64),
        label_keys,
        np.array([labels[k] for k in label_keys.tolist()], dtype=np.int64),
    )


def _align(
    ref_keys: np.ndarray, ref_counts: np.ndarray, cur_keys: np.ndarray, cur_counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    keys = np.union1d(ref_keys, cur_keys)
    ref = np.zeros(keys.size, dtype=np.int64)
    cur = np.zeros(keys.size, dtype=np.int64)
    ref[np.searchsorted(keys, ref_keys)] = ref_counts
    cur[np.searchsorted(keys, cur_keys)] = cur_counts
    return ref, cur


def align_counts(reference: CategoryCounts, current: CategoryCounts) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both sides over the union of their keys: numbers ascending, then labels ascending.

    A key seen on one side only gets a zero count on the other, as in Evidently.
    """
    ref_n, cur_n = _align(reference.numbers, reference.number_counts, current.numbers, current.number_counts)
    ref_l, cur_l = _align(reference.labels, reference.label_counts, current.labels, current.label_counts)
    return np.concatenate([ref_n, ref_l]), np.concatenate([cur_n, cur_l])
