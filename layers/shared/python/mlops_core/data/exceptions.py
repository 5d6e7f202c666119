"""Errors of the data package, under the library's one base error."""

from __future__ import annotations

from mlops_core.exceptions import MlopsError


class ObjectExistsError(MlopsError):
    """A write would replace an existing S3 object: runs only ever add objects."""

    def __init__(self, bucket: str, key: str, detail: str = "") -> None:
        message = f"s3://{bucket}/{key} already exists and is never overwritten"
        super().__init__(f"{message}: {detail}" if detail else message)
        self.bucket = bucket
        self.key = key
