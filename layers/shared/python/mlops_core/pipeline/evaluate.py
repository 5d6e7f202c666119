"""evaluate_candidate: the offline gate, a paired bootstrap of ΔF1-macro (Staging − Production) on held-out rows."""

from __future__ import annotations

from typing import Any

from mlops_core import settings
from mlops_core.contracts import EvaluationOutput
from mlops_core.pipeline.context import run_context, step_output
from mlops_core.pipeline.holdout import load_holdout
from mlops_core.policy import offline_gate
from mlops_core.registry import PRODUCTION, ModelRegistry
from mlops_core.stats import classification_metrics, paired_bootstrap_f1


def run(state: dict[str, Any]) -> EvaluationOutput:
    ctx = run_context(state)
    training = step_output(state, "training")
    features, labels = load_holdout(ctx.s3, ctx.data_bucket, training["holdout_key"], ctx.config.target)
    registry = ModelRegistry(model_name=training["model_name"])

    staging = registry.load_version(training["model_version"])
    staging_predictions = [str(p) for p in staging.predict(features[staging.feature_names])]
    production_info = registry.version_for(PRODUCTION)
    production_version = None if production_info is None else str(production_info.version)

    test = None
    production_metrics = None
    if production_version is not None:
        production = registry.load_version(production_version)
        production_predictions = [str(p) for p in production.predict(features[production.feature_names])]
        production_metrics = classification_metrics(labels, production_predictions)
        test = paired_bootstrap_f1(
            labels,
            production_predictions,
            staging_predictions,
            n_resamples=settings.get_int(settings.BOOTSTRAP_RESAMPLES),
            seed=settings.get_int(settings.BOOTSTRAP_SEED),
            alpha=settings.get_float(settings.ALPHA),
        ).to_dict()
    gate = offline_gate(test, has_production=production_version is not None)
    return EvaluationOutput(
        production_version=production_version,
        staging_version=str(training["model_version"]),
        production_metrics=production_metrics,
        staging_metrics=classification_metrics(labels, staging_predictions),
        statistical_test=test,
        passed=gate.passed,
        reason=gate.reason,
    )
