"""ObjectStore in memory, with S3's create-only semantics and ETags, and a log of every write."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from mlops_core.data import ObjectExistsError
from mlops_core.exceptions import NotFoundError
from mlops_core.ports import StoredObject

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class InMemoryObjectStore:
    def __init__(self, bucket: str = "bucket") -> None:
        self._bucket = bucket
        self.objects: dict[str, bytes] = {}
        self.content_types: dict[str, str | None] = {}
        self.modified: dict[str, datetime] = {}
        self.writes: list[str] = []  # keys in the order they were created
        self.reads: list[str] = []  # keys in the order they were read
        self._tick = 0

    @property
    def bucket(self) -> str:
        return self._bucket

    def uri(self, key: str) -> str:
        return f"s3://{self._bucket}/{key}"

    def get(self, key: str) -> bytes:
        if key not in self.objects:
            raise NotFoundError(f"{self.uri(key)} does not exist")
        self.reads.append(key)
        return self.objects[key]

    def head(self, key: str) -> StoredObject | None:
        if key not in self.objects:
            return None
        body = self.objects[key]
        return StoredObject(key, f'"{hashlib.md5(body).hexdigest()}"', self.modified[key], len(body))

    def put_new(self, key: str, body: bytes, content_type: str | None = None) -> None:
        if key in self.objects:
            raise ObjectExistsError(self._bucket, key)
        self._tick += 1
        self.objects[key] = bytes(body)
        self.content_types[key] = content_type
        # Every write is a second later than the one before, so "newest" is always defined.
        self.modified[key] = _EPOCH + timedelta(seconds=self._tick)
        self.writes.append(key)

    def put(self, key: str, body: bytes, content_type: str | None = None) -> None:
        """Create or replace; a replacement is logged in `writes` like a creation."""
        self.objects.pop(key, None)
        self.put_new(key, body, content_type)

    def list(self, prefix: str) -> Iterator[StoredObject]:
        for key in sorted(self.objects):
            if key.startswith(prefix):
                found = self.head(key)
                assert found is not None
                yield found

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(key for key in self.objects if key.startswith(prefix))
