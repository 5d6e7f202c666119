"""Checks a batch against its dataset before anything is computed on it, and puts columns in model form.

Every problem found is listed in one DataValidationError, naming the columns, so one failed run tells the data
owner everything to fix. Labels the baseline never had are allowed (drift can bring a new class, and the
retrained model learns it from the batch) but reported in `ValidationReport.unseen_labels`; a batch where
no label at all was seen before is rejected, as that is a different encoding of the target, not drift. Labels
compare as numbers where both spell numbers, so a class read as 1 from Parquet is the "1" of a CSV. A feature
with no value at all is allowed (drift reports it as all missing); an unlabelled batch is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from mlops_core.data.io import as_text
from mlops_core.exceptions import ConfigurationError, DataValidationError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.data.config import DatasetConfig

ColumnKind = Literal["num", "cat"]
_EXAMPLES = 3


@dataclass(frozen=True)
class ValidationReport:
    rows: int
    columns: list[str]
    unseen_labels: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def dtypes_of(df: pd.DataFrame) -> dict[str, str]:
    """Column dtypes as strings: the JSON-friendly reference a batch is checked against."""
    return {str(c): str(t) for c, t in df.dtypes.items()}


def _is_numeric(dtype: str) -> bool:
    import numpy as np
    import pandas as pd

    try:
        resolved = pd.api.types.pandas_dtype(dtype)
    except TypeError:
        return False
    return (
        pd.api.types.is_numeric_dtype(resolved)
        and not pd.api.types.is_bool_dtype(resolved)
        and (resolved != np.dtype("O"))
    )


def feature_columns(config: DatasetConfig, columns: Iterable[str]) -> list[str]:
    """The configured features, else every column but the target, in the reference's order."""
    if config.features is not None:
        return list(config.features)
    return [c for c in columns if c != config.target]


def column_kinds(config: DatasetConfig, reference_dtypes: Mapping[str, str]) -> dict[str, ColumnKind]:
    """Each feature as numeric or categorical: configured categoricals, else whatever is not numeric."""
    categorical = set(config.categorical or ())
    kinds: dict[str, ColumnKind] = {}
    for column in feature_columns(config, reference_dtypes):
        numeric = column not in categorical and _is_numeric(reference_dtypes.get(column, "object"))
        kinds[column] = "num" if numeric else "cat"
    return kinds


def coerce_features(df: pd.DataFrame, kinds: Mapping[str, ColumnKind]) -> pd.DataFrame:
    """The feature columns in model form: numbers as float64, categories as strings, missing values as NaN."""
    import pandas as pd

    out = pd.DataFrame(index=df.index)
    for column, kind in kinds.items():
        values = df[column]
        out[column] = pd.to_numeric(values, errors="raise").astype("float64") if kind == "num" else as_text(values)
    return out


def _examples(values: Iterable[object]) -> str:
    shown = [repr(v) for v in list(values)[:_EXAMPLES]]
    return ", ".join(shown)


def _label_key(value: object) -> str:
    """A label's spelling with numbers normalised: 1, 1.0, "1" and "1.0" are one class."""
    import numpy as np

    if isinstance(value, bool | np.bool_):
        return str(bool(value))  # as text spells it: "True"
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if number.is_integer():
        return str(int(number))
    return repr(number)


def _label_keys(values: Iterable[object]) -> dict[str, str]:
    """Each label's key, mapped to its first spelling (to name it in messages)."""
    keys: dict[str, str] = {}
    for value in values:
        keys.setdefault(_label_key(value), str(value))
    return keys


def check_baseline_columns(columns: Iterable[str], config: DatasetConfig, *, source: str, config_source: str) -> None:
    """Raise ConfigurationError, in one line, when the baseline lacks the target or a configured feature or
    categorical column: it names the baseline (`source`), the columns and the field of dataset.json
    (`config_source`) to fix."""
    present = [str(c) for c in columns]
    listing = ", ".join(repr(c) for c in present)
    problems = []
    if config.target not in present:
        problems.append(f'no target column {config.target!r}: set "target" in {config_source} to one of {listing}')
    for field_name in ("features", "categorical"):
        absent = [c for c in getattr(config, field_name) or () if c not in present]
        if absent:
            named = ", ".join(repr(c) for c in absent)
            problems.append(f'no column {named} of "{field_name}": fix "{field_name}" in {config_source}')
    if problems:
        raise ConfigurationError(f"baseline {source} has " + "; ".join(problems))


def validate_batch(
    df: pd.DataFrame,
    config: DatasetConfig,
    reference_dtypes: Mapping[str, str],
    *,
    reference_labels: Iterable[object] | None = None,
    source: str = "batch",
) -> ValidationReport:
    """Raise DataValidationError listing every problem: no rows, duplicate, missing or unexpected columns,
    non-numeric values in a numeric column, infinite values, missing or unknown labels. Features with no value
    at all are reported in `warnings`."""
    import numpy as np
    import pandas as pd

    target = config.target
    features = feature_columns(config, reference_dtypes)
    kinds = column_kinds(config, reference_dtypes)
    expected = [*features, target]
    columns = [str(c) for c in df.columns]
    problems: list[str] = []

    if len(df.index) == 0 or not columns:
        raise DataValidationError(f"{source} is empty: {len(df.index)} rows, {len(columns)} columns")
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise DataValidationError(f"{source} has duplicate column names: {', '.join(duplicated)}")
    if target not in columns:
        problems.append(f"the target column {target!r} is missing")
    missing = [c for c in features if c not in columns]
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    unexpected = [c for c in columns if c not in expected]
    if unexpected:
        problems.append(f"unexpected columns: {', '.join(unexpected)} (expected {', '.join(expected)})")

    present = [c for c in expected if c in columns]
    empty = [c for c in present if df[c].isna().all()]
    if target in empty:
        problems.append(f"the target {target!r} has no value at all ({len(df.index)} rows): a batch must be labelled")
    unseen: list[str] = []
    warnings: list[str] = []
    empty_features = [c for c in empty if c != target]
    if empty_features:
        warnings.append(f"columns with no values at all (all missing): {', '.join(empty_features)}")
    for column in (c for c in present if kinds.get(c) == "num" and c not in empty):
        values = df[column]
        if pd.api.types.is_bool_dtype(values):
            problems.append(f"column {column!r} should be numeric but holds booleans")
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        bad = values[numbers.isna() & values.notna()]
        if len(bad):
            problems.append(
                f"column {column!r} should be numeric ({reference_dtypes.get(column)}) but has "
                f"{len(bad)} non-numeric values, e.g. {_examples(bad.unique())}"
            )
        elif np.isinf(numbers.to_numpy(dtype="float64", na_value=np.nan)).any():
            problems.append(f"column {column!r} has infinite values")

    if target in columns and target not in empty:
        labels = df[target]
        unlabeled = int(labels.isna().sum())
        if unlabeled:
            rows = labels.index[labels.isna()].tolist()
            problems.append(f"the target {target!r} is missing in {unlabeled} rows (e.g. rows {_examples(rows)})")
        if reference_labels is not None:
            known = _label_keys(reference_labels)
            seen = _label_keys(labels.dropna().unique())
            unseen = sorted(seen[key] for key in seen.keys() - known.keys())
            if unseen and len(unseen) == len(seen):
                problems.append(
                    f"none of the target {target!r} labels was seen in the baseline: got {_examples(unseen)}, "
                    f"expected labels like {_examples(sorted(known.values()))}"
                )
            elif unseen:
                warnings.append(f"labels not in the baseline: {', '.join(unseen)}")

    if problems:
        raise DataValidationError(f"{source} is invalid: " + "; ".join(problems))
    return ValidationReport(rows=len(df.index), columns=columns, unseen_labels=unseen, warnings=warnings)
