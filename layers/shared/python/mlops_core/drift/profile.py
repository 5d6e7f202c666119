"""The reference side of drift detection, computed once per baseline and stored as bytes.

Per numerical column: the sorted distinct values with their counts and the reference's population std,
exact while they fit `max_bytes_per_column`; above it a bounded sketch (see `_sketch`) whose error on the
K-S statistic and on the Wasserstein distance is proven and stored with it, the exact column kept apart
(`exact_columns`) for the verdicts the sketch cannot certify. Per categorical column: value counts, keyed as
numbers or as text, while they fit `max_bytes_per_column`; above it only how the column is keyed
(`CategoriesApart`), its counts kept apart (`exact_columns`) and read for every verdict on it: categorical
verdicts are never certified from partial counts. Text-like columns (mostly distinct values) are not tested at all;
see kinds. Column kinds and keys are decided here, once (see kinds and schema); columns with no value at all
and columns not tested (text) are recorded by name, so every result can say what became of them.
Serialized as an uncompressed `.npz` (a zip of `.npy` arrays, never pickled) plus a JSON header carrying
the format version. Loading maps the arrays onto the given bytes without copying: floats do not compress, and
decompressing, checksumming or copying a 1M-row, 10-column profile (40 MB) would add a sizeable share to
the time of the drift tests themselves.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from mlops_core.drift.categories import CategoriesApart, CategoryCounts, count_categories
from mlops_core.drift.kinds import Kind, resolve_column_kinds
from mlops_core.drift.schema import as_numbers, cast_column, category_keys
from mlops_core.exceptions import DataValidationError, InvalidRequestError

if TYPE_CHECKING:
    import pandas as pd

FORMAT = "mlops-drift-reference-profile"
FORMAT_VERSION = 4  # 3: bounded numerical sketches with their error bounds; 4: categorical counts bounded too
# Bytes a column's profile may take unless told otherwise (DRIFT_PROFILE_MAX_BYTES_PER_COLUMN): for a numerical
# column, exact up to about 460,000 distinct values, a sketch of about 170,000 bins above; for a categorical
# one, its counts, else only how it is keyed (the counts stored apart).
DEFAULT_MAX_BYTES_PER_COLUMN = 4 << 20
# The smallest budget accepted: a sketch needs a handful of points to say anything.
MIN_BYTES_PER_COLUMN = 1024
_SKETCH_POINT_BYTES = 12  # a float64 value and a uint32 count


@dataclass(frozen=True)
class NumericalProfile:
    """The reference's values with their counts: the column itself, or a sketch of it within known error.

    For any current sample c, a test statistic computed on these points differs from the same statistic on the
    exact reference column by at most: `cdf_error` for the K-S statistic (the largest gap between both CDFs)
    and `wasserstein_error` for the Wasserstein distance (not normed). Both are 0 for an exact profile.
    """

    values: np.ndarray  # sorted distinct finite values, float64
    counts: np.ndarray  # how often each occurs (smallest unsigned dtype that fits)
    std: float  # population std (ddof=0) of the raw values: what Evidently norms Wasserstein by
    cdf_error: float = 0.0
    wasserstein_error: float = 0.0

    @property
    def rows(self) -> int:
        return int(self.counts.sum(dtype=np.int64))

    @property
    def exact(self) -> bool:
        return self.cdf_error == 0.0 and self.wasserstein_error == 0.0


@dataclass(frozen=True)
class ReferenceProfile:
    rows: int  # rows of the reference frame, missing values included
    target: str | None
    numerical: dict[str, NumericalProfile] = field(default_factory=dict)
    # Counts per category, or `CategoriesApart` for a column whose counts exceed the bound.
    categorical: dict[str, CategoryCounts | CategoriesApart] = field(default_factory=dict)
    empty: dict[str, Kind] = field(default_factory=dict)  # monitored, but without any value in the reference
    excluded: dict[str, str] = field(default_factory=dict)  # not tested (text), with the reason
    # The exact columns behind sketched numerical profiles and the counts behind `CategoriesApart`, held only by a
    # freshly built profile: the pipeline stores each apart (`exact_column_bytes`), never inside the bounded
    # profile.
    exact_columns: dict[str, NumericalProfile | CategoryCounts] = field(default_factory=dict, compare=False, repr=False)

    @property
    def columns(self) -> list[str]:
        """Monitored columns: numerical then categorical, the order Evidently reports them in, then the
        columns that had no value in the reference."""
        return [*self.numerical, *self.categorical, *self.empty]

    def kind(self, column: str) -> Kind:
        if column in self.empty:
            return self.empty[column]
        return "num" if column in self.numerical else "cat"

    def cast(self, column: pd.Series, name: str, *, source: str) -> pd.Series:
        """`column` (of a batch) cast to the type this reference gave column `name` (see schema)."""
        keys = self.categorical[name].keys if name in self.categorical else None
        return cast_column(column, name, self.kind(name), keys, source=source)

    def to_bytes(self) -> bytes:
        arrays: dict[str, np.ndarray] = {}
        described = []
        for i, (name, num) in enumerate(self.numerical.items()):
            described.append(
                {
                    "name": name,
                    "kind": "num",
                    "std": num.std,
                    "cdf_error": num.cdf_error,
                    "wasserstein_error": num.wasserstein_error,
                }
            )
            arrays[f"{i}.values"] = num.values
            arrays[f"{i}.counts"] = num.counts
        offset = len(self.numerical)
        for i, (name, cat) in enumerate(self.categorical.items(), start=offset):
            if isinstance(cat, CategoriesApart):
                described.append(
                    {"name": name, "kind": "cat", "stored_apart": True, "keys": cat.keys, "rows": cat.rows}
                )
                continue
            described.append({"name": name, "kind": "cat"})
            arrays[f"{i}.numbers"] = cat.numbers
            arrays[f"{i}.number_counts"] = cat.number_counts
            arrays[f"{i}.labels"] = cat.labels
            arrays[f"{i}.label_counts"] = cat.label_counts
        described += [{"name": name, "kind": kind, "status": "all_missing"} for name, kind in self.empty.items()]
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "rows": self.rows,
            "target": self.target,
            "columns": described,
            "excluded": self.excluded,
        }
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            for key, array in arrays.items():
                member = io.BytesIO()
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
                archive.writestr(_aligned_member(f"{key}.npy", buffer.tell()), member.getvalue())
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ReferenceProfile:
        """The profile `to_bytes` wrote. Its arrays are read-only views of `data`, which they keep alive."""
        try:
            arrays = _stored_arrays(data)
            header = json.loads(arrays["header"].tobytes())
            if header.get("format") != FORMAT:
                raise DataValidationError("bytes are not a drift reference profile")
            if header.get("version") != FORMAT_VERSION:
                raise DataValidationError(
                    f"drift reference profile version {header.get('version')!r} is not supported "
                    f"(expected {FORMAT_VERSION}): rebuild it from the baseline"
                )
            numerical: dict[str, NumericalProfile] = {}
            categorical: dict[str, CategoryCounts | CategoriesApart] = {}
            empty: dict[str, Kind] = {}
            for i, column in enumerate(header["columns"]):
                if column.get("status") == "all_missing":
                    empty[column["name"]] = "num" if column["kind"] == "num" else "cat"
                elif column["kind"] == "num":
                    values, counts = arrays[f"{i}.values"], arrays[f"{i}.counts"]
                    if values.dtype != np.float64 or counts.dtype.kind != "u" or values.shape != counts.shape:
                        raise ValueError(f"column {column['name']!r} has malformed values or counts")
                    numerical[column["name"]] = NumericalProfile(
                        values,
                        counts,
                        float(column["std"]),
                        float(column["cdf_error"]),
                        float(column["wasserstein_error"]),
                    )
                elif column.get("stored_apart"):
                    if column["keys"] not in ("text", "number"):
                        raise ValueError(f"column {column['name']!r} has unknown keys {column['keys']!r}")
                    categorical[column["name"]] = CategoriesApart(column["keys"], int(column["rows"]))
                else:
                    categorical[column["name"]] = CategoryCounts(
                        arrays[f"{i}.numbers"],
                        arrays[f"{i}.number_counts"],
                        arrays[f"{i}.labels"],
                        arrays[f"{i}.label_counts"],
                    )
        except DataValidationError:
            raise
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
            raise DataValidationError(f"unreadable drift reference profile: {error}") from error
        excluded = {str(name): str(reason) for name, reason in dict(header["excluded"]).items()}
        return cls(int(header["rows"]), header["target"], numerical, categorical, empty, excluded)

    def exact_column_bytes(self, name: str) -> bytes:
        """The exact column behind the sketched numerical column, or the counts behind the categorical column
        kept apart, `name`: a profile of that column alone, in this profile's own format."""
        exact = self.exact_columns[name]
        if isinstance(exact, CategoryCounts):
            return ReferenceProfile(exact.rows, None, categorical={name: exact}).to_bytes()
        return ReferenceProfile(exact.rows, None, {name: exact}).to_bytes()


def exact_column_from_bytes(data: bytes, name: str) -> NumericalProfile | CategoryCounts:
    """The exact numerical column, or the categorical counts, `exact_column_bytes` wrote for `name`."""
    stored = ReferenceProfile.from_bytes(data)
    column = stored.numerical.get(name) or stored.categorical.get(name)
    if stored.columns == [name] and (
        isinstance(column, CategoryCounts) or (isinstance(column, NumericalProfile) and column.exact)
    ):
        return column
    raise DataValidationError(f"stored exact reference column is not the exact column {name!r}")


_LOCAL_HEADER = b"PK\x03\x04"
_LOCAL_HEADER_SIZE = 30  # fixed part; then the file name and the extra field
# Array data starts on a multiple of this within the bytes: numpy's slow paths for misaligned data take
# several times longer than the drift test itself. `.npy` headers already pad the data to 64 bytes.
_ALIGNMENT = 64
_PADDING_FIELD = 0xD935  # the extra-field id zipalign uses for padding; zip readers skip unknown ids


def _aligned_member(name: str, offset: int) -> zipfile.ZipInfo:
    """An uncompressed member, written at `offset`, whose content starts on an `_ALIGNMENT` boundary."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # fixed: equal profiles, equal bytes
    padding = -(offset + _LOCAL_HEADER_SIZE + len(name.encode()) + 4) % _ALIGNMENT
    info.extra = struct.pack("<HH", _PADDING_FIELD, padding) + bytes(padding)
    return info


def _stored_arrays(data: bytes) -> dict[str, np.ndarray]:
    """Every `.npy` member of an uncompressed `.npz`, as a read-only array over `data` itself (copied only
    where misaligned).

    The zip CRCs are not recomputed (that alone would take longer than loading): the integrity of stored
    objects is the object store's job. Shapes and sizes are still checked against the bytes present.
    """
    arrays = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                raise ValueError(f"member {info.filename!r} is not an uncompressed array")
            at = info.header_offset
            if data[at : at + 4] != _LOCAL_HEADER:
                raise ValueError(f"member {info.filename!r} has no local header")
            name_size = int.from_bytes(data[at + 26 : at + 28], "little")
            extra_size = int.from_bytes(data[at + 28 : at + 30], "little")
            begin = at + _LOCAL_HEADER_SIZE + name_size + extra_size
            member = io.BytesIO(data[begin : begin + min(info.file_size, 1 << 16)])  # the .npy header only
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise ValueError(f"member {info.filename!r} has .npy version {version}")
            count = math.prod(shape)
            if dtype.hasobject or fortran_order or member.tell() + count * dtype.itemsize != info.file_size:
                raise ValueError(f"member {info.filename!r} is not a plain array of its declared size")
            array = np.frombuffer(data, dtype=dtype, count=count, offset=begin + member.tell()).reshape(shape)
            if not array.flags.aligned:  # e.g. written by `np.savez`: one aligned copy beats slow passes
                array = array.copy()
            array.flags.writeable = False
            arrays[info.filename.removesuffix(".npy")] = array
    return arrays


def _numerical_profile(column: pd.Series, name: str) -> NumericalProfile | None:
    """The exact profile; None when the column has no finite value (Evidently turns ±inf into NaN, then
    drops NaN)."""
    values = as_numbers(column, name, source="reference data").to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    distinct, counts = np.unique(values, return_counts=True)
    return NumericalProfile(distinct, counts.astype(np.min_scalar_type(counts.max())), float(np.std(values)))


def _bounded(exact: NumericalProfile, max_bytes: int) -> NumericalProfile:
    """The exact profile when it fits `max_bytes`, else its sketch."""
    return exact if exact.values.nbytes + exact.counts.nbytes <= max_bytes else _sketch(exact, max_bytes)


def _sketch(exact: NumericalProfile, max_bytes: int) -> NumericalProfile:
    """At most `max_bytes` of points standing for the exact column, with proven error bounds.

    Boundaries are distinct reference values: the min and max, equal-mass quantiles (so each bin holds little
    of the mass) and the first value at or above each point of an equal-width grid (so a bin never spans a wide
    gap with mass inside: a gap without values costs nothing). Each boundary keeps its own exact count; the g
    values strictly inside a bin are replaced by g copies of their mean. Call F the exact reference CDF and F'
    the sketch's. Both agree at every boundary, and inside bin k (width w, g of the n values, values summing
    to t above the bin's left boundary) both lie within [F(v_k), F(v_k) + g/n], with equal integrals over the
    bin (equal mass, equal mean). Hence:
    - sup |F - F'| <= max_k g_k / n, which bounds the change of the K-S statistic against any current sample;
    - the integral of |F - F'| over bin k is at most g w / n, and, since both integrals agree, twice the
      smaller of t / n and (g w - t) / n; W1 obeys the triangle inequality, so the sum over bins bounds the
      change of the Wasserstein distance against any current sample.
    Rounding (the sums t, the means) adds at most (d + 4) eps (max - min) + 4 eps max|v| to the latter, d
    the number of distinct values; it is added.
    """
    values, counts = exact.values, exact.counts.astype(np.int64)
    n = int(counts.sum())
    bins = max(2, max_bytes // (2 * _SKETCH_POINT_BYTES))  # each bin: a boundary and an inside mean
    cumulative = np.cumsum(counts)
    half = max(1, bins // 2)
    by_mass = np.searchsorted(cumulative, np.linspace(0, n, half + 1)[1:-1], side="left")
    by_width = np.searchsorted(values, np.linspace(values[0], values[-1], half + 1)[1:-1], side="left")
    cuts = np.unique(np.concatenate([[0, values.size - 1], by_mass, by_width]))
    boundaries = values[cuts]
    # The bin of each distinct value: the last boundary at or before it.
    segment = np.repeat(np.arange(cuts.size), np.diff(np.append(cuts, values.size)))
    inside = np.ones(values.size, dtype=bool)
    inside[cuts] = False
    g = np.bincount(segment[inside], weights=counts[inside], minlength=cuts.size).astype(np.int64)
    t = np.bincount(segment, weights=counts * (values - boundaries[segment]), minlength=cuts.size)
    widths = np.diff(boundaries, append=boundaries[-1])
    occupied = g > 0
    means = boundaries[occupied] + t[occupied] / g[occupied]
    # A mean can only round onto its bin's edges; merging equal points keeps the values distinct.
    points = np.concatenate([boundaries, np.clip(means, boundaries[occupied], boundaries[1:][occupied[:-1]])])
    weights = np.concatenate([counts[cuts], g[occupied]])
    points, where = np.unique(points, return_inverse=True)
    weights = np.bincount(where, weights=weights).astype(np.int64)
    spread = float(values[-1] - values[0])
    eps = float(np.finfo(np.float64).eps)
    per_bin = np.minimum(g * widths, 2 * np.minimum(t, g * widths - t).clip(min=0.0))
    rounding = (values.size + 4) * eps * spread + 4 * eps * float(np.abs(values[[0, -1]]).max())
    return NumericalProfile(
        points,
        weights.astype(np.min_scalar_type(int(weights.max()))),
        exact.std,
        cdf_error=float(g.max()) / n,
        wasserstein_error=float(per_bin.sum()) / n + rounding,
    )


def _apart_if_over(counts: CategoryCounts, max_bytes: int) -> CategoryCounts | CategoriesApart:
    """The counts when they fit `max_bytes`, else what stands for them in the bounded profile."""
    return counts if counts.nbytes <= max_bytes else CategoriesApart(counts.keys, counts.rows)


def _categorical_profile(column: pd.Series, name: str) -> CategoryCounts | None:
    """None when the column has no value."""
    cast = cast_column(column, name, "cat", category_keys(column), source="reference data")
    counts = count_categories(cast, name)
    return counts if counts.rows else None


def build_profile(
    reference: pd.DataFrame,
    *,
    target: str | None,
    numerical: list[str] | None = None,
    categorical: list[str] | None = None,
    text: list[str] | None = None,
    max_bytes_per_column: int = DEFAULT_MAX_BYTES_PER_COLUMN,
) -> ReferenceProfile:
    """Profile `reference` for `detect_drift`. Kinds not given are inferred as Evidently infers them, text
    columns excluded (see `resolve_column_kinds`); the target is monitored like any other column. A column
    with no value is kept as all-missing; a value that does not fit its column's type raises
    DataValidationError. A numerical column whose exact profile exceeds `max_bytes_per_column` is sketched
    within that size; its exact profile stays in `exact_columns`. A categorical column whose counts exceed it
    keeps only `CategoriesApart`; its counts stay in `exact_columns`."""
    if max_bytes_per_column < MIN_BYTES_PER_COLUMN:
        raise InvalidRequestError(
            f"max_bytes_per_column must be at least {MIN_BYTES_PER_COLUMN}, got {max_bytes_per_column!r}",
            "max_bytes_per_column",
        )
    if len(reference) == 0:
        raise DataValidationError("reference data is empty")
    duplicated = sorted({str(c) for c in reference.columns[reference.columns.duplicated()]})
    if duplicated:
        raise DataValidationError(f"reference data repeats column name(s) {duplicated}")
    kinds = resolve_column_kinds(reference, target=target, numerical=numerical, categorical=categorical, text=text)
    exacts = {n: found for n in kinds.numerical if (found := _numerical_profile(reference[n], n)) is not None}
    numericals = {n: _bounded(exact, max_bytes_per_column) for n, exact in exacts.items()}
    sketched = {n: exacts[n] for n, profile in numericals.items() if not profile.exact}
    counted = {n: found for n in kinds.categorical if (found := _categorical_profile(reference[n], n)) is not None}
    categoricals = {n: _apart_if_over(counts, max_bytes_per_column) for n, counts in counted.items()}
    apart = {n: counted[n] for n, profile in categoricals.items() if isinstance(profile, CategoriesApart)}
    empty: dict[str, Kind] = {n: "num" for n in kinds.numerical if n not in numericals}
    empty |= {n: "cat" for n in kinds.categorical if n not in categoricals}
    held: dict[str, NumericalProfile | CategoryCounts] = {**sketched, **apart}
    return ReferenceProfile(len(reference), target, numericals, categoricals, empty, dict(kinds.excluded), held)
