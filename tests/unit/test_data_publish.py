"""publish_dataset and conflicting_keys on S3 (moto): the one write path of demo sets and users' datasets."""

from __future__ import annotations

import boto3
import pandas as pd
import pytest
from mlops_core import layout
from mlops_core.adapters import S3ObjectStore
from mlops_core.data import DatasetConfig, ObjectExistsError, load_dataset_config, read_table
from mlops_core.data.io import frame_to_bytes
from mlops_core.data.publish import conflicting_keys, publish_dataset, same_baseline

BUCKET = "data"
FRAME = pd.DataFrame({"x": [1.5, 2.5, 3.5], "code": ["1", "2", float("nan")], "y": ["a", "b", "a"]})
CONFIG = DatasetConfig(
    name="mine",
    target="y",
    baseline_key="datasets/mine/baseline.csv",
    features=["x", "code"],
    categorical=["code"],
    format="csv",
)


@pytest.fixture
def store(aws):
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return S3ObjectStore(client, BUCKET)


def test_publish_writes_once_and_then_is_a_no_op(store) -> None:
    assert conflicting_keys(store, FRAME, CONFIG) == []
    assert publish_dataset(store, FRAME, CONFIG) is True
    assert load_dataset_config(store, "mine") == CONFIG
    pd.testing.assert_frame_equal(read_table(store, CONFIG.baseline_key, categorical=["code"]), FRAME)

    assert publish_dataset(store, FRAME, CONFIG) is False
    assert conflicting_keys(store, FRAME, CONFIG) == []


def test_other_content_is_a_conflict_and_never_overwritten(store) -> None:
    publish_dataset(store, FRAME, CONFIG)
    other_frame = FRAME.assign(x=[9.0, 9.0, 9.0])
    other_config = DatasetConfig(**{**CONFIG.to_dict(), "features": ["x"], "categorical": []})

    assert conflicting_keys(store, other_frame, CONFIG) == [CONFIG.baseline_key]
    assert conflicting_keys(store, FRAME, other_config) == [layout.dataset_config_key("mine")]
    assert conflicting_keys(store, other_frame, other_config) == [
        CONFIG.baseline_key,
        layout.dataset_config_key("mine"),
    ]
    with pytest.raises(ObjectExistsError, match=r"baseline\.csv already exists.*different content"):
        publish_dataset(store, other_frame, CONFIG)
    assert load_dataset_config(store, "mine") == CONFIG


def test_a_missing_config_is_written_beside_an_existing_baseline(store) -> None:
    # What an interrupted earlier upload leaves: the baseline without its configuration.
    store.put_new(CONFIG.baseline_key, frame_to_bytes(FRAME, "csv"))
    assert publish_dataset(store, FRAME, CONFIG) is True
    assert load_dataset_config(store, "mine") == CONFIG


def test_same_baseline_compares_tables_not_bytes() -> None:
    body = frame_to_bytes(FRAME, "csv")
    respelled = body.replace(b"1.5", b"1.50")
    assert respelled != body and same_baseline(respelled, body, CONFIG)
    assert not same_baseline(frame_to_bytes(FRAME.iloc[:2], "csv"), body, CONFIG)
    assert not same_baseline(b"\xff\xfe not a table", body, CONFIG)
