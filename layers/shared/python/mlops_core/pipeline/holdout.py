"""The held-out drifted rows that judge the candidate, offline and online: rows it was never trained on."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from mlops_core.drift.schema import as_text

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.ports import ObjectStore


def load_holdout(store: ObjectStore, key: str, target: str) -> tuple[pd.DataFrame, list[str]]:
    """(feature frame, labels as strings): the labels the models were trained on are strings too.

    Parquet gives a text column's missing values back as None, which PyCaret's imputer does not take for
    missing (it matches NaN only): the column then reaches the encoder unimputed and the model fails on NaN. The
    text columns are put back in the form the models were trained on, missing as NaN."""
    import pandas as pd

    frame = pd.read_parquet(io.BytesIO(store.get(key)))
    for column in frame.select_dtypes(include="object").columns:
        frame[column] = as_text(frame[column])
    labels = frame[target].astype(str).tolist()
    return frame.drop(columns=[target]), labels


def load_holdouts(
    store: ObjectStore, keys: list[str], target: str, *, max_rows: int
) -> tuple[pd.DataFrame, list[str], list[tuple[str, int]]]:
    """The first key's rows, then whole earlier sets in the given order while the total stays within max_rows.
    Returns (features, labels, [(key, rows) of each set used]); the first set is always used."""
    import pandas as pd

    features, labels, used = [], [], []
    total = 0
    for index, key in enumerate(keys):
        part, part_labels = load_holdout(store, key, target)
        if index and total + len(part_labels) > max_rows:
            break
        features.append(part)
        labels.extend(part_labels)
        used.append((key, len(part_labels)))
        total += len(part_labels)
    return pd.concat(features, ignore_index=True), labels, used
