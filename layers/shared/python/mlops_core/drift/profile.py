"""The reference side of drift detection, computed once per baseline and stored as bytes.

Per numerical column: the sorted distinct values with their counts (exact for K-S and Wasserstein) and
the reference's population std; per categorical column: value counts. Column kinds are decided here, once.
Serialized as an uncompressed `.npz` (a zip of `.npy` arrays, loaded without pickle) plus a JSON header
carrying the format version.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from mlops_core.drift.categories import CategoryCounts, count_categories
from mlops_core.drift.kinds import Kind, resolve_column_kinds
from mlops_core.exceptions import DataValidationError

if TYPE_CHECKING:
    import pandas as pd

FORMAT = "mlops-drift-reference-profile"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class NumericalProfile:
    values: np.ndarray  # sorted distinct finite values, float64
    counts: np.ndarray  # how often each occurs (smallest unsigned dtype that fits)
    std: float  # population std (ddof=0) of the raw values: what Evidently norms Wasserstein by

    @property
    def rows(self) -> int:
        return int(self.counts.sum(dtype=np.int64))


@dataclass(frozen=True)
class ReferenceProfile:
    rows: int  # rows of the reference frame, missing values included
    target: str | None
    numerical: dict[str, NumericalProfile] = field(default_factory=dict)
    categorical: dict[str, CategoryCounts] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        """Monitored columns: numerical then categorical, the order Evidently reports them in."""
        return [*self.numerical, *self.categorical]

    def kind(self, column: str) -> Kind:
        return "num" if column in self.numerical else "cat"

    def to_bytes(self) -> bytes:
        arrays: dict[str, np.ndarray] = {}
        described = []
        for i, (name, num) in enumerate(self.numerical.items()):
            described.append({"name": name, "kind": "num", "std": num.std})
            arrays[f"{i}.values"] = num.values
            arrays[f"{i}.counts"] = num.counts
        offset = len(self.numerical)
        for i, (name, cat) in enumerate(self.categorical.items(), start=offset):
            described.append({"name": name, "kind": "cat"})
            arrays[f"{i}.numbers"] = cat.numbers
            arrays[f"{i}.number_counts"] = cat.number_counts
            arrays[f"{i}.labels"] = cat.labels
            arrays[f"{i}.label_counts"] = cat.label_counts
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "rows": self.rows,
            "target": self.target,
            "columns": described,
        }
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ReferenceProfile:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                header = json.loads(npz["header"].tobytes())
                if header.get("format") != FORMAT:
                    raise DataValidationError("bytes are not a drift reference profile")
                if header.get("version") != FORMAT_VERSION:
                    raise DataValidationError(
                        f"drift reference profile version {header.get('version')!r} is not supported "
                        f"(expected {FORMAT_VERSION}): rebuild it from the baseline"
                    )
                numerical: dict[str, NumericalProfile] = {}
                categorical: dict[str, CategoryCounts] = {}
                for i, column in enumerate(header["columns"]):
                    if column["kind"] == "num":
                        numerical[column["name"]] = NumericalProfile(
                            npz[f"{i}.values"], npz[f"{i}.counts"], float(column["std"])
                        )
                    else:
                        categorical[column["name"]] = CategoryCounts(
                            npz[f"{i}.numbers"],
                            npz[f"{i}.number_counts"],
                            npz[f"{i}.labels"],
                            npz[f"{i}.label_counts"],
                        )
        except DataValidationError:
            raise
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
            raise DataValidationError(f"unreadable drift reference profile: {error}") from error
        return cls(int(header["rows"]), header["target"], numerical, categorical)


def _numerical_profile(column: pd.Series, name: str) -> NumericalProfile:
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(column):
        raise DataValidationError(f"numerical column {name!r} holds {column.dtype} values")
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[np.isfinite(values)]  # Evidently turns ±inf into NaN, then drops NaN
    if values.size == 0:
        raise DataValidationError(f"column {name!r} has no finite value in the reference data")
    distinct, counts = np.unique(values, return_counts=True)
    return NumericalProfile(distinct, counts.astype(np.min_scalar_type(counts.max())), float(np.std(values)))


def build_profile(
    reference: pd.DataFrame,
    *,
    target: str | None,
    numerical: list[str] | None = None,
    categorical: list[str] | None = None,
) -> ReferenceProfile:
    """Profile `reference` for `detect_drift`. Kinds not given are inferred as Evidently infers them
    (see `resolve_column_kinds`); the target is monitored like any other column."""
    if len(reference) == 0:
        raise DataValidationError("reference data is empty")
    duplicated = sorted({str(c) for c in reference.columns[reference.columns.duplicated()]})
    if duplicated:
        raise DataValidationError(f"reference data repeats column name(s) {duplicated}")
    kinds = resolve_column_kinds(reference, target=target, numerical=numerical, categorical=categorical)
    numericals = {name: _numerical_profile(reference[name], name) for name in kinds.numerical}
    categoricals = {}
    for name in kinds.categorical:
        counts = count_categories(reference[name], name)
        if counts.rows == 0:
            raise DataValidationError(f"column {name!r} has no value in the reference data")
        categoricals[name] = counts
    return ReferenceProfile(len(reference), target, numericals, categoricals)
