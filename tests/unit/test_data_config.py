"""DatasetConfig and its loading from S3 (moto)."""

from __future__ import annotations

import json

import boto3
import pytest
from mlops_core import layout
from mlops_core.adapters import S3ObjectStore
from mlops_core.data import DatasetConfig, load_dataset_config
from mlops_core.exceptions import ConfigurationError, InvalidRequestError, NotFoundError

BUCKET = "data"


@pytest.fixture
def store(aws):
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return S3ObjectStore(client, BUCKET)


def _valid(**changes) -> dict:
    return {
        "name": "penguins",
        "target": "species",
        "baseline_key": "datasets/penguins/baseline.csv",
        "features": ["island", "bill_length_mm", "sex"],
        "categorical": ["island", "sex"],
        "format": "csv",
        **changes,
    }


def test_round_trip_through_json() -> None:
    config = DatasetConfig.from_dict(_valid())
    assert DatasetConfig.from_dict(json.loads(config.to_json())) == config
    assert config.features == ["island", "bill_length_mm", "sex"] and config.format == "csv"


def test_optional_fields_default() -> None:
    config = DatasetConfig.from_dict({"name": "iris", "target": "species", "baseline_key": "b.parquet"})
    assert (config.features, config.categorical, config.format) == (None, None, "parquet")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "must be a JSON object"),
        (_valid(colour="red"), "unknown fields: colour"),
        ({"name": "iris", "target": "species"}, "lacks required fields: baseline_key"),
        (_valid(name="../etc"), "name '../etc' must be a safe id"),
        (_valid(target=""), "target must be a non-empty column name"),
        (_valid(baseline_key=""), "baseline_key"),
        (_valid(format="xlsx"), "format 'xlsx' must be one of csv, parquet"),
        (_valid(features="island"), "features must be a list of column names"),
        (_valid(features=["island", "island"], categorical=None), "features lists a column twice"),
        (_valid(features=["island", "species"], categorical=None), "must not include the target 'species'"),
        (_valid(categorical=["island", "colour"]), "categorical columns not among the features: colour"),
    ],
)
def test_malformed_configs_are_refused(data, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        DatasetConfig.from_dict(data)


def test_load_reads_the_stored_config(store) -> None:
    config = DatasetConfig.from_dict(_valid())
    store.client.put_object(Bucket=BUCKET, Key=layout.dataset_config_key("penguins"), Body=config.to_json().encode())
    assert load_dataset_config(store, "penguins") == config


def test_load_of_an_unconfigured_dataset_names_the_key(store) -> None:
    with pytest.raises(NotFoundError, match=r"s3://data/datasets/wine/dataset\.json does not exist"):
        load_dataset_config(store, "wine")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "is not valid JSON"),
        (b"\xff\xfe", "is not valid JSON"),
        (json.dumps(_valid(format="xlsx")).encode(), "format 'xlsx'"),
        (json.dumps(_valid(name="iris")).encode(), "names dataset 'iris', expected 'penguins'"),
    ],
)
def test_load_of_a_malformed_object_is_a_configuration_error(store, body, message) -> None:
    store.client.put_object(Bucket=BUCKET, Key=layout.dataset_config_key("penguins"), Body=body)
    with pytest.raises(ConfigurationError, match=message):
        load_dataset_config(store, "penguins")


def test_load_refuses_unsafe_names(store) -> None:
    with pytest.raises(InvalidRequestError, match="not a safe id") as caught:
        load_dataset_config(store, "../secrets")
    assert caught.value.field == "dataset"
