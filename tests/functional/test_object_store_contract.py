"""One contract, two implementations: the S3 adapter (on moto's S3) and the in-memory fake the step tests use.
If the fake drifted from S3's behaviour, the fast tests would prove things about a store that does not exist."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from mlops_core.adapters import S3ObjectStore
from mlops_core.data import ObjectExistsError
from mlops_core.exceptions import NotFoundError

from tests.fakes import InMemoryObjectStore


@pytest.fixture(params=["s3", "memory"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return InMemoryObjectStore("data")
    request.getfixturevalue("aws")
    client = boto3.client("s3")
    client.create_bucket(Bucket="data")
    return S3ObjectStore(client, "data")


def test_a_new_object_can_be_read_back_with_its_metadata(store) -> None:
    store.put_new("a/b.json", b'{"x": 1}', "application/json")
    assert store.get("a/b.json") == b'{"x": 1}'
    head = store.head("a/b.json")
    assert head.key == "a/b.json" and head.size == 8
    assert head.etag.startswith('"') and head.etag.endswith('"')
    assert head.last_modified.tzinfo is not None
    assert store.uri("a/b.json") == "s3://data/a/b.json" and store.bucket == "data"


def test_the_same_content_has_the_same_etag_and_other_content_another(store) -> None:
    store.put_new("one", b"same")
    store.put_new("two", b"same")
    store.put_new("three", b"other")
    assert store.head("one").etag == store.head("two").etag != store.head("three").etag


def test_a_taken_key_is_never_overwritten(store) -> None:
    store.put_new("k", b"first")
    with pytest.raises(ObjectExistsError, match="s3://data/k already exists"):
        store.put_new("k", b"second")
    assert store.get("k") == b"first"


def test_a_missing_object_is_not_found_or_none(store) -> None:
    with pytest.raises(NotFoundError, match="s3://data/nope does not exist"):
        store.get("nope")
    assert store.head("nope") is None


def test_listing_is_by_prefix(store) -> None:
    for key in ("p/1.csv", "p/2.csv", "q/3.csv", "p"):
        store.put_new(key, b"x")
    assert sorted(obj.key for obj in store.list("p/")) == ["p/1.csv", "p/2.csv"]
    assert list(store.list("none/")) == []
