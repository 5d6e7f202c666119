"""Request records checked against the model signature and turned into the frame the model expects."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_core.exceptions import ConfigurationError, InvalidRequestError
from mlops_core.quoting import echo

if TYPE_CHECKING:
    import pandas as pd

_FLOAT_TYPES = frozenset({"double", "float"})
_INTEGER_TYPES = frozenset({"long", "integer", "int"})
_STRING_TYPES = frozenset({"string", "str"})
_BOOLEAN_TYPES = frozenset({"boolean", "bool"})
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# Tree models (scikit-learn's, LightGBM's) cast their input to float32: a larger finite number becomes infinity
# there and fails the prediction. Every numeric feature is held to what float32 can represent.
MAX_MAGNITUDE = 3.4028235e38
_KNOWN_TYPES = _FLOAT_TYPES | _INTEGER_TYPES | _STRING_TYPES | _BOOLEAN_TYPES


@dataclass(frozen=True)
class FeatureSchema:
    """Names and MLflow type names of the model inputs; `optional` ones accept JSON null as a missing value."""

    names: tuple[str, ...]
    types: tuple[str, ...]
    optional: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if len(self.names) != len(self.types):
            raise ConfigurationError("model signature: feature names and types differ in length")
        for name, kind in zip(self.names, self.types, strict=True):
            if kind not in _KNOWN_TYPES:
                raise ConfigurationError(f"model signature: feature {name!r} has type {kind!r}, not a scalar")

    @classmethod
    def of(cls, names: Sequence[str], types: Sequence[str], optional: Iterable[str] = ()) -> FeatureSchema:
        return cls(tuple(names), tuple(str(t).lower() for t in types), frozenset(optional))


def _check_value(value: Any, kind: str, optional: bool, where: str) -> Any:
    if value is None:
        if optional:
            return None
        raise InvalidRequestError("value is required (null is not accepted for this feature)", where)
    if kind in _STRING_TYPES:
        if not isinstance(value, str):
            raise InvalidRequestError("must be a string (categorical feature)", where)
        return value
    if kind in _BOOLEAN_TYPES:
        if not isinstance(value, bool):
            raise InvalidRequestError("must be true or false", where)
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequestError("must be a number", where)
    try:
        number = float(value)
    except OverflowError:
        raise InvalidRequestError("number is out of range", where) from None
    if not math.isfinite(number):
        raise InvalidRequestError("must be a finite number (NaN and infinity are not accepted)", where)
    if abs(number) > MAX_MAGNITUDE:
        raise InvalidRequestError(f"number is out of range: its magnitude must be at most {MAX_MAGNITUDE:.8g}", where)
    if kind in _INTEGER_TYPES:
        if not number.is_integer():
            raise InvalidRequestError("must be a whole number", where)
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise InvalidRequestError("number is out of range", where)
        return int(value)
    return number


def validate_records(records: Sequence[dict[str, Any]], schema: FeatureSchema, prefixes: Sequence[str]) -> list[list]:
    """Column-wise values of the records; raises InvalidRequestError naming the first bad field."""
    expected = set(schema.names)
    columns: list[list] = [[None] * len(records) for _ in schema.names]
    specs = [
        (index, name, kind, name in schema.optional)
        for index, (name, kind) in enumerate(zip(schema.names, schema.types, strict=True))
    ]
    for row, (record, prefix) in enumerate(zip(records, prefixes, strict=True)):
        if len(record) != len(expected) or record.keys() != expected:
            _raise_key_mismatch(record, schema, prefix)
        for index, name, kind, optional in specs:
            columns[index][row] = _check_value(record[name], kind, optional, f"{prefix}.{name}")
    return columns


def _raise_key_mismatch(record: dict[str, Any], schema: FeatureSchema, prefix: str) -> None:
    for name in schema.names:
        if name not in record:
            raise InvalidRequestError(f"missing feature {name!r}", f"{prefix}.{name}")
    for name in record:
        if name not in schema.names:
            raise InvalidRequestError(
                f"unknown feature {echo(name)}: the model takes {list(schema.names)}", f"{prefix}.{name}"
            )


def to_frame(columns: list[list], schema: FeatureSchema) -> pd.DataFrame:
    """The frame with the signature's columns and dtypes, built column-wise (cheaper than from records)."""
    import numpy as np
    import pandas as pd

    data = {}
    for name, kind, values in zip(schema.names, schema.types, columns, strict=True):
        if kind in _FLOAT_TYPES:
            data[name] = np.array(values, dtype=np.float64)
        elif kind in _INTEGER_TYPES:
            has_missing = any(value is None for value in values)
            data[name] = np.array(values, dtype=np.float64 if has_missing else np.int64)
        else:
            # Missing categories as NaN, as pandas read them at training time: imputers look for NaN, not None.
            data[name] = np.array([np.nan if value is None else value for value in values], dtype=object)
    return pd.DataFrame(data, copy=False)
