"""train_model on in-memory fakes: the split, the training data, registration and its reuse."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import pandas as pd
import pytest
from mlops_core import layout
from mlops_core.contracts import TrainingOutput
from mlops_core.exceptions import InvalidRequestError, NotFoundError
from mlops_core.pipeline import train
from mlops_core.pipeline.deps import for_invocation
from mlops_core.training.exceptions import TrainingBudgetError

from tests.fakes import FakeTrainer, fake_deps
from tests.fakes.scenario import drifted


@pytest.fixture
def deps() -> Any:
    return fake_deps()


def frame(deps: Any, key: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(deps.data.objects[key]))


def test_a_new_candidate_is_trained_on_baseline_plus_the_training_part_and_staged(deps) -> None:
    state = drifted(deps, "run-1")
    out = train.run(state, deps)

    assert set(out) == set(TrainingOutput.__annotations__)
    assert out["reused"] is False and out["model_name"] == "iris-classifier"
    assert deps.registry.aliases["staging"] == out["model_version"]
    (call,) = deps.trainer.calls
    assert len(call["frame"]) == 150 + out["train_rows"]
    assert list(call["frame"].columns) == list(state["drift"]["column_kinds"])
    assert call["target"] == "species" and call["categorical"] == []
    assert call["budget_seconds"] == 30 and call["include"] == ["lr", "dt"]
    assert out["baseline_rows"] == 150


def test_the_split_is_disjoint_stratified_and_stored_under_the_run(deps) -> None:
    out = train.run(drifted(deps, "run-1"), deps)
    assert out["train_key"] == layout.split_key("run-1", "train")
    assert out["holdout_key"] == layout.split_key("run-1", "holdout")
    assert out["online_key"] == layout.split_key("run-1", "online")
    parts = [frame(deps, out[key]) for key in ("train_key", "holdout_key", "online_key")]
    train_part, holdout, online = parts
    assert not set(train_part.index) & set(holdout.index)
    assert not set(online.index) & (set(train_part.index) | set(holdout.index))
    assert len(train_part) + len(holdout) + len(online) == 300
    assert out["train_rows"] + out["holdout_rows"] + out["online_rows"] == 300
    assert set(holdout["species"]) == set(train_part["species"]) == set(online["species"])
    assert 0.25 < len(holdout) / 300 < 0.35 and 0.15 < len(online) / 300 < 0.25


def test_held_and_online_fractions_that_leave_nothing_to_train_on_are_refused() -> None:
    deps = fake_deps(settings={"holdout_fraction": 0.6, "online_fraction": 0.4})
    with pytest.raises(InvalidRequestError, match="must stay below 1"):
        train.run(drifted(deps), deps)


def test_a_batch_too_small_to_share_keeps_its_held_rows_for_the_offline_test() -> None:
    deps = fake_deps()
    out = train.run(drifted(deps, rows=6), deps)
    assert out["online_rows"] == 0 and out["holdout_rows"] >= 1


def test_the_holdout_fraction_comes_from_the_settings() -> None:
    deps = fake_deps(settings={"holdout_fraction": 0.5})
    out = train.run(drifted(deps), deps)
    assert out["holdout_rows"] == pytest.approx(150, abs=3) and out["online_rows"] == pytest.approx(60, abs=3)


def test_the_registration_records_the_data_and_the_drift_it_was_trained_on(deps) -> None:
    state = drifted(deps, "run-1")
    out = train.run(state, deps)
    evidence = deps.registry.versions[out["model_version"]].evidence
    assert evidence["train_uris"] == ["s3://data/datasets/iris/baseline.parquet", f"s3://data/{out['train_key']}"]
    assert evidence["holdout_uri"] == f"s3://data/{out['holdout_key']}"
    assert evidence["drift_summary"]["detected"] is True
    assert "columns" not in evidence["drift_summary"] and "column_kinds" not in evidence["drift_summary"]
    assert evidence["params"]["run_id"] == "run-1"


def test_training_never_reads_the_reference_profile(deps) -> None:
    state = drifted(deps)
    deps.data.reads.clear()
    train.run(state, deps)
    assert not [key for key in deps.data.reads if key.startswith("profiles/")]


def test_the_same_input_again_reuses_the_registered_version_without_training(deps) -> None:
    state = drifted(deps, "run-1")
    first = train.run(state, deps)
    deps.registry.aliases.pop("staging")
    deps.data.reads.clear()

    again = train.run({**state, "run_id": "run-2"}, deps)
    assert again["reused"] is True and again["model_version"] == first["model_version"]
    assert len(deps.trainer.calls) == 1
    assert deps.registry.aliases["staging"] == first["model_version"]
    assert "datasets/iris/baseline.parquet" not in deps.data.reads


def test_another_batch_trains_another_version(deps) -> None:
    first = train.run(drifted(deps, "run-1", seed=11), deps)
    second = train.run(drifted(deps, "run-2", seed=12), deps)
    assert second["model_version"] != first["model_version"] and second["reused"] is False


def test_a_retried_step_keeps_the_splits_it_wrote(deps) -> None:
    state = drifted(deps, "run-1")
    out = train.run(state, deps)
    stored = {key: deps.data.objects[key] for key in (out["train_key"], out["holdout_key"])}
    train.run(state, deps)
    assert {key: deps.data.objects[key] for key in stored} == stored


def test_the_seed_is_derived_from_the_input_so_a_rerun_splits_alike(deps) -> None:
    state = drifted(deps, "run-1")
    train.run(state, deps)
    train.run({**state, "run_id": "run-2"}, deps)
    one, two = (frame(deps, layout.split_key(run, "holdout")) for run in ("run-1", "run-2"))
    pd.testing.assert_frame_equal(one, two)


@pytest.mark.parametrize("kinds", [None, {}, {"sepal_length": "text"}, ["species"]])
def test_a_drift_result_without_column_kinds_is_refused(deps, kinds: Any) -> None:
    state = drifted(deps)
    state["drift"]["column_kinds"] = kinds
    with pytest.raises(InvalidRequestError, match="column_kinds") as error:
        train.run(state, deps)
    assert error.value.field == "drift.column_kinds"
    assert deps.trainer.calls == []


def test_a_run_state_without_the_drift_result_names_it(deps) -> None:
    state = drifted(deps)
    del state["drift"]
    with pytest.raises(InvalidRequestError, match=r"no 'drift' result.*\$\.drift"):
        train.run(state, deps)


def test_a_batch_deleted_since_the_drift_check_is_not_found(deps) -> None:
    state = drifted(deps)
    del deps.data.objects[state["drift"]["batch_key"]]
    with pytest.raises(NotFoundError, match="no longer exists"):
        train.run(state, deps)


def test_the_step_hands_the_trainer_its_remaining_time_less_the_registration_reserve() -> None:
    deps = replace(fake_deps(settings={"training_reserve_seconds": 45.0}), time_left=lambda: 500.0)
    train.run(drifted(deps), deps)
    assert deps.trainer.calls[0]["time_left_seconds"] == 455.0


def test_without_a_known_deadline_the_trainer_gets_no_limit(deps) -> None:
    train.run(drifted(deps), deps)
    assert deps.trainer.calls[0]["time_left_seconds"] is None


def test_the_training_plan_is_in_the_output_and_absent_when_the_version_is_reused(deps) -> None:
    state = drifted(deps, "run-1")
    out = train.run(state, deps)
    assert out["plan"]["models_tried"] == ["lr", "dt"] and out["plan"]["sample_rows"] == 150 + out["train_rows"]
    again = train.run({**state, "run_id": "run-2"}, deps)
    assert again["reused"] is True and "plan" not in again


def test_a_final_fit_past_the_remaining_time_fails_the_step_and_registers_nothing() -> None:
    refusal = TrainingBudgetError(
        "the final fit ... through the job path (template parameter TrainingJobThresholdRows)"
    )
    deps = replace(fake_deps(trainer=FakeTrainer(error=refusal)), time_left=lambda: 100.0)
    with pytest.raises(TrainingBudgetError, match="TrainingJobThresholdRows"):
        train.run(drifted(deps), deps)
    assert deps.registry.versions == {} and "staging" not in deps.registry.aliases


def test_the_lambda_context_gives_the_invocation_its_remaining_time(deps, lambda_context) -> None:
    lambda_context.timeout_seconds = 300.0
    timed = for_invocation(deps, lambda_context)
    assert 295.0 < timed.time_left() <= 300.0 and timed.trainer is deps.trainer
    assert deps.time_left is None  # the container's deps are not changed
    assert for_invocation(deps, object()) is deps  # a context without the method: no limit known
