"""The drift verdict: a current batch against a stored reference profile, column by column."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mlops_core.drift import methods
from mlops_core.drift.categories import CategoriesApart, CategoryCounts, align_counts, count_categories
from mlops_core.drift.certify import screen_wasserstein, sketch_score
from mlops_core.drift.kinds import Kind
from mlops_core.drift.schema import as_numbers, cast_column, has_value
from mlops_core.exceptions import DataValidationError, InvalidRequestError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.drift.profile import NumericalProfile, ReferenceProfile


Status = Literal["tested", "all_missing"]
Side = Literal["reference", "current", "both"]
# "profile": the stored profile alone decided (exact counts, or a sketch whose error bound keeps the score off
# the threshold); "exact": the sketch could not certify it, or the column's counts exceed the profile's bound,
# so the exact reference column stored apart did.
DecidedBy = Literal["profile", "exact"]
# The exact reference column `name`: a NumericalProfile for a sketched numerical column, CategoryCounts for a
# categorical one kept apart.
ExactColumns = Callable[[str], "NumericalProfile | CategoryCounts"]


@dataclass(frozen=True)
class ColumnDriftResult:
    column_type: Kind
    method: str | None  # None when the column could not be tested
    score: float | None  # a p-value in [0, 1] or a finite distance, never NaN; None when not tested
    threshold: float | None
    drifted: bool
    status: Status = "tested"
    missing_in: Side | None = None  # for "all_missing": the side(s) with no value at all
    decided_by: DecidedBy | None = "profile"  # None when not tested
    # Proven bound on |score - the exact score| (0 when computed exactly); the verdict is exact regardless.
    score_error: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "column_type": self.column_type,
            "status": self.status,
            "method": self.method,
            "score": self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "missing_in": self.missing_in,
            "decided_by": self.decided_by,
        }


def _all_missing(kind: Kind, side: Side) -> ColumnDriftResult:
    return ColumnDriftResult(kind, None, None, None, False, "all_missing", side, None)


@dataclass(frozen=True)
class DriftResult:
    detected: bool
    share_of_drifted_columns: float
    number_of_drifted_columns: int
    number_of_columns: int  # the columns the share counts: tested ones, the target only when it counts
    drift_share: float
    columns: dict[str, ColumnDriftResult]  # every monitored column, the target and all-missing ones included
    excluded_columns: dict[str, str] = field(default_factory=dict)  # not tested, with the reason
    target: str | None = None
    target_in_share: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The drift fields of the pipeline's `DriftOutput`, JSON-safe."""
        target = self.columns.get(self.target) if self.target is not None else None
        return {
            "detected": self.detected,
            "share_of_drifted_columns": self.share_of_drifted_columns,
            "number_of_drifted_columns": self.number_of_drifted_columns,
            "number_of_columns": self.number_of_columns,
            "drift_share": self.drift_share,
            "columns": {name: column.to_dict() for name, column in self.columns.items()},
            "excluded_columns": dict(self.excluded_columns),
            "target_drift": None
            if target is None
            else {"column": self.target, "counted_in_share": self.target_in_share, **target.to_dict()},
        }


def _run(
    kind: Kind,
    method: methods.Method,
    score: float,
    column: str,
    decided_by: DecidedBy = "profile",
    *,
    score_error: float = 0.0,
) -> ColumnDriftResult:
    if not math.isfinite(score):
        # Cleaned, non-empty inputs never produce this; refusing beats writing NaN into the run state.
        raise DataValidationError(f"drift score of column {column!r} is not finite ({score})")
    drifted = bool(method.drifted(score))
    return ColumnDriftResult(
        kind, method.name, score, method.threshold, drifted, decided_by=decided_by, score_error=score_error
    )


def _distinct_counts(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    return sorted_values[starts], np.diff(np.r_[starts, sorted_values.size])


def _finite(values: np.ndarray) -> np.ndarray:
    """The finite values (Evidently turns ±inf into NaN, then drops NaN). `values` may be the caller's frame
    memory: it is only ever read, and sorted as a copy (numpy's own sort, vectorised with AVX-512 where the
    CPU has it, sorts a million floats in about 10 ms)."""
    if values.size and math.isfinite(values.min()) and math.isfinite(values.max()):
        return values  # min and max are NaN if any value is: one pass each, no mask
    return values[np.isfinite(values)]


def _numerical_drift(
    name: str, reference: NumericalProfile, column: pd.Series, source: str, exact_column: ExactColumns
) -> ColumnDriftResult:
    finite = _finite(as_numbers(column, name, source=source).to_numpy(dtype=np.float64, na_value=np.nan))
    if finite.size == 0:
        return _all_missing("num", "current")
    current = np.sort(finite) if reference.exact else None  # a sketch may decide without sorting

    # Only "more than 5 distinct values in both sides together" matters to the selection: count them
    # only when the reference has few.
    aligned = None
    n_values = 6
    if current is not None and reference.values.size <= 5 and np.count_nonzero(current[1:] != current[:-1]) < 5:
        keys, counts = _distinct_counts(current)
        none, no_counts = np.array([], dtype=str), np.array([], dtype=np.int64)
        aligned = align_counts(
            CategoryCounts(reference.values, reference.counts.astype(np.int64), none, no_counts),
            CategoryCounts(keys, counts, none, no_counts),
        )
        n_values = aligned[0].size
    method = methods.select_method("num", reference.rows, n_values)
    if aligned is not None and method not in (methods.KS, methods.WASSERSTEIN):
        # The count-based methods are only chosen for at most 5 values: an exact profile, never a sketch.
        return _counted_drift("num", name, *aligned, reference.rows)
    decided_by: DecidedBy = "profile"
    if not reference.exact:
        # Cheapest first: counts of the unsorted batch over a grid, then the sketch against the sorted batch,
        # then the exact column; each bound is proven, so the first that certifies decides.
        screened = screen_wasserstein(reference, finite) if method is methods.WASSERSTEIN else None
        if screened is not None and screened.certifies(method):
            return _run("num", method, screened.score, name, score_error=screened.error)
        current = np.sort(finite)
        bounded = sketch_score(method, reference, current)
        if bounded is not None and bounded.certifies(method):
            return _run("num", method, bounded.score, name, score_error=bounded.error)
        exact = exact_column(name)
        if isinstance(exact, CategoryCounts):
            raise DataValidationError(f"the exact reference column read for numerical column {name!r} holds counts")
        reference, decided_by = exact, "exact"
    elif current is None:
        current = np.sort(finite)
    if method is methods.KS:
        score = methods.ks_p_value(reference.values, reference.counts, current)
    else:
        score = methods.normed_wasserstein(reference.values, reference.counts, reference.std, current)
    return _run("num", method, score, name, decided_by)


def _counted_drift(
    kind: Kind,
    name: str,
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    reference_rows: int,
    decided_by: DecidedBy = "profile",
) -> ColumnDriftResult:
    method = methods.select_method(kind, reference_rows, ref_counts.size)
    if method is methods.Z_TEST:
        score = methods.z_test_p_value(ref_counts, cur_counts)
    elif method is methods.CHI_SQUARE:
        score = methods.chi_square_p_value(ref_counts, cur_counts)
    else:
        score = methods.jensen_shannon_distance(ref_counts, cur_counts)
    return _run(kind, method, score, name, decided_by)


def _categorical_drift(
    name: str,
    reference: CategoryCounts | CategoriesApart,
    column: pd.Series,
    source: str,
    exact_column: ExactColumns,
) -> ColumnDriftResult:
    current = count_categories(cast_column(column, name, "cat", reference.keys, source=source), name)
    if current.rows == 0:
        return _all_missing("cat", "current")
    decided_by: DecidedBy = "profile"
    if isinstance(reference, CategoriesApart):
        # Count-based tests are never certified from partial counts: the column's exact counts always decide.
        exact = exact_column(name)
        if not isinstance(exact, CategoryCounts) or exact.keys != reference.keys or exact.rows != reference.rows:
            raise DataValidationError(f"the exact reference counts read for column {name!r} are not its counts")
        reference, decided_by = exact, "exact"
    ref_counts, cur_counts = align_counts(reference, current)
    return _counted_drift("cat", name, ref_counts, cur_counts, reference.rows, decided_by)


def _empty_in_reference(kind: Kind, column: pd.Series) -> ColumnDriftResult:
    return _all_missing(kind, "reference" if has_value(column) else "both")


def _held_exact_columns(profile: ReferenceProfile) -> ExactColumns:
    def exact_column(name: str) -> NumericalProfile | CategoryCounts:
        if name not in profile.exact_columns:
            why = "its counts are stored apart" if name in profile.categorical else "its sketch cannot certify it"
            raise DataValidationError(
                f"column {name!r} needs its exact reference column ({why}), "
                "which this profile does not hold: pass exact_column, reading what exact_column_bytes stored"
            )
        return profile.exact_columns[name]

    return exact_column


def detect_drift(
    profile: ReferenceProfile,
    current: pd.DataFrame,
    *,
    drift_share: float = 0.5,
    target_in_share: bool = True,
    source: str = "current batch",
    exact_column: ExactColumns | None = None,
) -> DriftResult:
    """Per-column drift of `current` against `profile` with Evidently 0.7's default DataDriftPreset
    tests and thresholds; the dataset drifts when the share of drifted columns is at least `drift_share`.

    Each column is first cast to the type the reference gave it (mlops_core.drift.schema), so 1, 1.0 and "1"
    are one category of an integer column whatever the batch's file format; a value that does not fit raises
    DataValidationError naming `source`, the column and the value. Missing values and ±inf are dropped per
    column, as Evidently does. A column with no value left on either side is reported as all-missing and
    left out of the share (Evidently skips such a column); the target counts toward the share only when
    `target_in_share`. Columns the profile excluded (text) are listed with the reason.

    A sketched numerical column is decided by its profile when the sketch's error bound certifies the verdict,
    else by its exact reference column: `exact_column(name)` (the pipeline reads it from the object store;
    by default the profile's own `exact_columns`, which only a freshly built profile holds). A categorical
    column whose counts the profile keeps apart (`CategoriesApart`) is always decided by its exact counts,
    `exact_column(name)` too. Each column says which decided (`decided_by`).
    """
    exact_column = exact_column or _held_exact_columns(profile)
    if not 0.0 <= drift_share <= 1.0:
        raise InvalidRequestError(f"drift_share must be within [0, 1], got {drift_share!r}", "drift_share")
    if len(current) == 0:
        raise DataValidationError(f"{source} is empty")
    missing = [name for name in profile.columns if name not in current.columns]
    if missing:
        raise DataValidationError(f"{source} lacks monitored column(s) {missing}")
    duplicated = sorted({str(c) for c in current.columns[current.columns.duplicated()]})
    if duplicated:
        raise DataValidationError(f"{source} repeats column name(s) {duplicated}")

    results: dict[str, ColumnDriftResult] = {}
    # numpy's sort and arithmetic release the GIL, so numerical columns run side by side on all cores.
    with ThreadPoolExecutor(max_workers=max(1, min(len(profile.numerical), os.cpu_count() or 1))) as pool:
        futures = {
            name: pool.submit(_numerical_drift, name, numerical, current[name], source, exact_column)
            for name, numerical in profile.numerical.items()
        }
        for name, future in futures.items():
            results[name] = future.result()
    for name, categorical in profile.categorical.items():
        results[name] = _categorical_drift(name, categorical, current[name], source, exact_column)
    for name, kind in profile.empty.items():
        results[name] = _empty_in_reference(kind, profile.cast(current[name], name, source=source))

    counted = [
        result
        for name, result in results.items()
        if result.status == "tested" and (target_in_share or name != profile.target)
    ]
    if not counted:
        why = [
            f"{name} (the target, not counted)"
            if result.status == "tested"
            else f"{name} (no value in {result.missing_in})"
            for name, result in results.items()
        ]
        raise DataValidationError(f"{source}: no column can count toward the drift share: {', '.join(why)}")
    drifted = sum(result.drifted for result in counted)
    share = drifted / len(counted)
    return DriftResult(
        detected=share >= drift_share,
        share_of_drifted_columns=share,
        number_of_drifted_columns=drifted,
        number_of_columns=len(counted),
        drift_share=float(drift_share),
        columns=results,
        excluded_columns=dict(profile.excluded),
        target=profile.target if profile.target in results else None,
        target_in_share=target_in_share,
    )
