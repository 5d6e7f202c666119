"""One schema for both sides: each column of a batch is cast to the reference's type before any test.

A drift test compares values, so both sides must spell a value alike. Read from CSV, Parquet or an object
column, the same category arrives as 1, 1.0, "1" or a pandas Categorical, and a Python set (hence Evidently)
keys 1 and "1" apart: a target read as integers on one side and as text on the other would look like total
drift. So every categorical column is keyed either as numbers or as text, decided once from the reference,
and every side is cast to that before it is counted; numerical columns are cast to numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from mlops_core.exceptions import DataValidationError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.drift.kinds import Kind

Keys = Literal["number", "text"]

# pandas' names for object columns whose values are all numbers (or booleans, which sets key as 0 and 1).
_NUMBER_VALUES = {"integer", "floating", "mixed-integer-float", "boolean", "decimal"}
_TEXT_BOOLEANS = {"true": 1.0, "false": 0.0}
_EXAMPLES = 3


def as_text(column: pd.Series) -> pd.Series:
    """Values as Python strings with missing values kept as NaN: the form models and signatures expect.
    Whole floats lose their ".0": an integer code column turns float as soon as one value is missing."""
    import pandas as pd

    if column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        # Already text: a vectorised pass (None becomes NaN) instead of one Python call per value.
        return column.where(column.notna(), float("nan"))

    def text(value: object) -> object:
        if isinstance(value, str):
            return value
        if pd.isna(value):
            return float("nan")
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return column.map(text).astype("object")


def category_keys(column: pd.Series) -> Keys:
    """How a reference column's categories are keyed: as numbers when it holds only numbers or booleans
    (whatever its dtype: int, float, bool, a Categorical of numbers, objects), else as text."""
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        return category_keys(pd.Series(column.cat.categories))
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return "number"
    if column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) in _NUMBER_VALUES:
        return "number"
    return "text"


def as_numbers(column: pd.Series, name: str, *, source: str) -> pd.Series:
    """`column` with numbers for values: numeric and boolean dtypes as they are, text such as "1", "1.0",
    " 2.5 " or "true" parsed. A value that is not a number raises DataValidationError naming `source`, the
    column and the value."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return column
    values = column if column.dtype == object else column.astype(object)
    numbers = pd.to_numeric(values, errors="coerce").astype(np.float64)
    failed = (numbers.isna() & values.notna()).to_numpy()
    if not failed.any():
        return numbers
    raw = values.to_numpy()[failed]
    parsed = np.array([_TEXT_BOOLEANS.get(v.strip().lower(), np.nan) if isinstance(v, str) else np.nan for v in raw])
    bad = raw[np.isnan(parsed)]
    if bad.size:
        shown = ", ".join(list(dict.fromkeys(repr(v) for v in bad))[:_EXAMPLES])
        raise DataValidationError(
            f"{source}: column {name!r} holds {bad.size} value(s) that are not numbers, e.g. {shown}; "
            "the reference holds numbers there, so correct these values in the data"
        )
    filled = numbers.to_numpy(copy=True)
    filled[failed] = parsed
    return pd.Series(filled, index=column.index, name=column.name)


def as_category_text(column: pd.Series, name: str, *, source: str) -> pd.Series:
    """`column` as text categories (`as_text`); a value that is neither text nor a number (a list, say)
    raises DataValidationError naming `source`, the column and the value's type."""
    from numbers import Number

    import pandas as pd

    if column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) not in ("string", "empty"):
        for value in column.dropna():
            if not isinstance(value, str | Number):
                raise DataValidationError(
                    f"{source}: column {name!r} holds a {type(value).__name__} value ({value!r}); categories must "
                    "be strings or numbers"
                )
    return as_text(column)


def cast_column(column: pd.Series, name: str, kind: Kind, keys: Keys | None, *, source: str) -> pd.Series:
    """`column` in the reference's type: numbers for a numerical column or a categorical keyed by numbers,
    text for a categorical keyed by text. Never modifies `column`."""
    if kind == "num" or keys == "number":
        return as_numbers(column, name, source=source)
    return as_category_text(column, name, source=source)


def has_value(column: pd.Series) -> bool:
    """Whether a cast column has anything to test: a finite number, or any value at all (Evidently turns
    ±inf into NaN, then drops NaN)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return bool(np.isfinite(column.to_numpy(dtype=np.float64, na_value=np.nan)).any())
    return bool(column.notna().any())
