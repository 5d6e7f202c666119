"""promote_if_better on in-memory fakes: one alias move when both gates pass, nothing otherwise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mlops_core import gate_tags, policy
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
        "outcome": "promoted",
        "reason": policy.BETTER_OFFLINE_AND_ONLINE,
        "model_name": "iris-classifier",
        "candidate_version": "2",
        "previous_version": "1",
        "new_version": "2",
    }
    assert deps.registry.aliases == {"production": "2"}
    (record,) = deps.registry.promotions
    assert record.by == state["execution_arn"]
    decision = state["evaluation"]["decision"]
    assert record.evidence["offline"]["p_value"] == decision["p_value"]
    assert record.evidence["offline"]["verdict"] == "significant_improvement"
    assert record.evidence["online"]["pairs"] == state["ab_test"]["evidence"]["pairs"]
    assert record.evidence["run_id"] == state["run_id"]


def test_the_evidence_is_written_on_the_candidate_whatever_the_outcome(deps, state) -> None:
    state["evaluation"]["decision"].update(verdict="insufficient_data")
    promote.run(state, deps)
    tags = deps.registry.versions["2"].tags
    assert tags[gate_tags.OFFLINE] == "insufficient_data" and tags[gate_tags.ONLINE] == "non_inferior"
    assert tags[gate_tags.DECISION] == "insufficient_data" and tags[gate_tags.RUN_ID] == state["run_id"]
    metrics = deps.registry.versions["2"].run_metrics
    assert metrics["gate.offline.p_value"] == state["evaluation"]["decision"]["p_value"]
    assert metrics["gate.online.pairs"] == state["ab_test"]["evidence"]["pairs"]
    assert {k for k in metrics if k.startswith("gate.class.")} >= {"gate.class.setosa.delta"}


def test_without_an_execution_arn_the_run_id_is_the_actor(deps, state) -> None:
    del state["execution_arn"]
    promote.run(state, deps)
    assert deps.registry.promotions[0].by == state["run_id"]


def test_a_failed_offline_gate_retires_the_candidate_and_leaves_production_alone(deps, state) -> None:
    state["evaluation"]["decision"]["verdict"] = "not_significant"
    out = promote.run(state, deps)
    assert out["promoted"] is False and out["outcome"] == "blocked" and out["reason"] == policy.NOT_SIGNIFICANT
    assert out["previous_version"] == "1" and out["new_version"] is None
    assert deps.registry.aliases == {"production": "1"} and deps.registry.promotions == []
    assert deps.registry.versions["2"].tags[gate_tags.STATE] == gate_tags.RETIRED


def test_an_inferior_candidate_online_is_retired(deps, state) -> None:
    state["ab_test"]["evidence"]["test"]["verdict"] = "inferior"
    out = promote.run(state, deps)
    assert out["outcome"] == "blocked" and out["reason"] == policy.INFERIOR
    assert deps.registry.promotions == []


def test_an_undecided_online_test_keeps_the_candidate_waiting_in_staging(deps, state) -> None:
    state["ab_test"]["evidence"]["test"]["verdict"] = "continue"
    out = promote.run(state, deps)
    assert out["outcome"] == "pending" and out["reason"] == policy.AWAITING_ONLINE_EVIDENCE
    assert deps.registry.aliases == {"production": "1", "staging": "2"}
    tags = deps.registry.versions["2"].tags
    assert tags[gate_tags.STATE] == gate_tags.PENDING and tags[gate_tags.STAGED_AT] == state["ab_test"]["staged_at"]


def test_a_candidate_undecided_for_too_long_is_retired(deps, state) -> None:
    state["ab_test"]["evidence"]["test"]["verdict"] = "continue"
    state["ab_test"]["staged_at"] = "2026-01-01T00:00:00+00:00"  # long before the fake clock's now
    out = promote.run(state, deps)
    assert out["outcome"] == "blocked" and out["reason"] == policy.ONLINE_UNDECIDED_TOO_LONG


def test_a_reviewed_waiting_candidate_is_promoted_on_its_offline_verdict_and_new_evidence(deps, state) -> None:
    review = {k: v for k, v in state.items() if k not in ("training", "evaluation")}
    review["pending"] = {
        "found": True,
        "version": "2",
        "staged_at": state["ab_test"]["staged_at"],
        "offline_verdict": "significant_improvement",
        "staged_by_run": "run-earlier",
    }
    out = promote.run(review, deps)
    assert out["outcome"] == "promoted" and out["candidate_version"] == "2"
    assert deps.registry.aliases == {"production": "2"}
    # the run that staged it stays recorded: a review does not overwrite when or by whom it was staged
    assert gate_tags.RUN_ID not in deps.registry.versions["2"].tags


def test_production_moved_since_the_decision_promotes_nothing_and_retires_the_candidate(deps, state) -> None:
    deps.registry.add(RuleModel(constant("setosa"), []), alias="production")  # v3 promoted meanwhile
    out = promote.run(state, deps)
    assert out["outcome"] == "blocked" and out["reason"] == policy.PRODUCTION_CHANGED
    assert deps.registry.aliases["production"] == "3" and deps.registry.promotions == []
    tags = deps.registry.versions["2"].tags
    assert tags[gate_tags.STATE] == gate_tags.RETIRED and tags[gate_tags.DECISION] == policy.PRODUCTION_CHANGED


def test_the_state_tag_follows_the_alias_move(deps, state) -> None:
    promote.run(state, deps)
    assert deps.registry.versions["2"].tags[gate_tags.STATE] == gate_tags.PROMOTED


def test_the_gates_are_recomputed_from_the_figures_not_the_passed_flags(deps, state) -> None:
    state["ab_test"]["evidence"]["test"]["verdict"] = "inferior"
    state["ab_test"]["passed"] = True
    assert promote.run(state, deps)["promoted"] is False


def test_the_first_model_is_promoted_without_a_comparison() -> None:
    deps = fake_deps()
    deps.registry.add(RuleModel(constant("setosa"), []), alias="staging")
    state = json.loads(EVENT.read_text())
    state["training"]["model_version"] = "1"
    state["evaluation"].update(production_version=None, production_metrics=None, decision=None)
    state["ab_test"].update(production_version=None, evidence=None)
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
