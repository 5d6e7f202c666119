"""evaluate_candidate: the offline gate, a paired bootstrap of ΔF1-macro (Staging − Production) on held-out rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_core.contracts import EvaluationOutput
from mlops_core.pipeline.context import run_context, training_output
from mlops_core.pipeline.holdout import load_holdout
from mlops_core.policy import offline_gate
from mlops_core.stats import classification_metrics, paired_bootstrap_f1

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.pipeline.deps import Deps
    from mlops_core.ports import Predictor


def run(state: dict[str, Any], deps: Deps) -> EvaluationOutput:
    ctx = run_context(state, deps)
    training, settings = training_output(state, deps), deps.settings
    features, labels = load_holdout(deps.data, training["holdout_key"], ctx.config.target)
    staging_version = str(training["model_version"])
    staging_predictions = _predictions(deps.registry.load_version(staging_version), features)
    production_version = deps.registry.production_version()

    test = None
    production_metrics = None
    if production_version is not None:
        production_predictions = _predictions(deps.registry.load_version(production_version), features)
        production_metrics = classification_metrics(labels, production_predictions)
        test = paired_bootstrap_f1(
            labels,
            production_predictions,
            staging_predictions,
            n_resamples=settings.bootstrap_resamples,
            seed=settings.bootstrap_seed,
            alpha=settings.alpha,
        ).to_dict()
    gate = offline_gate(test, has_production=production_version is not None)
    return EvaluationOutput(
        production_version=production_version,
        staging_version=staging_version,
        production_metrics=production_metrics,
        staging_metrics=classification_metrics(labels, staging_predictions),
        statistical_test=test,
        passed=gate.passed,
        reason=gate.reason,
    )


def _predictions(model: Predictor, features: pd.DataFrame) -> list[str]:
    return [str(p) for p in model.predict(features[model.feature_names])]
