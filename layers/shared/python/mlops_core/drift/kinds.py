"""Which columns are monitored, and as what: the typing rules of Evidently 0.7's dataset inference.

The same resolution feeds the reference profile and the Evidently report, so both always agree on each
column's kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mlops_core.exceptions import DataValidationError

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["num", "cat"]

# Evidently types an integer column with at most this many distinct values as categorical.
INTEGER_CARDINALITY_LIMIT = 10


@dataclass(frozen=True)
class ColumnKinds:
    numerical: tuple[str, ...]
    categorical: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """Numerical then categorical: the order Evidently's DataDriftPreset reports them in."""
        return self.numerical + self.categorical


def infer_kind(column: pd.Series) -> Kind | None:
    """Evidently's `infer_column_type`, reduced to what drift monitors.

    None means Evidently would type the column as text, datetime or unknown: such columns are not monitored.
    """
    dtype = column.dtype.name
    if dtype.startswith("float"):
        return "num"
    if dtype.startswith("int"):
        return "cat" if column.nunique() <= INTEGER_CARDINALITY_LIMIT else "num"
    if dtype in ("string", "str"):
        return None if column.nunique() > column.count() * 0.5 else "cat"
    if dtype == "object":
        present = column.dropna()
        if present.empty or not (isinstance(present.iloc[0], str) and isinstance(present.iloc[-1], str)):
            return None
        return None if column.nunique() > column.count() * 0.5 else "cat"
    if dtype in ("bool", "category"):
        return "cat"
    return None


def _given_or_inferred(given: list[str] | None, inferred: dict[str, Kind | None], kind: Kind) -> list[str]:
    if given is not None:
        return list(dict.fromkeys(given))
    return [name for name, found in inferred.items() if found == kind]


def resolve_column_kinds(
    frame: pd.DataFrame,
    *,
    target: str | None,
    numerical: list[str] | None = None,
    categorical: list[str] | None = None,
) -> ColumnKinds:
    """Explicit lists win; a list left as None is inferred over the columns no other list claims.

    The target is a classification label, so it is categorical unless `numerical` lists it.
    """
    listed = [*(numerical or []), *(categorical or []), *([target] if target is not None else [])]
    missing = [name for name in dict.fromkeys(listed) if name not in frame.columns]
    if missing:
        raise DataValidationError(f"reference data has no column(s) {missing}")
    overlap = sorted(set(numerical or []) & set(categorical or []), key=str)
    if overlap:
        raise DataValidationError(f"column(s) {overlap} listed as both numerical and categorical")

    claimed = {*(numerical or []), *(categorical or []), target}
    free = [name for name in frame.columns if name not in claimed]
    inferred = {name: infer_kind(frame[name]) for name in free} if numerical is None or categorical is None else {}
    num = _given_or_inferred(numerical, inferred, "num")
    cat = _given_or_inferred(categorical, inferred, "cat")
    if target is not None and target not in num and target not in cat:
        cat.append(target)
    if not num and not cat:
        raise DataValidationError("no column to monitor: none is numerical or categorical")
    return ColumnKinds(tuple(num), tuple(cat))
