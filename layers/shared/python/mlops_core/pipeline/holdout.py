"""The held-out drifted rows that judge the candidate, offline and online: rows it was never trained on."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def load_holdout(s3: Any, bucket: str, key: str, target: str) -> tuple[pd.DataFrame, list[str]]:
    """(feature frame, labels as strings): the labels the models were trained on are strings too."""
    import pandas as pd

    frame = pd.read_parquet(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
    labels = frame[target].astype(str).tolist()
    return frame.drop(columns=[target]), labels
