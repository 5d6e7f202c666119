"""evaluate_candidate on in-memory fakes: the offline gate against Production, or none before the first model."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_core import policy
from mlops_core.contracts import EvaluationOutput
from mlops_core.exceptions import InvalidRequestError, NotFoundError
from mlops_core.pipeline import evaluate

from tests.fakes import fake_deps
from tests.fakes.models import RuleModel, constant, truth
from tests.fakes.scenario import holdout, trained


@pytest.fixture
def deps() -> Any:
    return fake_deps()


def candidate(deps: Any, state: dict[str, Any], **quality: Any) -> None:
    """Make the staged version answer the held-out rows with the given quality."""
    features, labels = holdout(deps, state)
    model = deps.registry.versions[state["training"]["model_version"]].model
    model.rule = truth(features[model.feature_names], labels, **quality)


def production(deps: Any, state: dict[str, Any], **quality: Any) -> str:
    features, labels = holdout(deps, state)
    names = list(features.columns)
    return deps.registry.add(RuleModel(truth(features[names], labels, **quality), names), alias="production")


def test_a_first_candidate_has_no_production_to_beat(deps) -> None:
    state = trained(deps)
    candidate(deps, state)
    out = evaluate.run(state, deps)
    assert set(out) == set(EvaluationOutput.__annotations__)
    assert out["passed"] is True and out["reason"] == policy.NO_PRODUCTION_MODEL
    assert out["production_version"] is None and out["statistical_test"] is None
    assert out["production_metrics"] is None
    assert out["staging_metrics"]["f1_macro"] == 1.0


def test_a_clearly_better_candidate_passes_the_paired_bootstrap(deps) -> None:
    state = trained(deps)
    candidate(deps, state)
    version = production(deps, state, wrong_every=3)
    out = evaluate.run(state, deps)
    assert out["production_version"] == version
    assert out["passed"] is True and out["reason"] == policy.SIGNIFICANT_IMPROVEMENT
    test = out["statistical_test"]
    assert test["n"] == state["training"]["holdout_rows"]
    assert test["n_resamples"] == 500 and test["seed"] == 42 and test["alpha"] == 0.05
    assert test["observed_delta"] > 0 and test["ci_low"] > 0 and test["significant"] is True
    assert out["production_metrics"]["f1_macro"] < out["staging_metrics"]["f1_macro"] == 1.0


def test_an_equal_candidate_is_not_significant(deps) -> None:
    state = trained(deps)
    candidate(deps, state, wrong_every=4)
    production(deps, state, wrong_every=4)
    out = evaluate.run(state, deps)
    assert out["passed"] is False and out["reason"] == policy.NOT_SIGNIFICANT
    assert out["statistical_test"]["observed_delta"] == 0.0


def test_a_worse_candidate_fails(deps) -> None:
    state = trained(deps)
    candidate(deps, state, wrong_every=2)
    production(deps, state)
    out = evaluate.run(state, deps)
    assert out["passed"] is False and out["statistical_test"]["observed_delta"] < 0


def test_both_models_see_their_own_feature_columns_in_signature_order(deps) -> None:
    state = trained(deps)
    features, labels = holdout(deps, state)
    reordered = list(reversed(features.columns))
    deps.registry.add(RuleModel(constant(labels[0]), reordered), alias="production")
    evaluate.run(state, deps)  # RuleModel refuses columns in another order than its feature_names


def test_a_candidate_of_another_model_is_refused(deps) -> None:
    state = trained(deps)
    state["training"]["model_name"] = "penguins-classifier"
    with pytest.raises(InvalidRequestError, match="penguins-classifier"):
        evaluate.run(state, deps)


def test_an_unknown_candidate_version_is_not_found(deps) -> None:
    state = trained(deps)
    state["training"]["model_version"] = "99"
    with pytest.raises(NotFoundError, match="no version '99'"):
        evaluate.run(state, deps)


def test_a_run_state_without_the_training_result_names_it(deps) -> None:
    state = trained(deps)
    del state["training"]
    with pytest.raises(InvalidRequestError, match="no 'training' result"):
        evaluate.run(state, deps)
