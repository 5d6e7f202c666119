"""The baseline's reference: computed once per baseline object and stored in S3, read back on every run.

A profile holds what the drift tests need from the baseline, within DRIFT_PROFILE_MAX_BYTES_PER_COLUMN per
column (exact below it; above it, a sketch with proven error bounds for a numerical column, only how values
are keyed for a categorical one; see mlops_core.drift), plus a bounded sample that Evidently's HTML report
compares against, plus the baseline's column types and labels for batch validation. Each sketched column's
exact values are stored apart (`exact/<i>.bin`, i its position among the profile's columns) and read only
when the sketch cannot certify a verdict; so are the counts of each categorical column over the bound, read
for every verdict on it. Its key carries the baseline's ETag, the size bound and the columns' roles (target,
features, categorical), so replacing the baseline, the bound or dataset.json's roles yields a new profile.

Column kinds are fixed here, from the baseline, and every batch is cast to them: configured categoricals and
the target are categories, other numeric columns numbers, other text columns categories unless most of their
values are distinct (text, which the drift tests leave out, saying so).
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_core import layout, settings
from mlops_core.data import DatasetConfig, column_kinds, dtypes_of, put_if_absent, read_table
from mlops_core.data.validate import check_baseline_columns
from mlops_core.exceptions import ConfigurationError, NotFoundError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.drift import NumericalProfile, ReferenceProfile
    from mlops_core.drift.categories import CategoryCounts
    from mlops_core.ports import ObjectStore

# 3: bounded profiles, exact columns of sketched ones stored apart; 4: categorical counts over the bound too
_FORMAT_VERSION = 4


@dataclass
class Reference:
    prefix: str
    rows: int
    dtypes: dict[str, str]
    kinds: dict[str, str]  # column -> "num" | "cat": every column the model sees, text ones included
    labels: list[str]
    profile: ReferenceProfile
    sample: pd.DataFrame
    store: ObjectStore | None = None  # where `exact_column` reads the columns stored apart from

    def exact_column(self, name: str) -> NumericalProfile | CategoryCounts:
        """The exact reference values of numerical column `name`, or the counts of categorical column `name`
        kept apart: held by a freshly built profile, otherwise read from the store (only for a column whose
        sketch could not certify its verdict, or whose counts exceed the profile's bound)."""
        from mlops_core.drift.profile import exact_column_from_bytes

        if name in self.profile.exact_columns:
            return self.profile.exact_columns[name]
        if self.store is None:
            raise NotFoundError(f"exact reference column {name!r} of {self.prefix} has no store to be read from")
        return exact_column_from_bytes(self.store.get(_exact_key(self.prefix, self.profile, name)), name)

    @property
    def numerical(self) -> list[str]:
        return [c for c, k in self.kinds.items() if k == "num"]

    @property
    def categorical(self) -> list[str]:
        return [c for c, k in self.kinds.items() if k == "cat"]


def load_or_build(
    store: ObjectStore,
    config: DatasetConfig,
    *,
    sample_rows: int,
    seed: int = 0,
    max_bytes_per_column: int | None = None,
) -> Reference:
    """The stored reference for the current baseline, computing and storing it on first use.
    `max_bytes_per_column` defaults to the DRIFT_PROFILE_MAX_BYTES_PER_COLUMN setting."""
    from mlops_core.drift.profile import DEFAULT_MAX_BYTES_PER_COLUMN, MIN_BYTES_PER_COLUMN

    if max_bytes_per_column is None:
        name = settings.DRIFT_PROFILE_MAX_BYTES_PER_COLUMN
        max_bytes_per_column = settings.get_int(name, DEFAULT_MAX_BYTES_PER_COLUMN)
        if max_bytes_per_column < MIN_BYTES_PER_COLUMN:
            raise ConfigurationError(
                f"environment variable {name}={max_bytes_per_column} is below {MIN_BYTES_PER_COLUMN}: "
                f"set it to a few MB (the default is {DEFAULT_MAX_BYTES_PER_COLUMN}), or unset it"
            )
    head = store.head(config.baseline_key)
    if head is None:
        raise NotFoundError(f"baseline {store.uri(config.baseline_key)} does not exist")
    # The format version is part of the key, so a profile written by older code is never misread; the bound
    # too, so a profile built under another bound is never taken for this one's; and the columns' roles, so
    # a dataset.json replaced over the same baseline (another target, a column now categorical) gets its own.
    prefix = (
        f"{layout.profile_prefix(config.name, head.etag)}"
        f"v{_FORMAT_VERSION}-{max_bytes_per_column}-{_roles_digest(config)}/"
    )
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
    reference = build(
        baseline, config, prefix=prefix, sample_rows=sample_rows, seed=seed, max_bytes_per_column=max_bytes_per_column
    )
    _store(store, reference)
    reference.store = store
    return reference


def _roles_digest(config: DatasetConfig) -> str:
    roles = [config.target, config.features, sorted(config.categorical) if config.categorical else None]
    return hashlib.sha256(json.dumps(roles).encode()).hexdigest()[:12]


def build(
    baseline: pd.DataFrame,
    config: DatasetConfig,
    *,
    prefix: str,
    sample_rows: int,
    seed: int,
    max_bytes_per_column: int,
) -> Reference:
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
        baseline[columns],
        target=config.target,
        numerical=numerical,
        categorical=categorical,
        text=text,
        max_bytes_per_column=max_bytes_per_column,
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
    profile = reference.profile
    for name in profile.exact_columns:
        put_if_absent(store, _exact_key(reference.prefix, profile, name), profile.exact_column_bytes(name))
    put_if_absent(store, reference.prefix + "profile.bin", profile.to_bytes())
    put_if_absent(store, reference.prefix + "sample.parquet", sample.getvalue())
    # meta.json last: its presence means the profile is complete.
    put_if_absent(store, reference.prefix + "meta.json", json.dumps(meta).encode())


def _load(store: ObjectStore, prefix: str) -> Reference:
    import pandas as pd

    from mlops_core.drift import ReferenceProfile

    meta = json.loads(store.get(prefix + "meta.json"))
    profile = ReferenceProfile.from_bytes(store.get(prefix + "profile.bin"))
    sample = pd.read_parquet(io.BytesIO(store.get(prefix + "sample.parquet")))
    return Reference(prefix, meta["rows"], meta["dtypes"], meta["kinds"], meta["labels"], profile, sample, store)


def _exact_key(prefix: str, profile: ReferenceProfile, name: str) -> str:
    # By position among the monitored columns (numerical first, as before), not by name: a column name can hold
    # any character, and a categorical column's position never equals a numerical one's.
    return f"{prefix}exact/{profile.columns.index(name)}.bin"
