"""Settings read from the environment, lazily: an explicit argument beats the variable, which beats the default.

Every environment variable the functions and the app read is named here and nowhere else; the local tools'
own `MLOPS_*` variables are named in `mlops_local.environment`.
"""

from __future__ import annotations

import os

from mlops_core.exceptions import ConfigurationError

# Resource names: stack outputs, injected by template.yaml into every function and by the tools into the app.
DATA_BUCKET = "DATA_BUCKET"
REPORTS_BUCKET = "REPORTS_BUCKET"
ARTIFACTS_BUCKET = "ARTIFACTS_BUCKET"
AB_TABLE = "AB_TABLE"
MLFLOW_TRACKING_URI = "MLFLOW_TRACKING_URI"
API_URL = "API_URL"
API_KEY = "API_KEY"
PREDICTION_ID_SECRET = "PREDICTION_ID_SECRET"  # signs prediction ids; falls back to API_KEY
# Behaviour.
DATASET = "DATASET"
MODEL_NAME = "MODEL_NAME"
DRIFT_SHARE = "DRIFT_SHARE"
DRIFT_REPORT_MAX_ROWS = "DRIFT_REPORT_MAX_ROWS"
DRIFT_PROFILE_MAX_BYTES_PER_COLUMN = "DRIFT_PROFILE_MAX_BYTES_PER_COLUMN"  # bounds each column's profile
TARGET_IN_DRIFT_SHARE = "TARGET_IN_DRIFT_SHARE"  # "true": the target's drift counts toward the drifted share
BOOTSTRAP_RESAMPLES = "BOOTSTRAP_RESAMPLES"
BOOTSTRAP_SEED = "BOOTSTRAP_SEED"
ALPHA = "ALPHA"  # the promotion test's target level, spent across runs (decision.spending)
DELTA_MIN = "DELTA_MIN"  # H0 of the offline test: ΔF1-macro ≤ DELTA_MIN
POWER_MARGIN = "POWER_MARGIN"  # the plan asks for 80% power at ΔF1-macro = DELTA_MIN + POWER_MARGIN
CLASS_MARGIN = "CLASS_MARGIN"  # most any class's F1 may fall
ONLINE_MARGIN = "ONLINE_MARGIN"  # the online non-inferiority margin
ONLINE_FRACTION = "ONLINE_FRACTION"  # share of a drifted batch kept for the online stage only
PENDING_MAX_DAYS = "PENDING_MAX_DAYS"  # a staged candidate whose online evidence is still open after this is retired
POOL_MAX_ROWS = "POOL_MAX_ROWS"  # most held-out rows pooled across runs into one offline test
TRAINING_BUDGET_SECONDS = "TRAINING_BUDGET_SECONDS"
# Seconds train_model keeps for registering the candidate after training: the final fit must leave them.
TRAINING_RESERVE_SECONDS = "TRAINING_RESERVE_SECONDS"
TRAINING_MODELS = "TRAINING_MODELS"  # comma-separated PyCaret model ids to compare; empty = PyCaret's default set
HOLDOUT_FRACTION = "HOLDOUT_FRACTION"
AB_PRODUCTION_SHARE = "AB_PRODUCTION_SHARE"
AB_TEST_SAMPLE_SIZE = "AB_TEST_SAMPLE_SIZE"  # most held-out rows the online stage sends (template: AbTestSampleSize)
MAX_BATCH = "MAX_BATCH"  # most records one POST /predict may carry
SHADOW_MODE = "SHADOW_MODE"  # "on": the API scores each request with both models (paired evidence); "off"
REPORTS_WEBSITE_URL = "REPORTS_WEBSITE_URL"
MLFLOW_UI_URL = "MLFLOW_UI_URL"
# Written, not read: where PyCaret writes the log it opens on import (see pycaret_env).
PYCARET_CUSTOM_LOGGING_PATH = "PYCARET_CUSTOM_LOGGING_PATH"

DEFAULTS: dict[str, str] = {
    DATASET: "iris",
    DRIFT_SHARE: "0.5",
    DRIFT_REPORT_MAX_ROWS: "20000",
    TARGET_IN_DRIFT_SHARE: "true",
    BOOTSTRAP_RESAMPLES: "2000",
    BOOTSTRAP_SEED: "42",
    ALPHA: "0.05",
    DELTA_MIN: "0",
    POWER_MARGIN: "0.03",
    CLASS_MARGIN: "0.05",
    ONLINE_MARGIN: "0.05",
    ONLINE_FRACTION: "0.2",
    PENDING_MAX_DAYS: "14",
    POOL_MAX_ROWS: "100000",
    TRAINING_BUDGET_SECONDS: "120",
    TRAINING_RESERVE_SECONDS: "60",
    HOLDOUT_FRACTION: "0.3",
    AB_PRODUCTION_SHARE: "0.5",
    AB_TEST_SAMPLE_SIZE: "5000",
    MAX_BATCH: "1000",
    SHADOW_MODE: "on",
}


def get(name: str, default: str | None = None) -> str | None:
    """The variable's value, else the given default, else the documented default, else None."""
    value = os.environ.get(name)
    if value not in (None, ""):
        return value
    return default if default is not None else DEFAULTS.get(name)


def require(name: str) -> str:
    value = get(name)
    if value is None:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


def get_float(name: str, default: float | None = None) -> float:
    raw = get(name, None if default is None else str(default))
    if raw is None:
        raise ConfigurationError(f"environment variable {name} is not set")
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name}={raw!r} is not a number") from None


def get_int(name: str, default: int | None = None) -> int:
    value = get_float(name, default)
    if value != int(value):
        raise ConfigurationError(f"environment variable {name}={value!r} is not a whole number")
    return int(value)


def model_name(dataset: str | None = None) -> str:
    """Registered model name: explicit MODEL_NAME, else one model per dataset."""
    return get(MODEL_NAME) or f"{dataset or require(DATASET)}-classifier"
