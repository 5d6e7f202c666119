"""Which columns are monitored, and as what: the typing rules of Evidently 0.7's dataset inference.

The same resolution feeds the reference profile and the Evidently report, so both always agree on each
column's kind. Kinds are resolved on the reference, once: a column's kind is a property of the dataset, so a
batch where an integer code column gains a few NaN (and turns float) is still tested as the reference was.
Evidently's own preset would re-infer kinds on each batch; the parity tests hand it the same kinds instead.

Text columns are not tested: Evidently tests them with a trained text classifier ("text content drift"),
which no stored profile can reproduce. They are listed, with the reason, in `ColumnKinds.excluded`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from mlops_core.exceptions import DataValidationError

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["num", "cat"]
Inferred = Literal["num", "cat", "text"]

# Evidently types an integer column with at most this many distinct values as categorical.
INTEGER_CARDINALITY_LIMIT = 10

TEXT_REASON = (
    "text (more than half of its values distinct): Evidently tests text with a trained classifier, which a "
    "stored profile cannot reproduce; list the column as categorical to test its values as categories"
)


@dataclass(frozen=True)
class ColumnKinds:
    numerical: tuple[str, ...]
    categorical: tuple[str, ...]
    excluded: dict[str, str] = field(default_factory=dict)  # column -> why it is not tested

    @property
    def columns(self) -> tuple[str, ...]:
        """Numerical then categorical: the order Evidently's DataDriftPreset reports them in."""
        return self.numerical + self.categorical


def infer_kind(column: pd.Series) -> Inferred | None:
    """Evidently's `infer_column_type`, reduced to what its DataDriftPreset looks at.

    None means Evidently would type the column as datetime, list or unknown: its preset skips such columns.
    """
    dtype = column.dtype.name
    if dtype.startswith("float"):
        return "num"
    if dtype.startswith("int"):
        return "cat" if column.nunique() <= INTEGER_CARDINALITY_LIMIT else "num"
    if dtype in ("string", "str"):
        return "text" if column.nunique() > column.count() * 0.5 else "cat"
    if dtype == "object":
        present = column.dropna()
        if present.empty or not (isinstance(present.iloc[0], str) and isinstance(present.iloc[-1], str)):
            return None
        return "text" if column.nunique() > column.count() * 0.5 else "cat"
    if dtype in ("bool", "category"):
        return "cat"
    return None


def _inferred(column: pd.Series) -> Inferred | None:
    # A column with no value at all is Evidently's "unknown", skipped in silence: here it is monitored by its
    # dtype, so the result can say it was all missing.
    if column.count() == 0:
        return "num" if column.dtype.kind == "f" else "cat"
    return infer_kind(column)


def _given_or_inferred(given: list[str] | None, inferred: dict[str, Inferred | None], kind: Inferred) -> list[str]:
    if given is not None:
        return list(dict.fromkeys(given))
    return [name for name, found in inferred.items() if found == kind]


def _exclusion(kind: Inferred | None, column: pd.Series) -> str:
    if kind == "text":
        return TEXT_REASON
    if kind is None:
        return f"{column.dtype} values: Evidently's drift preset tests numerical, categorical and text columns only"
    listed = "numerical" if kind == "num" else "categorical"
    return f"inferred as {listed}, but the {listed} columns were given and do not list it"


def resolve_column_kinds(
    frame: pd.DataFrame,
    *,
    target: str | None,
    numerical: list[str] | None = None,
    categorical: list[str] | None = None,
    text: list[str] | None = None,
) -> ColumnKinds:
    """Explicit lists win; a list left as None is inferred over the columns no other list claims, and every
    such column that ends up untested is listed in `excluded` with the reason. `text` columns are excluded.

    The target is a classification label, so it is categorical unless `numerical` lists it.
    """
    listed = [*(numerical or []), *(categorical or []), *(text or []), *([target] if target is not None else [])]
    missing = [name for name in dict.fromkeys(listed) if name not in frame.columns]
    if missing:
        raise DataValidationError(f"reference data has no column(s) {missing}")
    overlap = sorted(set(numerical or []) & set(categorical or []), key=str)
    if overlap:
        raise DataValidationError(f"column(s) {overlap} listed as both numerical and categorical")
    tested_text = sorted(set(text or []) & {*(numerical or []), *(categorical or []), target}, key=str)
    if tested_text:
        raise DataValidationError(f"column(s) {tested_text} listed as text, which is never tested, and as tested")

    claimed = {*(numerical or []), *(categorical or []), *(text or []), target}
    free = [name for name in frame.columns if name not in claimed]
    inferring = numerical is None or categorical is None or text is None
    inferred = {name: _inferred(frame[name]) for name in free} if inferring else {}
    num = _given_or_inferred(numerical, inferred, "num")
    cat = _given_or_inferred(categorical, inferred, "cat")
    excluded = {name: TEXT_REASON for name in _given_or_inferred(text, inferred, "text")}
    if target is not None and target not in num and target not in cat:
        cat.append(target)
    for name, kind in inferred.items():
        if name not in num and name not in cat and name not in excluded:
            excluded[name] = _exclusion(kind, frame[name])
    if not num and not cat:
        raise DataValidationError(f"no column to monitor: none is numerical or categorical (excluded: {excluded})")
    return ColumnKinds(tuple(num), tuple(cat), excluded)
