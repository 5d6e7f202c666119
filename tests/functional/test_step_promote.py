"""promote_if_better on in-memory fakes: one alias move when both gates pass, nothing otherwise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mlops_core import policy
from mlops_core.contracts import PromotionOutput
from mlops_core.exceptions import InvalidRequestError
from mlops_core.pipeline import promote

from tests.fakes import fake_deps
from tests.fakes.models import RuleModel, constant

EVENT = Path(__file__).resolve().parents[1] / "events" / "step_input_promote_if_better.json"


@pytest.fixture
def deps() -> Any:
    deps = fake_deps()
    deps.registry.add(RuleModel(constant("setosa"), []), alias="production")  # v1
    deps.registry.add(RuleModel(constant("setosa"), []), alias="staging")  # v2, the candidate
    return deps


@pytest.fixture
def state() -> dict[str, Any]:
    """The sample event: v2 beat Production v1 offline and held up online."""
    state = json.loads(EVENT.read_text())
    assert state["training"]["model_version"] == "2" and state["evaluation"]["production_version"] == "1"
    return state


def test_both_gates_passed_moves_production_to_the_candidate_with_its_evidence(deps, state) -> None:
    out = promote.run(state, deps)
    assert set(out) == set(PromotionOutput.__annotations__)
    assert out == {
        "promoted": True,
        "reason": policy.BETTER_OFFLINE_AND_ONLINE,
        "model_name": "iris-classifier",
        "previous_version": "1",
        "new_version": "2",
    }
    assert deps.registry.aliases == {"production": "2"}
    (record,) = deps.registry.promotions
    assert record.by == state["execution_arn"]
    test = state["evaluation"]["statistical_test"]
    assert record.evidence["offline"]["p_value"] == test["p_value"]
    assert record.evidence["offline"]["ci_low"] == test["ci_low"]
    assert record.evidence["ab"]["f1_macro"] == state["ab_test"]["f1_macro"]
    assert record.evidence["run_id"] == state["run_id"]


def test_without_an_execution_arn_the_run_id_is_the_actor(deps, state) -> None:
    del state["execution_arn"]
    promote.run(state, deps)
    assert deps.registry.promotions[0].by == state["run_id"]


def test_a_failed_offline_gate_leaves_production_alone(deps, state) -> None:
    state["evaluation"]["statistical_test"]["significant"] = False
    out = promote.run(state, deps)
    assert out["promoted"] is False and out["reason"] == policy.NOT_SIGNIFICANT
    assert out["previous_version"] == "1" and out["new_version"] is None
    assert deps.registry.aliases == {"production": "1", "staging": "2"} and deps.registry.promotions == []


def test_a_failed_online_gate_leaves_production_alone(deps, state) -> None:
    state["ab_test"]["f1_macro"] = {"production": 0.9, "staging": 0.8}
    out = promote.run(state, deps)
    assert out["promoted"] is False and out["reason"] == policy.STAGING_WORSE
    assert deps.registry.promotions == []


def test_the_gates_are_recomputed_from_the_figures_not_the_passed_flags(deps, state) -> None:
    state["ab_test"]["f1_macro"] = {"production": 0.9, "staging": 0.8}
    state["ab_test"]["passed"] = True
    assert promote.run(state, deps)["promoted"] is False


def test_the_first_model_is_promoted_without_a_comparison() -> None:
    deps = fake_deps()
    deps.registry.add(RuleModel(constant("setosa"), []), alias="staging")
    state = json.loads(EVENT.read_text())
    state["training"]["model_version"] = "1"
    state["evaluation"].update(production_version=None, production_metrics=None, statistical_test=None)
    state["ab_test"]["f1_macro"] = {"production": None, "staging": 0.9}
    out = promote.run(state, deps)
    assert out["promoted"] is True and out["reason"] == policy.NO_PRODUCTION_MODEL
    assert out["previous_version"] is None and out["new_version"] == "1"
    assert deps.registry.aliases == {"production": "1"}


@pytest.mark.parametrize("missing", ["training", "evaluation", "ab_test"])
def test_a_run_state_without_an_earlier_result_names_it(deps, state, missing: str) -> None:
    del state[missing]
    with pytest.raises(InvalidRequestError, match=f"no '{missing}' result"):
        promote.run(state, deps)
    assert deps.registry.promotions == []
