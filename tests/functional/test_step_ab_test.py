"""run_ab_test on in-memory fakes: the online rows through a prediction API that routes and shadows like the real
one, then the paired sequential test on what it counted."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlops_core import policy
from mlops_core.contracts import AbTestOutput
from mlops_core.exceptions import InvalidRequestError
from mlops_core.pipeline import ab_test, evaluate

from tests.fakes import fake_deps
from tests.fakes.models import RuleModel, truth
from tests.fakes.scenario import holdout, trained


@pytest.fixture
def deps() -> Any:
    return fake_deps()


def online(deps: Any, state: dict[str, Any]) -> tuple[pd.DataFrame, list[str]]:
    from mlops_core.pipeline.holdout import load_holdout

    return load_holdout(deps.data, state["training"]["online_key"], "species")


def staged(
    deps: Any, *, candidate: dict[str, Any], production: dict[str, Any] | None, rows: int = 300
) -> dict[str, Any]:
    """A trained run with the candidate (and Production, if given) answering the held-out and the online rows
    with the given quality, evaluated offline."""
    state = trained(deps, rows=rows)
    held, held_labels = holdout(deps, state)
    rest, rest_labels = online(deps, state)
    features, labels = pd.concat([rest, held], ignore_index=True), rest_labels + held_labels
    names = list(features.columns)
    model = deps.registry.versions[state["training"]["model_version"]].model
    model.rule = truth(features[names], labels, **candidate)
    if production is not None:
        deps.registry.add(RuleModel(truth(features[names], labels, **production), names), alias="production")
    state["evaluation"] = evaluate.run(state, deps)
    return state


def test_a_first_model_answers_every_row_and_gets_every_label(deps) -> None:
    state = staged(deps, candidate={}, production=None)
    out = ab_test.run(state, deps)
    rows = state["training"]["online_rows"]

    assert set(out) == set(AbTestOutput.__annotations__)
    assert out["mode"] == "new_candidate" and out["evidence"] is None
    assert out["passed"] is True and out["reason"] == policy.NO_PRODUCTION_MODEL
    assert out["requests"] == {"production": 0, "staging": rows}
    assert out["f1_macro"] == {"production": None, "staging": 1.0}
    assert out["errors"] == {"production": 0, "staging": 0, "unrouted": 0}
    assert out["feedback_lost"] == 0 and len(deps.api.labels) == rows
    assert out["api_url"] == "http://api.test" and out["sample_size"] == rows


def test_rows_travel_in_batches_and_the_sample_size_caps_them() -> None:
    deps = fake_deps(settings={"ab_test_sample_size": 600})
    state = staged(deps, candidate={}, production={}, rows=4000)
    assert state["training"]["online_rows"] > 600
    out = ab_test.run(state, deps)
    assert out["sample_size"] == 600 == sum(out["requests"].values())
    assert deps.api.batches == [250, 250, 100]
    assert sum(deps.api.feedback_batches) == 600 and max(deps.api.feedback_batches) <= 250
    # Every row carried its own user, so one batch was answered by both variants.
    assert out["requests"]["production"] > 0 and out["requests"]["staging"] > 0


def test_the_split_is_followed_and_every_labelled_request_is_a_pair(deps) -> None:
    deps.api.production_share = 0.7
    state = staged(deps, candidate={}, production={})
    out = ab_test.run(state, deps)

    assert out["production_share"] == 0.7
    rows = state["training"]["online_rows"]
    assert sum(out["requests"].values()) == rows
    assert out["requests"]["production"] > out["requests"]["staging"] > 0
    # Every answer carries its user's label back: the API's own statistics see the same rows.
    _, labels = online(deps, state)
    assert sorted(deps.api.labels.values()) == sorted(labels)
    evidence = out["evidence"]
    assert evidence["pairs"] == rows and evidence["both_correct"] == rows
    assert evidence["staging_version"] == state["training"]["model_version"]


def test_ties_are_not_evidence_so_an_equal_candidate_keeps_waiting(deps) -> None:
    state = staged(deps, candidate={}, production={})
    out = ab_test.run(state, deps)
    assert out["passed"] is False and out["reason"] == policy.CONTINUE
    assert out["evidence"]["test"]["verdict"] == "continue"


def test_a_candidate_right_where_production_is_wrong_is_non_inferior() -> None:
    deps = fake_deps()
    state = staged(deps, candidate={}, production={"wrong_every": 2}, rows=1500)
    out = ab_test.run(state, deps)
    assert out["evidence"]["staging_only"] > 100 and out["evidence"]["production_only"] == 0
    assert out["passed"] is True and out["reason"] == policy.NON_INFERIOR


def test_a_candidate_worse_online_is_inferior() -> None:
    deps = fake_deps()
    state = staged(deps, candidate={"wrong_every": 2}, production={}, rows=1500)
    out = ab_test.run(state, deps)
    assert out["evidence"]["production_only"] > 100 and out["evidence"]["staging_only"] == 0
    assert out["passed"] is False and out["reason"] == policy.INFERIOR


def test_a_waiting_candidate_is_judged_on_this_runs_batch_and_the_evidence_so_far(deps) -> None:
    state = staged(deps, candidate={}, production={})
    first = ab_test.run(state, deps)
    # the next day: no training, the batch's labelled rows go through the API for the waiting candidate
    from tests.fakes.scenario import add_batch

    batch_key = add_batch(deps, seed=21, rows=120)
    review = {
        "run_id": "run-2",
        "execution_arn": "arn:run-2",
        "input": {},
        "drift": {**state["drift"], "batch_key": batch_key},
        "pending": {
            "found": True,
            "version": state["training"]["model_version"],
            "staged_at": first["staged_at"],
            "offline_verdict": "significant_improvement",
            "staged_by_run": "run-1",
        },
    }
    out = ab_test.run(review, deps)
    assert out["mode"] == "pending_candidate" and out["staged_at"] == first["staged_at"]
    assert out["sample_size"] == 120
    assert out["evidence"]["pairs"] >= first["evidence"]["pairs"] + sum(out["requests"].values()) - sum(
        out["errors"].values()
    )


@pytest.mark.parametrize(("share", "silent"), [(1.0, "staging"), (0.0, "production")])
def test_a_split_that_starves_a_variant_gives_no_ab_data(deps, share: float, silent: str) -> None:
    deps.api.production_share = share
    state = staged(deps, candidate={}, production={})
    out = ab_test.run(state, deps)
    assert out["requests"][silent] == 0 and out["f1_macro"][silent] is None
    # shadow mode still pairs every request: the starved variant answered them all in the shadow
    assert out["evidence"]["pairs"] == state["training"]["online_rows"]


def test_a_refused_batch_counts_its_rows_as_unrouted_and_does_not_stop_the_run() -> None:
    deps = fake_deps()
    deps.api.refuse = lambda user_id: user_id == "run-1-260"  # in the second batch of 250
    state = staged(deps, candidate={}, production={}, rows=1500)
    out = ab_test.run(state, deps)
    rows = state["training"]["online_rows"]
    assert 260 < rows <= 500
    assert out["errors"]["unrouted"] == rows - 250  # the whole second batch
    assert sum(out["requests"].values()) == 250


def test_the_step_waits_for_the_api_to_serve_the_candidate(deps) -> None:
    state = staged(deps, candidate={}, production={})
    ab_test.run(state, deps)
    expected = {"staging": state["training"]["model_version"], "production": state["evaluation"]["production_version"]}
    assert deps.api.awaited == [expected]


def test_a_first_model_is_awaited_alone(deps) -> None:
    state = staged(deps, candidate={}, production=None)
    ab_test.run(state, deps)
    assert deps.api.awaited == [{"staging": state["training"]["model_version"]}]


def test_answers_from_a_stale_version_are_errors_not_evidence(deps) -> None:
    state = staged(deps, candidate={}, production={})
    production = state["evaluation"]["production_version"]
    deps.api.serve_version = {"staging": production}  # the API's cache still serves the old model as staging
    out = ab_test.run(state, deps)
    assert out["errors"]["staging"] == out["requests"]["staging"] > 0
    assert out["f1_macro"]["staging"] is None
    assert len(deps.api.labels) == out["requests"]["production"]


def test_lost_feedback_is_counted_and_logged_but_not_fatal(deps, caplog: pytest.LogCaptureFixture) -> None:
    deps.api.feedback_status = lambda prediction_id: "lost" if prediction_id.startswith("staging") else "recorded"
    state = staged(deps, candidate={}, production={})
    mlops_logger = logging.getLogger("mlops")
    mlops_logger.addHandler(caplog.handler)
    try:
        out = ab_test.run(state, deps)
    finally:
        mlops_logger.removeHandler(caplog.handler)
    assert out["feedback_lost"] == out["requests"]["staging"] > 0
    warning = json.loads(caplog.records[-1].getMessage())
    assert warning == {
        "feedback_lost": out["feedback_lost"],
        "phase": "warning",
        "run_id": "run-1",
        "step": "run_ab_test",
    }
    assert out["f1_macro"]["staging"] == 1.0  # the step scored the answers itself


def test_a_duplicate_label_is_not_lost(deps) -> None:
    deps.api.feedback_status = lambda prediction_id: "duplicate"
    out = ab_test.run(staged(deps, candidate={}, production={}), deps)
    assert out["feedback_lost"] == 0


def test_missing_values_travel_as_json_null(deps) -> None:
    state = staged(deps, candidate={}, production=None)
    seen: list[dict[str, Any]] = []
    predict = deps.api.predict_batch

    def recording(records: list[dict[str, Any]], user_ids: list[str]) -> Any:
        seen.extend(records)
        return predict(records, user_ids)

    deps.api.predict_batch = recording
    key = state["training"]["online_key"]
    frame = pd.read_parquet(io.BytesIO(deps.data.objects.pop(key)))
    frame.loc[frame.index[0], "sepal_length"] = np.nan
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    deps.data.put_new(key, buffer.getvalue())

    ab_test.run(state, deps)
    assert seen[0]["sepal_length"] is None
    assert all(type(v) is float for row in seen[1:] for v in row.values())
    json.dumps(seen)  # plain JSON, no numpy scalars


def test_a_run_state_without_the_evaluation_names_it(deps) -> None:
    state = staged(deps, candidate={}, production=None)
    del state["evaluation"]
    with pytest.raises(InvalidRequestError, match="no 'evaluation' result"):
        ab_test.run(state, deps)
