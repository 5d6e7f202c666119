"""What every pipeline step is handed: its settings as plain values and the ports it may call.

`bootstrap.deps()` builds the real ones from the environment, once per container; tests build them from
in-memory fakes. A service never reads the environment or builds a client itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mlops_core import settings
from mlops_core.exceptions import ConfigurationError

if TYPE_CHECKING:
    from mlops_core.ports import (
        Clock,
        DriftReporter,
        ExecutionHistory,
        ModelRegistry,
        ObjectStore,
        PredictionApi,
        Trainer,
    )


@dataclass(frozen=True)
class PipelineSettings:
    dataset: str  # the one dataset this stack watches (template parameter DatasetName)
    model_name: str  # its registered model
    drift_share: float
    drift_report_max_rows: int
    bootstrap_resamples: int
    bootstrap_seed: int
    alpha: float
    training_budget_seconds: float
    training_models: list[str] | None  # PyCaret model ids to compare; None: PyCaret's default set
    holdout_fraction: float
    ab_test_sample_size: int  # most held-out rows the online stage sends through the API
    delta_min: float = 0.0
    power_margin: float = 0.03
    class_margin: float = 0.05
    online_margin: float = 0.05
    online_fraction: float = 0.2
    pending_max_days: float = 14.0
    pool_max_rows: int = 100_000
    target_in_drift_share: bool = True
    training_reserve_seconds: float = 60.0  # kept after training for registration
    reports_website_url: str | None = None
    mlflow_ui_url: str | None = None

    @classmethod
    def from_env(cls) -> PipelineSettings:
        """Every setting from its environment variable, else its documented default (mlops_core.settings)."""
        dataset = settings.require(settings.DATASET)
        return cls(
            dataset=dataset,
            model_name=settings.model_name(dataset),
            drift_share=settings.get_float(settings.DRIFT_SHARE),
            drift_report_max_rows=settings.get_int(settings.DRIFT_REPORT_MAX_ROWS),
            bootstrap_resamples=settings.get_int(settings.BOOTSTRAP_RESAMPLES),
            bootstrap_seed=settings.get_int(settings.BOOTSTRAP_SEED),
            alpha=settings.get_float(settings.ALPHA),
            training_budget_seconds=settings.get_float(settings.TRAINING_BUDGET_SECONDS),
            training_models=model_ids(settings.get(settings.TRAINING_MODELS)),
            holdout_fraction=settings.get_float(settings.HOLDOUT_FRACTION),
            ab_test_sample_size=settings.get_int(settings.AB_TEST_SAMPLE_SIZE),
            delta_min=settings.get_float(settings.DELTA_MIN),
            power_margin=settings.get_float(settings.POWER_MARGIN),
            class_margin=settings.get_float(settings.CLASS_MARGIN),
            online_margin=settings.get_float(settings.ONLINE_MARGIN),
            online_fraction=settings.get_float(settings.ONLINE_FRACTION),
            pending_max_days=settings.get_float(settings.PENDING_MAX_DAYS),
            pool_max_rows=settings.get_int(settings.POOL_MAX_ROWS),
            target_in_drift_share=flag(settings.TARGET_IN_DRIFT_SHARE),
            training_reserve_seconds=settings.get_float(settings.TRAINING_RESERVE_SECONDS),
            reports_website_url=settings.get(settings.REPORTS_WEBSITE_URL),
            mlflow_ui_url=settings.get(settings.MLFLOW_UI_URL),
        )


def flag(name: str) -> bool:
    """A true/false setting; anything else is a ConfigurationError naming the variable."""
    raw = (settings.get(name) or "").strip().lower()
    if raw not in ("true", "false"):
        raise ConfigurationError(f"environment variable {name}={raw!r} is not valid: set it to true or false")
    return raw == "true"


def model_ids(raw: str | None) -> list[str] | None:
    """ "lr, dt" -> ["lr", "dt"]; empty -> None (PyCaret's default set)."""
    ids = [part.strip() for part in (raw or "").split(",") if part.strip()]
    return ids or None


@dataclass(frozen=True)
class Deps:
    settings: PipelineSettings
    data: ObjectStore  # datasets, batches, profiles, splits
    reports: ObjectStore  # run reports and drift reports (the public reports website)
    registry: ModelRegistry
    trainer: Trainer
    drift_reporter: DriftReporter
    api: PredictionApi
    clock: Clock
    history: ExecutionHistory | None = None  # step durations in the report; None: the report goes without them
    # Seconds the current invocation has left (Lambda's context), per call; None: no limit known.
    time_left: Callable[[], float] | None = None


def for_invocation(deps: Deps, context: Any) -> Deps:
    """`deps` with the invocation's remaining time, when `context` is a Lambda context that reports it."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining_ms):
        return deps
    return replace(deps, time_left=lambda: remaining_ms() / 1000)
