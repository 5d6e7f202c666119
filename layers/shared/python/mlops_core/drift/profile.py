"""The reference side of drift detection, computed once per baseline and stored as bytes.

Per numerical column: the sorted distinct values with their counts (exact for K-S and Wasserstein) and
the reference's population std; per categorical column: value counts. Column kinds are decided here, once.
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
            for i, column in enumerate(header["columns"]):
                if column["kind"] == "num":
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
        return cls(int(header["rows"]), header["target"], numerical, categorical)


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
