"""The ports of mlops_core.ports over real services: S3, MLflow, PyCaret, Evidently, the HTTP API, the clock."""

from mlops_core.adapters.automl_trainer import AutomlTrainer
from mlops_core.adapters.clock import SystemClock
from mlops_core.adapters.evidently_reporter import EvidentlyReporter
from mlops_core.adapters.execution_history import StepFunctionsHistory
from mlops_core.adapters.mlflow_registry import MlflowModelRegistry
from mlops_core.adapters.prediction_api import HttpPredictionApi
from mlops_core.adapters.s3_store import S3ObjectStore

__all__ = [
    "AutomlTrainer",
    "EvidentlyReporter",
    "HttpPredictionApi",
    "MlflowModelRegistry",
    "S3ObjectStore",
    "StepFunctionsHistory",
    "SystemClock",
]
