"""Splits a batch into the rows a candidate trains on and the rows it is judged on, never both.

Stratified by hand, class by class, rather than with sklearn's train_test_split: that one refuses any class
with fewer than two rows, while here such a class simply goes to training (it can be learned, not judged).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mlops_core.exceptions import DataValidationError, InvalidRequestError

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)


def stratified_split(
    batch: pd.DataFrame, target: str, holdout_fraction: float = 0.3, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train_part, holdout), disjoint, both keeping the batch's index and row order. Each class contributes
    round(n * holdout_fraction) rows to the holdout, at least one and never all: a class with a single row
    goes to training only, which is logged as a warning."""
    import numpy as np

    if not 0 < holdout_fraction < 1:
        raise InvalidRequestError(
            f"holdout_fraction must lie strictly between 0 and 1, got {holdout_fraction!r}",
            field="holdout_fraction",
        )
    if target not in batch.columns:
        raise DataValidationError(f"cannot split: the target column {target!r} is missing")
    if batch[target].isna().any():
        raise DataValidationError(f"cannot split: the target {target!r} has missing values")
    if not batch.index.is_unique:
        raise DataValidationError("cannot split: the batch's row index has duplicates")
    if len(batch.index) < 2:
        raise DataValidationError(f"cannot split a batch of {len(batch.index)} rows into training and holdout")

    rng = np.random.default_rng(seed)
    held: list[int] = []
    too_small: list[str] = []
    positions = np.arange(len(batch.index))
    labels = batch[target].astype(str).to_numpy()
    for label in sorted(set(labels)):
        members = positions[labels == label]
        if len(members) < 2:
            too_small.append(label)
            continue
        take = min(max(round(len(members) * holdout_fraction), 1), len(members) - 1)
        held.extend(rng.choice(members, size=take, replace=False).tolist())
    if too_small:
        logger.warning(
            "classes with a single row cannot be stratified and go to training only: %s", ", ".join(too_small)
        )
    if not held:
        raise DataValidationError(
            f"cannot hold out rows: every class of {target!r} has a single row ({len(batch.index)} rows)"
        )
    mask = np.zeros(len(batch.index), dtype=bool)
    mask[held] = True
    return batch.iloc[~mask], batch.iloc[mask]
