"""The bootstrap builds the real adapters from the environment once per container; handlers hand them on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from mlops_core import settings
from mlops_core.adapters import (
    AutomlTrainer,
    EvidentlyReporter,
    HttpPredictionApi,
    MlflowModelRegistry,
    S3ObjectStore,
    SystemClock,
)
from mlops_core.exceptions import ConfigurationError, InvalidRequestError
from mlops_core.pipeline import bootstrap
from mlops_core.pipeline.deps import PipelineSettings, model_ids

from functions.check_data_drift import app as check_data_drift
from functions.evaluate_candidate import app as evaluate_candidate
from functions.generate_report import app as generate_report
from functions.promote_if_better import app as promote_if_better
from functions.run_ab_test import app as run_ab_test
from functions.train_model import app as train_model
from tests.fakes import fake_deps

EVENTS = Path(__file__).resolve().parents[1] / "events"
HANDLERS = {
    "check_data_drift": check_data_drift,
    "train_model": train_model,
    "evaluate_candidate": evaluate_candidate,
    "run_ab_test": run_ab_test,
    "promote_if_better": promote_if_better,
    "generate_report": generate_report,
}


@pytest.fixture
def stack_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        settings.DATA_BUCKET: "data-bucket",
        settings.REPORTS_BUCKET: "reports-bucket",
        settings.DATASET: "penguins",
        settings.API_URL: "http://api.test/",
        settings.TRAINING_MODELS: " lr, dt ,",
        settings.BOOTSTRAP_RESAMPLES: "2000",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(settings.MODEL_NAME, raising=False)
    bootstrap.deps.cache_clear()
    yield
    bootstrap.deps.cache_clear()


def test_the_real_adapters_are_built_from_the_environment(stack_env) -> None:
    deps = bootstrap.deps()
    assert isinstance(deps.data, S3ObjectStore) and deps.data.bucket == "data-bucket"
    assert isinstance(deps.reports, S3ObjectStore) and deps.reports.bucket == "reports-bucket"
    assert deps.data.client is deps.reports.client  # one S3 client per container
    assert isinstance(deps.registry, MlflowModelRegistry) and deps.registry.model_name == "penguins-classifier"
    assert deps.registry.experiment_name == "penguins-pipeline"
    assert isinstance(deps.trainer, AutomlTrainer) and isinstance(deps.drift_reporter, EvidentlyReporter)
    assert isinstance(deps.api, HttpPredictionApi) and deps.api.base_url == "http://api.test"
    assert isinstance(deps.clock, SystemClock) and deps.clock.now().tzinfo is not None
    assert deps.settings.training_models == ["lr", "dt"] and deps.settings.bootstrap_resamples == 2000
    assert deps.settings.alpha == 0.05  # the documented default


def test_they_are_built_once_per_container(stack_env) -> None:
    assert bootstrap.deps() is bootstrap.deps()


def test_a_missing_bucket_name_is_a_configuration_error_naming_it(stack_env, monkeypatch) -> None:
    monkeypatch.delenv(settings.REPORTS_BUCKET)
    with pytest.raises(ConfigurationError, match="REPORTS_BUCKET is not set"):
        bootstrap.deps()


def test_a_malformed_setting_names_the_variable(stack_env, monkeypatch) -> None:
    monkeypatch.setenv(settings.BOOTSTRAP_RESAMPLES, "lots")
    with pytest.raises(ConfigurationError, match="BOOTSTRAP_RESAMPLES='lots' is not a number"):
        PipelineSettings.from_env()


def test_without_an_api_url_only_the_online_gate_fails(stack_env, monkeypatch) -> None:
    monkeypatch.delenv(settings.API_URL)
    deps = bootstrap.deps()
    with pytest.raises(ConfigurationError, match="API_URL is not set"):
        deps.api.get_traffic()


@pytest.mark.parametrize(
    ("raw", "ids"), [(None, None), ("", None), (" , ", None), ("lr", ["lr"]), ("lr,rf", ["lr", "rf"])]
)
def test_model_ids(raw: str | None, ids: list[str] | None) -> None:
    assert model_ids(raw) == ids


@pytest.mark.parametrize("step", sorted(HANDLERS))
def test_each_handler_checks_the_event_then_hands_the_bootstrap_deps_to_its_service(
    step: str, monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    module = HANDLERS[step]
    deps = fake_deps()
    handed: list[Any] = []
    service = next(v for k, v in vars(module).items() if k not in ("deps", "step_handler") and hasattr(v, "run"))
    monkeypatch.setattr(module, "deps", lambda: deps)
    monkeypatch.setattr(service, "run", lambda state, given: handed.append((state, given)) or {"ok": step})

    event = json.loads((EVENTS / f"step_input_{step}.json").read_text())
    assert module.lambda_handler(event, lambda_context) == {"ok": step}
    # train_model's deps also carry the invocation's remaining time (for_invocation); nothing else differs
    assert [(state, replace(given, time_left=None)) for state, given in handed] == [(event, deps)]
    with pytest.raises(InvalidRequestError, match="run_id"):
        module.lambda_handler({**event, "run_id": "../escape"}, lambda_context)
    assert len(handed) == 1
