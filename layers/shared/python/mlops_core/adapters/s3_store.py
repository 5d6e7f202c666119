"""ObjectStore over one S3 bucket through boto3 (the endpoint, credentials and region come from the environment)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlops_core.data.exceptions import ObjectExistsError
from mlops_core.exceptions import NotFoundError
from mlops_core.ports import StoredObject

# S3 answers a create-only write on a taken key with 412; a racing writer may see 409 instead.
_TAKEN = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class S3ObjectStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self._bucket = bucket

    @property
    def bucket(self) -> str:
        return self._bucket

    def uri(self, key: str) -> str:
        return f"s3://{self._bucket}/{key}"

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise NotFoundError(f"{self.uri(key)} does not exist") from None

    def head(self, key: str) -> StoredObject | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise
        return StoredObject(key, head["ETag"], head["LastModified"], int(head["ContentLength"]))

    def put_new(self, key: str, body: bytes, content_type: str | None = None) -> None:
        from botocore.exceptions import ClientError

        extra = {"ContentType": content_type} if content_type else {}
        try:
            self.client.put_object(Bucket=self._bucket, Key=key, Body=body, IfNoneMatch="*", **extra)
        except ClientError as exc:
            if _code(exc) in _TAKEN:
                raise ObjectExistsError(self._bucket, key) from None
            raise

    def put(self, key: str, body: bytes, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else {}
        self.client.put_object(Bucket=self._bucket, Key=key, Body=body, **extra)

    def list(self, prefix: str) -> Iterator[StoredObject]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                yield StoredObject(obj["Key"], obj["ETag"], obj["LastModified"], int(obj["Size"]))


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
