"""The held-out drifted rows that judge the candidate, offline and online: rows it was never trained on."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.ports import ObjectStore


def load_holdout(store: ObjectStore, key: str, target: str) -> tuple[pd.DataFrame, list[str]]:
    """(feature frame, labels as strings): the labels the models were trained on are strings too."""
    import pandas as pd

    frame = pd.read_parquet(io.BytesIO(store.get(key)))
    labels = frame[target].astype(str).tolist()
    return frame.drop(columns=[target]), labels
