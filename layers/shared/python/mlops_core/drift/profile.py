"""The reference side of drift detection, computed once per baseline and stored as bytes.

Per numerical column: the sorted distinct values with their counts (exact for K-S and Wasserstein) and
the reference's population std; per categorical column: value counts, keyed as numbers or as text. Column kinds
and keys are decided here, once (see kinds and schema); columns with no value at all and columns not tested
(text) are recorded by name, so every result can say what became of them.
Serialized as an uncompressed `.npz` (a zip of `.npy` arrays, never pickled) plus a JSON header carrying
the format version. Loading maps the arrays onto the given bytes without copying: floats do not compress, and
decompressing, checksumming or copying a 1M-row, 10-column profile (90 MB) would add a sizeable share to
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

from mlops_core.drift.categories import CategoryCounts, count_categories
from mlops_core.drift.kinds import Kind, resolve_column_kinds
from mlops_core.drift.schema import as_numbers, cast_column, category_keys
from mlops_core.exceptions import DataValidationError

if TYPE_CHECKING:
    import pandas as pd

FORMAT = "mlops-drift-reference-profile"
FORMAT_VERSION = 2  # 2: categories cast to one kind of key; all-missing and excluded columns recorded


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
    empty: dict[str, Kind] = field(default_factory=dict)  # monitored, but without any value in the reference
    excluded: dict[str, str] = field(default_factory=dict)  # not tested (text), with the reason

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
            categorical: dict[str, CategoryCounts] = {}
            empty: dict[str, Kind] = {}
            for i, column in enumerate(header["columns"]):
                if column.get("status") == "all_missing":
                    empty[column["name"]] = "num" if column["kind"] == "num" else "cat"
                elif column["kind"] == "num":
                    values, counts = arrays[f"{i}.values"], arrays[f"{i}.counts"]
                    if values.dtype != np.float64 or counts.dtype.kind != "u" or values.shape != counts.shape:
                        raise ValueError(f"column {column['name']!r} has malformed values or counts")
                    numerical[column["name"]] = NumericalProfile(values, counts, float(column["std"]))
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
    """None when the column has no finite value (Evidently turns ±inf into NaN, then drops NaN)."""
    values = as_numbers(column, name, source="reference data").to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    distinct, counts = np.unique(values, return_counts=True)
    return NumericalProfile(distinct, counts.astype(np.min_scalar_type(counts.max())), float(np.std(values)))


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
) -> ReferenceProfile:
    """Profile `reference` for `detect_drift`. Kinds not given are inferred as Evidently infers them, text
    columns excluded (see `resolve_column_kinds`); the target is monitored like any other column. A column
    with no value is kept as all-missing; a value that does not fit its column's type raises
    DataValidationError."""
    if len(reference) == 0:
        raise DataValidationError("reference data is empty")
    duplicated = sorted({str(c) for c in reference.columns[reference.columns.duplicated()]})
    if duplicated:
        raise DataValidationError(f"reference data repeats column name(s) {duplicated}")
    kinds = resolve_column_kinds(reference, target=target, numerical=numerical, categorical=categorical, text=text)
    numericals = {n: found for n in kinds.numerical if (found := _numerical_profile(reference[n], n)) is not None}
    categoricals = {n: found for n in kinds.categorical if (found := _categorical_profile(reference[n], n)) is not None}
    empty: dict[str, Kind] = {n: "num" for n in kinds.numerical if n not in numericals}
    empty |= {n: "cat" for n in kinds.categorical if n not in categoricals}
    return ReferenceProfile(len(reference), target, numericals, categoricals, empty, dict(kinds.excluded))
