"""Datasets: configuration, S3 input and output, batch validation, the drift simulator and the demo data."""

from mlops_core.data.config import DatasetConfig, load_dataset_config
from mlops_core.data.demo_datasets import DEMO_DATASETS, seed_dataset
from mlops_core.data.exceptions import ObjectExistsError
from mlops_core.data.io import (
    latest_batch_key,
    put_if_absent,
    put_once,
    read_table,
    resolve_batch_key,
    write_table,
)
from mlops_core.data.simulate import SimulationInfo, simulate_drift, write_batch
from mlops_core.data.validate import (
    ValidationReport,
    coerce_features,
    column_kinds,
    dtypes_of,
    feature_columns,
    validate_batch,
)

__all__ = [
    "DEMO_DATASETS",
    "DatasetConfig",
    "ObjectExistsError",
    "SimulationInfo",
    "ValidationReport",
    "coerce_features",
    "column_kinds",
    "dtypes_of",
    "feature_columns",
    "latest_batch_key",
    "load_dataset_config",
    "put_if_absent",
    "put_once",
    "read_table",
    "resolve_batch_key",
    "seed_dataset",
    "simulate_drift",
    "validate_batch",
    "write_batch",
    "write_table",
]
