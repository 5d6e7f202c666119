"""Data frames to and from S3 objects (CSV or Parquet), and which batch a run reads.

Every write is create-only: S3 rejects it (`IfNoneMatch="*"`) when the key exists, so no run can replace an
object another run wrote, even when two race.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from mlops_core import layout
from mlops_core.data.config import FORMATS, Format
from mlops_core.data.exceptions import ObjectExistsError
from mlops_core.exceptions import DataValidationError, InvalidRequestError, NotFoundError

if TYPE_CHECKING:
    import pandas as pd
    from botocore.client import BaseClient as S3Client

_EXTENSIONS: dict[str, Format] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


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


def as_text(column: pd.Series) -> pd.Series:
    """Values as Python strings with missing values kept as NaN: the form models and signatures expect.
    Whole floats lose their ".0": an integer code column turns float as soon as one value is missing."""
    import pandas as pd

    def text(value: object) -> object:
        if isinstance(value, str):
            return value
        if pd.isna(value):
            return float("nan")
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return column.map(text).astype("object")


def read_table(
    s3: S3Client, bucket: str, key: str, *, categorical: Iterable[str] = (), fmt: Format | None = None
) -> pd.DataFrame:
    fmt = fmt or format_of_key(key)
    if fmt is None:
        raise InvalidRequestError(f"s3://{bucket}/{key}: unknown format (expected .csv or .parquet)", field="key")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        raise NotFoundError(f"s3://{bucket}/{key} does not exist") from None
    return frame_from_bytes(body, fmt, categorical=categorical, source=s3_uri(bucket, key))


def exists(s3: S3Client, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def put_new(s3: S3Client, bucket: str, key: str, body: bytes, content_type: str | None = None) -> None:
    """Create `key`; ObjectExistsError if it is already there."""
    extra = {"ContentType": content_type} if content_type else {}
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", **extra)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            raise ObjectExistsError(bucket, key) from None
        raise


def put_once(
    s3: S3Client,
    bucket: str,
    key: str,
    body: bytes,
    *,
    same: Callable[[bytes], bool] | None = None,
    content_type: str | None = None,
) -> bool:
    """Create `key`, or accept the existing object when it holds the same content: True when created.
    `same(existing_body)` decides equality (bytes by default); a different object raises ObjectExistsError."""
    try:
        put_new(s3, bucket, key, body, content_type)
        return True
    except ObjectExistsError:
        existing = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if (same or body.__eq__)(existing):
            return False
        raise ObjectExistsError(bucket, key, "it holds different content") from None


def write_table(s3: S3Client, bucket: str, key: str, df: pd.DataFrame, fmt: Format | None = None) -> str:
    """Write a new object; the format comes from the key's extension unless given."""
    fmt = fmt or format_of_key(key)
    if fmt is None:
        raise InvalidRequestError(f"{key}: unknown format (expected .csv or .parquet)", field="key")
    content_type = "text/csv" if fmt == "csv" else "application/vnd.apache.parquet"
    put_new(s3, bucket, key, frame_to_bytes(df, fmt), content_type)
    return key


def latest_batch_key(s3: S3Client, bucket: str, dataset: str) -> str:
    """The newest CSV or Parquet object under the dataset's current/ prefix: by LastModified, then key, so
    two batches written within the same second still have a definite order."""
    prefix = layout.current_prefix(dataset)
    newest: tuple | None = None
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if format_of_key(obj["Key"]) is None:
                continue
            candidate = (obj["LastModified"], obj["Key"])
            if newest is None or candidate > newest:
                newest = candidate
    if newest is None:
        raise NotFoundError(f"no batch under s3://{bucket}/{prefix} (expected .csv or .parquet objects)")
    return newest[1]


def resolve_batch_key(s3: S3Client, bucket: str, dataset: str, requested: str | None = None) -> str:
    """The batch a run reads: the one named in the execution input, else the newest. A named batch must be a
    CSV or Parquet object under the dataset's own current/ prefix; a bare file name is taken relative to it."""
    if not requested:
        return latest_batch_key(s3, bucket, dataset)
    prefix = layout.current_prefix(dataset)
    key = requested
    if key.startswith("s3://"):
        named_bucket, _, key = key[len("s3://") :].partition("/")
        if named_bucket != bucket:
            raise InvalidRequestError(f"batch {requested!r} is not in the data bucket {bucket!r}", field="batch_key")
    if "/" not in key:
        key = prefix + key
    if not key.startswith(prefix) or ".." in key.split("/") or key == prefix:
        raise InvalidRequestError(f"batch {requested!r} must be an object under {prefix}", field="batch_key")
    if format_of_key(key) is None:
        raise InvalidRequestError(f"batch {requested!r} must be a .csv or .parquet file", field="batch_key")
    if not exists(s3, bucket, key):
        raise NotFoundError(f"batch s3://{bucket}/{key} does not exist")
    return key
