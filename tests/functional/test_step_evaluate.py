"""evaluate_candidate on in-memory fakes: the offline gate against Production, or none before the first model."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_core import layout, policy
from mlops_core.contracts import EvaluationOutput
from mlops_core.decision import INSUFFICIENT_DATA, telescoping_gamma
from mlops_core.decision.ledger import Ledger, LedgerCorruptError
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
    assert out["production_version"] is None and out["decision"] is None
    assert out["production_metrics"] is None
    assert out["staging_metrics"]["f1_macro"] == 1.0
    assert out["rows"]["own"] == state["training"]["holdout_rows"] and out["rows"]["test_number"] is None
    assert not list(deps.data.list("decisions/")), "a first model spends no α"


def test_a_clearly_better_candidate_passes_the_pre_registered_test_at_the_first_level(deps) -> None:
    state = trained(deps)
    candidate(deps, state)
    version = production(deps, state, wrong_every=3)
    out = evaluate.run(state, deps)
    assert out["production_version"] == version
    assert out["passed"] is True and out["reason"] == policy.SIGNIFICANT_IMPROVEMENT
    decision = out["decision"]
    assert decision["n"] == state["training"]["holdout_rows"] == out["rows"]["own"]
    # 30 rows where only the candidate is right and none the other way: the exact sign-flip test decides
    assert decision["test"] == "exact_sign_flip" and decision["p_value"] == 2.0 ** -decision["n_disagreements"]
    assert decision["alpha"] == 0.05 and decision["alpha_t"] == pytest.approx(0.05 / 2 * telescoping_gamma(1))
    assert decision["observed_delta"] > 0 and decision["rejected"] is True
    assert out["production_metrics"]["f1_macro"] < out["staging_metrics"]["f1_macro"] == 1.0
    assert out["rows"]["test_number"] == 1


def test_an_equal_candidate_does_not_pass(deps) -> None:
    state = trained(deps)
    candidate(deps, state, wrong_every=4)
    production(deps, state, wrong_every=4)
    out = evaluate.run(state, deps)
    assert out["passed"] is False and out["reason"] in (policy.NOT_SIGNIFICANT, INSUFFICIENT_DATA)
    assert out["decision"]["observed_delta"] == 0.0 and out["decision"]["rejected"] is False


def test_a_worse_candidate_fails(deps) -> None:
    state = trained(deps)
    candidate(deps, state, wrong_every=2)
    production(deps, state)
    out = evaluate.run(state, deps)
    assert out["passed"] is False and out["decision"]["observed_delta"] < 0


def test_every_test_is_numbered_in_the_ledger_and_later_runs_pool_earlier_held_out_rows(deps) -> None:
    first = trained(deps, "run-1")
    candidate(deps, first, wrong_every=4)
    production(deps, first, wrong_every=4)
    one = evaluate.run(first, deps)
    second = trained(deps, "run-2", seed=12)
    candidate(deps, second, wrong_every=4)
    two = evaluate.run(second, deps)
    assert one["rows"]["test_number"] == 1 and two["rows"]["test_number"] == 2
    assert two["rows"]["pooled"] == first["training"]["holdout_rows"] and two["rows"]["pooled_runs"] == 1
    assert two["decision"]["n"] == first["training"]["holdout_rows"] + second["training"]["holdout_rows"]
    # the level follows LORD++ with the front-loaded γ: no rejection yet, so W0·γ2
    assert two["decision"]["alpha_t"] == pytest.approx(0.025 * telescoping_gamma(2))
    entries = Ledger(deps.data, "iris", 0.05).entries()
    assert [e["run_id"] for e in entries] == ["run-1", "run-2"]
    assert entries[1]["pooled_keys"] == [first["training"]["holdout_key"]]


def test_a_batch_run_again_is_not_pooled_with_itself(deps) -> None:
    first = trained(deps, "run-1")
    candidate(deps, first, wrong_every=4)
    production(deps, first, wrong_every=4)
    evaluate.run(first, deps)
    again = {**first, "run_id": "run-1-again"}
    out = evaluate.run(again, deps)
    assert out["rows"]["test_number"] == 2 and out["rows"]["pooled"] == 0


def test_a_retried_step_returns_its_recorded_decision_and_spends_nothing_more(deps) -> None:
    state = trained(deps)
    candidate(deps, state)
    production(deps, state, wrong_every=3)
    out = evaluate.run(state, deps)
    again = evaluate.run(state, deps)
    assert again == out
    assert len(Ledger(deps.data, "iris", 0.05).entries()) == 1


def test_a_run_that_loses_the_race_for_a_test_number_takes_the_next_at_its_level(deps, monkeypatch) -> None:
    state = trained(deps, "run-b")
    candidate(deps, state)
    version = production(deps, state, wrong_every=3)
    real_entries = Ledger.entries
    reads = []

    def stale_then_real(self):
        reads.append(1)
        if len(reads) == 1:
            # another run records test 1 between this run's read and its write
            # (its candidate is today's Production, so its rows are not pooled)
            entry = {**_entry("run-a", t=1), "alpha_t": self.level([]), "staging_version": version}
            assert self.record(entry)
            return []
        return real_entries(self)

    monkeypatch.setattr(Ledger, "entries", stale_then_real)
    out = evaluate.run(state, deps)
    assert out["rows"]["test_number"] == 2 and len(reads) == 2
    assert out["decision"]["alpha_t"] == pytest.approx(0.025 * telescoping_gamma(2))


def test_a_ledger_edited_by_hand_is_refused_rather_than_spent(deps) -> None:
    state = trained(deps)
    candidate(deps, state)
    production(deps, state, wrong_every=3)
    deps.data.put_new(layout.ledger_entry_key("iris", 0.05, 2), b'{"t": 2}')
    with pytest.raises(LedgerCorruptError, match="lacks fields"):
        evaluate.run(state, deps)


def _entry(run_id: str, *, t: int) -> dict[str, Any]:
    return {
        "t": t,
        "run_id": run_id,
        "alpha": 0.05,
        "alpha_t": 0.0,
        "rejected": False,
        "verdict": policy.NOT_SIGNIFICANT,
        "batch_key": "datasets/iris/current/other.parquet",
        "holdout_key": "splits/other/holdout.parquet",
        "own_rows": 0,
        "pooled_keys": [],
        "staging_version": "0",
        "production_version": "0",
        "recorded_at": "2026-12-01T00:00:00+00:00",
        "decision": {},
    }


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
