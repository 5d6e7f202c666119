"""The baseline's reference: computed once per baseline object and stored in S3, read back on every run.

A profile holds what the drift tests need from the baseline (exact, see mlops_core.drift), plus a bounded
sample that Evidently's HTML report compares against, plus the baseline's column types and labels for batch
validation. Its key carries the baseline's ETag, so replacing the baseline yields a new profile.

Column kinds are fixed here, from the baseline, and every batch is cast to them: configured categoricals and
the target are categories, other numeric columns numbers, other text columns categories unless most of their
values are distinct (text, which the drift tests leave out, saying so).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_core import layout
from mlops_core.data import DatasetConfig, column_kinds, dtypes_of, put_if_absent, read_table
from mlops_core.data.validate import check_baseline_columns
from mlops_core.exceptions import NotFoundError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.drift import ReferenceProfile
    from mlops_core.ports import ObjectStore

_FORMAT_VERSION = 2  # 2: batches cast to the baseline's types; text and all-missing columns recorded


@dataclass
class Reference:
    prefix: str
    rows: int
    dtypes: dict[str, str]
    kinds: dict[str, str]  # column -> "num" | "cat": every column the model sees, text ones included
    labels: list[str]
    profile: ReferenceProfile
    sample: pd.DataFrame

    @property
    def numerical(self) -> list[str]:
        return [c for c, k in self.kinds.items() if k == "num"]

    @property
    def categorical(self) -> list[str]:
        return [c for c, k in self.kinds.items() if k == "cat"]


def load_or_build(store: ObjectStore, config: DatasetConfig, *, sample_rows: int, seed: int = 0) -> Reference:
    """The stored reference for the current baseline, computing and storing it on first use."""
    head = store.head(config.baseline_key)
    if head is None:
        raise NotFoundError(f"baseline {store.uri(config.baseline_key)} does not exist")
    # The format version is part of the key, so a profile written by older code is never misread.
    prefix = f"{layout.profile_prefix(config.name, head.etag)}v{_FORMAT_VERSION}/"
    try:
        return _load(store, prefix)
    except NotFoundError:
        pass
    baseline = read_table(store, config.baseline_key, categorical=config.categorical or [])
    check_baseline_columns(
        baseline.columns,
        config,
        source=store.uri(config.baseline_key),
        config_source=store.uri(layout.dataset_config_key(config.name)),
    )
    reference = build(baseline, config, prefix=prefix, sample_rows=sample_rows, seed=seed)
    _store(store, reference)
    return reference


def build(baseline: pd.DataFrame, config: DatasetConfig, *, prefix: str, sample_rows: int, seed: int) -> Reference:
    from mlops_core.drift import build_profile, infer_kind

    dtypes = dtypes_of(baseline)
    kinds = dict(column_kinds(config, dtypes))
    kinds[config.target] = "cat"  # classification labels are categories, whatever their dtype
    columns = list(kinds)
    configured = {*(config.categorical or []), config.target}
    numerical = [c for c in columns if kinds[c] == "num"]
    text = [c for c in columns if kinds[c] == "cat" and c not in configured and infer_kind(baseline[c]) == "text"]
    categorical = [c for c in columns if kinds[c] == "cat" and c != config.target and c not in text]
    profile = build_profile(
        baseline[columns], target=config.target, numerical=numerical, categorical=categorical, text=text
    )
    # The report's sample holds the monitored columns as the tests see them (and as Parquet can store them).
    sample = baseline[profile.columns]
    if len(sample) > sample_rows:
        sample = sample.sample(n=sample_rows, random_state=seed).sort_index()
    sample = sample.copy()
    for column in profile.columns:
        sample[column] = profile.cast(sample[column], column, source="baseline")
    labels = sorted({str(v) for v in baseline[config.target].dropna().unique()})
    return Reference(prefix, len(baseline), dtypes, kinds, labels, profile, sample)


def _store(store: ObjectStore, reference: Reference) -> None:
    meta = {
        "rows": reference.rows,
        "dtypes": reference.dtypes,
        "kinds": reference.kinds,
        "labels": reference.labels,
    }
    sample = io.BytesIO()
    reference.sample.to_parquet(sample, index=False)
    # Two runs may build the profile of the same baseline at once: both derive it from the same object, so
    # whichever copy landed first stands.
    put_if_absent(store, reference.prefix + "profile.bin", reference.profile.to_bytes())
    put_if_absent(store, reference.prefix + "sample.parquet", sample.getvalue())
    # meta.json last: its presence means the profile is complete.
    put_if_absent(store, reference.prefix + "meta.json", json.dumps(meta).encode())


def _load(store: ObjectStore, prefix: str) -> Reference:
    import pandas as pd

    from mlops_core.drift import ReferenceProfile

    meta = json.loads(store.get(prefix + "meta.json"))
    profile = ReferenceProfile.from_bytes(store.get(prefix + "profile.bin"))
    sample = pd.read_parquet(io.BytesIO(store.get(prefix + "sample.parquet")))
    return Reference(prefix, meta["rows"], meta["dtypes"], meta["kinds"], meta["labels"], profile, sample)
