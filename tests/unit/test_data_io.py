"""Frames to and from an S3 bucket (moto, through the S3ObjectStore adapter): formats, the no-overwrite rule, and
which batch a run reads."""

from __future__ import annotations

import time

import boto3
import numpy as np
import pandas as pd
import pytest
from mlops_core.adapters import S3ObjectStore
from mlops_core.data import (
    ObjectExistsError,
    latest_batch_key,
    put_if_absent,
    put_once,
    read_table,
    resolve_batch_key,
)
from mlops_core.data.io import frame_from_bytes, frame_to_bytes, write_table
from mlops_core.exceptions import DataValidationError, InvalidRequestError, NotFoundError

BUCKET = "data"
CURRENT = "datasets/penguins/current/"


@pytest.fixture
def store(aws):
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return S3ObjectStore(client, BUCKET)


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "island": ["Dream", None, "Biscoe"],
            "code": ["01", "2", None],  # category codes that CSV would read as numbers
            "mass": [3750.0, np.nan, 4100.5],
            "count": [1, 2, 3],
            "species": ["Adelie", "Gentoo", "Adelie"],
        }
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip_keeps_values_and_categorical_text(frame, fmt) -> None:
    back = frame_from_bytes(frame_to_bytes(frame, fmt), fmt, categorical=["island", "code"])
    assert list(back.columns) == list(frame.columns)
    assert back["code"].tolist()[:2] == ["01", "2"] and pd.isna(back["code"].iloc[2])
    assert back["island"].iloc[0] == "Dream" and pd.isna(back["island"].iloc[1])
    assert back["mass"].iloc[2] == 4100.5 and np.isnan(back["mass"].iloc[1])
    assert back["count"].dtype.kind == "i"


def test_csv_without_categorical_hint_reads_codes_as_numbers(frame) -> None:
    # Why categorical columns must be named when reading CSV.
    assert frame_from_bytes(frame_to_bytes(frame, "csv"), "csv")["code"].dtype.kind == "f"


@pytest.mark.parametrize(
    ("body", "fmt", "message"),
    [
        (b"", "csv", "empty file"),
        (b"  \n", "csv", "empty file"),
        (b"not parquet at all", "parquet", "not readable parquet"),
        (b'a,b\n1,"unterminated\n', "csv", "not readable csv"),
    ],
)
def test_unreadable_files_are_validation_errors(body, fmt, message) -> None:
    with pytest.raises(DataValidationError, match=message):
        frame_from_bytes(body, fmt, source="s3://data/x")


def test_read_table_errors(store) -> None:
    with pytest.raises(NotFoundError, match=r"s3://data/datasets/penguins/current/none\.csv does not exist"):
        read_table(store, CURRENT + "none.csv")
    with pytest.raises(InvalidRequestError, match="unknown format"):
        read_table(store, CURRENT + "batch.xlsx")


def test_writes_never_overwrite(store, frame) -> None:
    key = write_table(store, CURRENT + "a.parquet", frame)
    before = store.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with pytest.raises(ObjectExistsError, match="already exists and is never overwritten"):
        write_table(store, key, frame.head(1))
    with pytest.raises(ObjectExistsError):
        store.put_new(key, b"other")
    assert store.client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == before
    pd.testing.assert_frame_equal(read_table(store, key), frame)


def test_put_once_accepts_identical_content_only(store) -> None:
    assert put_once(store, "k.json", b"{}") is True
    assert put_once(store, "k.json", b"{}") is False
    assert put_once(store, "k.json", b"{ }", same=lambda old: old.replace(b" ", b"") == b"{}") is False
    with pytest.raises(ObjectExistsError, match="holds different content"):
        put_once(store, "k.json", b'{"a": 1}')
    assert store.get("k.json") == b"{}"


def test_put_if_absent_keeps_the_first_write_whatever_the_second_holds(store) -> None:
    assert put_if_absent(store, "page.html", b"<p>first</p>", "text/html") is True
    assert put_if_absent(store, "page.html", b"<p>second</p>", "text/html") is False
    assert store.get("page.html") == b"<p>first</p>"


def test_latest_batch_is_the_newest_data_file(store) -> None:
    with pytest.raises(NotFoundError, match="no batch under s3://data/datasets/penguins/current/"):
        latest_batch_key(store, "penguins")
    store.client.put_object(Bucket=BUCKET, Key=CURRENT + "b-old.csv", Body=b"a\n1\n")
    time.sleep(1.1)  # S3 LastModified has one-second resolution
    store.client.put_object(Bucket=BUCKET, Key=CURRENT + "a-new.parquet", Body=b"x")
    store.client.put_object(Bucket=BUCKET, Key=CURRENT + "z-notes.txt", Body=b"not data")
    store.client.put_object(Bucket=BUCKET, Key="datasets/iris/current/z-other-dataset.csv", Body=b"a\n1\n")
    assert latest_batch_key(store, "penguins") == CURRENT + "a-new.parquet"
    # Same second: the key breaks the tie.
    store.client.put_object(Bucket=BUCKET, Key=CURRENT + "a-new2.csv", Body=b"a\n1\n")
    assert latest_batch_key(store, "penguins") == CURRENT + "a-new2.csv"


def test_resolve_batch_key_takes_a_named_batch_under_current_only(store) -> None:
    store.client.put_object(Bucket=BUCKET, Key=CURRENT + "named.csv", Body=b"a\n1\n")
    assert resolve_batch_key(store, "penguins") == CURRENT + "named.csv"
    assert resolve_batch_key(store, "penguins", CURRENT + "named.csv") == CURRENT + "named.csv"
    assert resolve_batch_key(store, "penguins", "named.csv") == CURRENT + "named.csv"
    assert resolve_batch_key(store, "penguins", f"s3://{BUCKET}/{CURRENT}named.csv") == CURRENT + "named.csv"
    with pytest.raises(NotFoundError, match="does not exist"):
        resolve_batch_key(store, "penguins", CURRENT + "missing.csv")


@pytest.mark.parametrize(
    "requested",
    [
        "datasets/penguins/baseline.csv",
        "datasets/iris/current/batch.csv",
        CURRENT + "../baseline.csv",
        CURRENT,
        CURRENT + "notes.txt",
        "s3://other-bucket/" + CURRENT + "named.csv",
        "/etc/passwd",
    ],
)
def test_resolve_batch_key_rejects_other_objects(store, requested) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        resolve_batch_key(store, "penguins", requested)
    assert caught.value.field == "batch_key"
    assert repr(requested) in str(caught.value)
