"""Data frames to and from S3 objects (CSV or Parquet), and which batch a run reads.

Every write is create-only (the ObjectStore port refuses a taken key), so no run can replace an object another
run wrote, even when two race.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from mlops_core import layout
from mlops_core.data.config import FORMATS, Format
from mlops_core.data.exceptions import ObjectExistsError
from mlops_core.drift.schema import as_text
from mlops_core.exceptions import DataValidationError, InvalidRequestError, NotFoundError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.ports import ObjectStore

_EXTENSIONS: dict[str, Format] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def extension(fmt: Format) -> str:
    if fmt not in FORMATS:
        raise InvalidRequestError(f"format {fmt!r} must be one of {', '.join(FORMATS)}", field="format")
    return f".{fmt}"


def format_of_key(key: str) -> Format | None:
    """The format a key's extension names, or None for any other object."""
    for ext, fmt in _EXTENSIONS.items():
        if key.lower().endswith(ext):
            return fmt
    return None


def frame_to_bytes(df: pd.DataFrame, fmt: Format) -> bytes:
    extension(fmt)
    buffer = io.BytesIO()
    if fmt == "csv":
        buffer.write(df.to_csv(index=False).encode("utf-8"))
    else:
        df.to_parquet(buffer, index=False)
    return buffer.getvalue()


def frame_from_bytes(
    body: bytes, fmt: Format, *, categorical: Iterable[str] = (), source: str = "data"
) -> pd.DataFrame:
    """Parse CSV or Parquet; categorical columns come back as text (CSV would turn codes like "1" into ints)."""
    import pandas as pd

    extension(fmt)
    if not body.strip():
        raise DataValidationError(f"{source} is an empty file")
    try:
        if fmt == "csv":
            df = pd.read_csv(io.BytesIO(body), dtype={c: "object" for c in categorical})
        else:
            df = pd.read_parquet(io.BytesIO(body))
    except Exception as exc:  # parsers raise many types for a corrupt file; all mean the same to the run
        raise DataValidationError(f"{source} is not readable {fmt}: {exc}") from None
    for column in categorical:
        if column in df.columns:
            df[column] = as_text(df[column])
    return df


def read_table(
    store: ObjectStore, key: str, *, categorical: Iterable[str] = (), fmt: Format | None = None
) -> pd.DataFrame:
    fmt = fmt or format_of_key(key)
    if fmt is None:
        raise InvalidRequestError(f"{store.uri(key)}: unknown format (expected .csv or .parquet)", field="key")
    return frame_from_bytes(store.get(key), fmt, categorical=categorical, source=store.uri(key))


def put_once(
    store: ObjectStore,
    key: str,
    body: bytes,
    *,
    same: Callable[[bytes], bool] | None = None,
    content_type: str | None = None,
) -> bool:
    """Create `key`, or accept the existing object when it holds the same content: True when created.
    `same(existing_body)` decides equality (bytes by default); a different object raises ObjectExistsError."""
    try:
        store.put_new(key, body, content_type)
        return True
    except ObjectExistsError:
        existing = store.get(key)
        if (same or body.__eq__)(existing):
            return False
        raise ObjectExistsError(store.bucket, key, "it holds different content") from None


def put_if_absent(store: ObjectStore, key: str, body: bytes, content_type: str | None = None) -> bool:
    """Create `key` unless it exists, whatever it holds: the first writer wins. True when this call created it.

    For objects a retried or concurrent step derives again from the same inputs (a split, a profile, a
    rendering): the copy already there is as good, so it is kept without being read back."""
    try:
        store.put_new(key, body, content_type)
        return True
    except ObjectExistsError:
        return False


def write_table(store: ObjectStore, key: str, df: pd.DataFrame, fmt: Format | None = None) -> str:
    """Write a new object; the format comes from the key's extension unless given."""
    fmt = fmt or format_of_key(key)
    if fmt is None:
        raise InvalidRequestError(f"{key}: unknown format (expected .csv or .parquet)", field="key")
    content_type = "text/csv" if fmt == "csv" else "application/vnd.apache.parquet"
    store.put_new(key, frame_to_bytes(df, fmt), content_type)
    return key


def latest_batch_key(store: ObjectStore, dataset: str) -> str:
    """The newest CSV or Parquet object under the dataset's current/ prefix: by LastModified, then key, so
    two batches written within the same second still have a definite order."""
    prefix = layout.current_prefix(dataset)
    batches = [(obj.last_modified, obj.key) for obj in store.list(prefix) if format_of_key(obj.key) is not None]
    if not batches:
        raise NotFoundError(f"no batch under {store.uri(prefix)} (expected .csv or .parquet objects)")
    return max(batches)[1]


def resolve_batch_key(store: ObjectStore, dataset: str, requested: str | None = None) -> str:
    """The batch a run reads: the one named in the execution input, else the newest. A named batch must be a
    CSV or Parquet object under the dataset's own current/ prefix; a bare file name is taken relative to it."""
    if not requested:
        return latest_batch_key(store, dataset)
    prefix = layout.current_prefix(dataset)
    key = requested
    if key.startswith("s3://"):
        named_bucket, _, key = key[len("s3://") :].partition("/")
        if named_bucket != store.bucket:
            raise InvalidRequestError(
                f"batch {requested!r} is not in the data bucket {store.bucket!r}", field="batch_key"
            )
    if "/" not in key:
        key = prefix + key
    if not key.startswith(prefix) or ".." in key.split("/") or key == prefix:
        raise InvalidRequestError(f"batch {requested!r} must be an object under {prefix}", field="batch_key")
    if format_of_key(key) is None:
        raise InvalidRequestError(f"batch {requested!r} must be a .csv or .parquet file", field="batch_key")
    if store.head(key) is None:
        raise NotFoundError(f"batch {store.uri(key)} does not exist")
    return key
