"""In-memory fakes of every port in mlops_core.ports, and `fake_deps()` to hand them to the pipeline services."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mlops_core.pipeline.deps import Deps, PipelineSettings

from tests.fakes.history import FakeExecutionHistory
from tests.fakes.object_store import InMemoryObjectStore
from tests.fakes.prediction_api import FakePredictionApi
from tests.fakes.registry import FakeModelRegistry
from tests.fakes.reporter import FakeDriftReporter, FixedClock
from tests.fakes.trainer import FakeTrainer

SETTINGS = PipelineSettings(
    dataset="iris",
    model_name="iris-classifier",
    drift_share=0.5,
    drift_report_max_rows=20_000,
    bootstrap_resamples=500,
    bootstrap_seed=42,
    alpha=0.05,
    training_budget_seconds=30,
    training_models=["lr", "dt"],
    holdout_fraction=0.3,
    ab_test_sample_size=5000,
    reports_website_url="http://reports.test",
    mlflow_ui_url="http://mlflow.test",
)


def fake_deps(**overrides: Any) -> Deps:
    """Fresh fakes for every port; `settings=` may be a dict of PipelineSettings fields to change."""
    settings = overrides.pop("settings", {})
    settings = replace(SETTINGS, **settings) if isinstance(settings, dict) else settings
    registry = overrides.pop("registry", None) or FakeModelRegistry(settings.model_name)
    parts: dict[str, Any] = {
        "settings": settings,
        "data": InMemoryObjectStore("data"),
        "reports": InMemoryObjectStore("reports"),
        "registry": registry,
        "trainer": FakeTrainer(),
        "drift_reporter": FakeDriftReporter(),
        "api": FakePredictionApi(registry),
        "clock": FixedClock(),
        "history": FakeExecutionHistory(),
    }
    parts.update(overrides)
    return Deps(**parts)


__all__ = [
    "SETTINGS",
    "FakeDriftReporter",
    "FakeExecutionHistory",
    "FakeModelRegistry",
    "FakePredictionApi",
    "FakeTrainer",
    "FixedClock",
    "InMemoryObjectStore",
    "fake_deps",
]
