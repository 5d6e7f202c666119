"""The demo datasets and their idempotent seeding into S3 (moto)."""

from __future__ import annotations

import boto3
import pandas as pd
import pytest
from mlops_core import layout
from mlops_core.adapters import S3ObjectStore
from mlops_core.data import DatasetConfig, ObjectExistsError, load_dataset_config, read_table, seed_dataset
from mlops_core.data.demo_datasets import DEMO_DATASETS, build, synthetic
from mlops_core.exceptions import InvalidRequestError

BUCKET = "data"


@pytest.fixture
def store(aws):
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return S3ObjectStore(client, BUCKET)


def test_iris_has_string_labels_and_plain_names() -> None:
    df, config = build("iris")
    assert df.shape == (150, 5)
    assert config.features == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert sorted(df["species"].unique()) == ["setosa", "versicolor", "virginica"]
    assert (config.target, config.categorical) == ("species", [])


def test_penguins_has_categoricals_with_missing_values() -> None:
    df, config = build("penguins", "csv")
    assert config.categorical == ["island", "sex"] and config.format == "csv"
    assert config.baseline_key == "datasets/penguins/baseline.csv"
    assert df["sex"].isna().sum() > 0 and df["bill_length_mm"].isna().sum() > 0
    assert sorted(df["species"].unique()) == ["Adelie", "Chinstrap", "Gentoo"]
    assert "year" not in df.columns


def test_synthetic_is_large_multiclass_with_a_categorical_and_nans() -> None:
    df, config = build("synthetic")
    assert len(df) >= 50_000 and df["label"].nunique() >= 4
    assert config.categorical == ["segment"] and df["segment"].dtype == object
    assert df[["x1", "x4", "segment"]].isna().mean().between(0.01, 0.03).all()
    pd.testing.assert_frame_equal(synthetic(1000), synthetic(1000))


def test_unknown_dataset() -> None:
    with pytest.raises(InvalidRequestError, match="unknown demo dataset 'wine'; choose one of iris, penguins"):
        build("wine")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_seed_uploads_baseline_and_config_once(store, fmt) -> None:
    config = seed_dataset(store, "penguins", fmt=fmt)
    assert load_dataset_config(store, "penguins") == config
    stored = read_table(store, config.baseline_key, categorical=config.categorical)
    pd.testing.assert_frame_equal(stored, build("penguins")[0], check_dtype=False)
    etag = store.client.head_object(Bucket=BUCKET, Key=config.baseline_key)["ETag"]
    assert seed_dataset(store, "penguins", fmt=fmt) == config  # idempotent
    assert store.client.head_object(Bucket=BUCKET, Key=config.baseline_key)["ETag"] == etag


def test_seed_refuses_to_replace_a_different_config(store) -> None:
    other = DatasetConfig(name="iris", target="petal_width", baseline_key="datasets/iris/baseline.parquet")
    store.client.put_object(Bucket=BUCKET, Key=layout.dataset_config_key("iris"), Body=other.to_json().encode())
    with pytest.raises(ObjectExistsError, match=r"datasets/iris/dataset\.json already exists.*different content"):
        seed_dataset(store, "iris")
    assert load_dataset_config(store, "iris") == other


def test_seed_refuses_to_replace_a_different_baseline(store) -> None:
    store.client.put_object(Bucket=BUCKET, Key="datasets/iris/baseline.parquet", Body=b"not the iris baseline")
    with pytest.raises(ObjectExistsError, match=r"baseline\.parquet already exists"):
        seed_dataset(store, "iris")
    assert (
        store.client.get_object(Bucket=BUCKET, Key="datasets/iris/baseline.parquet")["Body"].read()
        == b"not the iris baseline"
    )


def test_every_demo_dataset_is_listed() -> None:
    assert DEMO_DATASETS == ("iris", "penguins", "synthetic")
