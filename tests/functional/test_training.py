"""AutoML training and MLflow registration on the real PyCaret, sklearn and an MLflow sqlite store.

Models are trained once per module with a few fast estimators and 3 folds, so the file stays well under a minute.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mlops_core.data import demo_datasets
from mlops_core.exceptions import DataValidationError, InvalidRequestError
from mlops_core.registry import STAGING
from mlops_core.training import automl, budget
from mlops_core.training.automl import FAST_MODELS, TrainedModel, f1_macro, train_best_model
from mlops_core.training.exceptions import TrainingBudgetError
from mlops_core.training.register import IDEMPOTENCY_TAG, register_candidate
from mlops_core.training.split import stratified_split

pytestmark = pytest.mark.slow

DRIFT = {"detected": True, "share_of_drifted_columns": 0.75, "columns": {"petal_length": {"drifted": True}}}


def _train(name: str) -> tuple[TrainedModel, pd.DataFrame]:
    baseline, config = demo_datasets.build(name)
    train, holdout = stratified_split(baseline, config.target, 0.3, seed=3)
    model = train_best_model(
        train,
        config.target,
        categorical=config.categorical or [],
        budget_seconds=60,
        seed=3,
        include=FAST_MODELS,
        folds=3,
    )
    return model, holdout


@pytest.fixture(scope="module")
def iris_model() -> tuple[TrainedModel, pd.DataFrame]:
    return _train("iris")


@pytest.fixture(scope="module")
def penguins_model() -> tuple[TrainedModel, pd.DataFrame]:
    return _train("penguins")


def _register(model: TrainedModel, key: str, name: str = "iris-classifier") -> dict:
    return register_candidate(
        model,
        model_name=name,
        train_uris=["s3://data/datasets/iris/baseline.parquet", "s3://data/splits/run-1/train.parquet"],
        holdout_uri="s3://data/splits/run-1/holdout.parquet",
        drift_summary=DRIFT,
        idempotency_key=key,
        params={"budget_seconds": 60, "seed": 3, "holdout_fraction": 0.3},
    )


def test_model_is_picked_by_macro_f1_and_reports_macro_metrics(iris_model) -> None:
    model, holdout = iris_model
    board = model.leaderboard
    assert [row["model"] for row in board] and {row["model"] for row in board} <= set(FAST_MODELS)
    assert [row["f1_macro"] for row in board] == sorted((row["f1_macro"] for row in board), reverse=True)
    assert model.cv_metrics == {k: board[0][k] for k in ("accuracy", "precision_macro", "recall_macro", "f1_macro")}
    assert all(0.8 < v <= 1 for v in model.cv_metrics.values())
    assert model.classes == ["setosa", "versicolor", "virginica"]
    assert set(model.timings) == {"import", "setup", "probe", "compare", "finalize"}
    predicted = model.pipeline.predict(holdout[model.features])
    assert f1_macro(holdout["species"], predicted) > 0.85


def test_iris_candidate_is_registered_with_run_data_and_staging_alias(mlflow_tracking_uri, iris_model) -> None:
    import mlflow

    model, holdout = iris_model
    out = _register(model, "exec-1")
    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias("iris-classifier", STAGING)
    assert (out["model_version"], out["reused"], out["algorithm"]) == (str(version.version), False, model.algorithm)
    assert version.tags[IDEMPOTENCY_TAG] == "exec-1"
    run = client.get_run(out["mlflow_run_id"])
    assert run.data.metrics == pytest.approx(dict(model.cv_metrics))
    assert run.data.params["budget_seconds"] == "60" and run.data.params["algorithm"] == model.algorithm
    assert json.loads(run.data.tags["data.train_uris"])[1] == "s3://data/splits/run-1/train.parquet"
    assert run.data.tags["data.holdout_uri"] == "s3://data/splits/run-1/holdout.parquet"
    assert run.data.tags["drift.detected"] == "true"
    assert mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/drift/drift_summary.json") == DRIFT
    # The run spans AutoML's measured training, not only the logging after it.
    assert (run.info.end_time - run.info.start_time) / 1000 >= sum(model.timings.values()) > 1
    datasets = {d.dataset.name: d.dataset.source_type for d in run.inputs.dataset_inputs}
    assert datasets == dict.fromkeys(
        ["datasets/iris/baseline.parquet", "splits/run-1/train.parquet", "splits/run-1/holdout.parquet"], "s3"
    )

    loaded = mlflow.pyfunc.load_model(f"models:/iris-classifier@{STAGING}")
    inputs = {c.name: c.type.name for c in loaded.metadata.get_input_schema().inputs}
    assert inputs == dict.fromkeys(model.features, "double")
    predicted = pd.Series(loaded.predict(holdout[model.features]))
    assert set(predicted) <= {"setosa", "versicolor", "virginica"} and all(isinstance(p, str) for p in predicted)
    assert (predicted.to_numpy() == holdout["species"].to_numpy()).mean() > 0.85


def test_same_idempotency_key_reuses_the_version(mlflow_tracking_uri, iris_model) -> None:
    import mlflow

    model, _ = iris_model
    first = _register(model, "exec-7")
    again = _register(model, "exec-7")
    assert again["reused"] is True
    assert (again["model_version"], again["mlflow_run_id"]) == (first["model_version"], first["mlflow_run_id"])
    assert again["metrics"] == pytest.approx(dict(first["metrics"]))
    client = mlflow.MlflowClient()
    assert len(client.search_model_versions("name = 'iris-classifier'")) == 1

    other = _register(model, "exec-8")
    assert (other["reused"], other["model_version"]) == (False, str(int(first["model_version"]) + 1))
    assert str(client.get_model_version_by_alias("iris-classifier", STAGING).version) == other["model_version"]
    # Re-running the first input points Staging back at its own candidate, registering nothing.
    assert _register(model, "exec-7")["model_version"] == first["model_version"]
    assert str(client.get_model_version_by_alias("iris-classifier", STAGING).version) == first["model_version"]
    assert len(client.search_model_versions("name = 'iris-classifier'")) == 2


@pytest.mark.parametrize("key", ["", "it's", 'a"b', "back\\slash", "x" * 251, None])
def test_unsafe_idempotency_keys_are_refused(mlflow_tracking_uri, iris_model, key) -> None:
    with pytest.raises(InvalidRequestError, match="idempotency key"):
        _register(iris_model[0], key)


def test_penguins_reloaded_model_takes_categoricals_with_nans_and_returns_labels(
    mlflow_tracking_uri, penguins_model
) -> None:
    import mlflow

    model, holdout = penguins_model
    assert model.categorical == ["island", "sex"]
    out = _register(model, "penguins-1", name="penguins-classifier")
    loaded = mlflow.pyfunc.load_model(f"models:/penguins-classifier/{out['model_version']}")
    schema = {c.name: c.type.name for c in loaded.metadata.get_input_schema().inputs}
    assert schema == {
        "island": "string",
        "bill_length_mm": "double",
        "bill_depth_mm": "double",
        "flipper_length_mm": "double",
        "body_mass_g": "double",
        "sex": "string",
    }
    assert {c.type.name for c in loaded.metadata.get_output_schema().inputs} == {"string"}
    # Present but nullable: the API accepts a missing value for every feature, since the pipeline imputes.
    assert not any(c.required for c in loaded.metadata.get_input_schema().inputs)
    features = holdout[model.features]
    assert features["sex"].isna().any()  # the holdout exercises missing categoricals
    predicted = pd.Series(loaded.predict(features))
    assert set(predicted) <= {"Adelie", "Chinstrap", "Gentoo"}
    assert (predicted.to_numpy() == holdout["species"].to_numpy()).mean() > 0.9

    # A row with every value missing still gets a label: PyCaret's pipeline imputes.
    blank = (
        pd.DataFrame([dict.fromkeys(model.features, np.nan)])
        .astype({"bill_length_mm": float, "bill_depth_mm": float, "flipper_length_mm": float, "body_mass_g": float})
        .astype({"island": object, "sex": object})
    )
    assert loaded.predict(blank)[0] in {"Adelie", "Chinstrap", "Gentoo"}

    if model.has_proba:
        sk_model = mlflow.sklearn.load_model(f"models:/penguins-classifier/{out['model_version']}")
        proba = sk_model.predict_proba(features)
        assert proba.shape == (len(features), 3) and np.allclose(proba.sum(axis=1), 1)
        by_proba = np.asarray(model.classes)[proba.argmax(axis=1)]
        assert (by_proba == predicted.to_numpy()).mean() > 0.95


def _iris_train() -> pd.DataFrame:
    return demo_datasets.iris()


@pytest.mark.parametrize(
    ("change", "kwargs", "error", "message"),
    [
        (lambda df: df.drop(columns="species"), {}, DataValidationError, "target column 'species' is missing"),
        (lambda df: df.assign(species="setosa"), {}, DataValidationError, "1 class"),
        (lambda df: df.assign(species=df["species"].where(df.index > 3)), {}, DataValidationError, "missing"),
        (lambda df: df.iloc[[0, 1, 50, 51]], {}, DataValidationError, "4 rows"),
        (lambda df: df, {"budget_seconds": 0}, InvalidRequestError, "budget_seconds"),
        (lambda df: df, {"categorical": ["colour"]}, InvalidRequestError, "colour"),
        (lambda df: df, {"include": ["no_such_model"]}, InvalidRequestError, "no_such_model"),
        (lambda df: df.assign(sepal_length="wide"), {}, DataValidationError, "non-numbers"),
    ],
    ids=[
        "no-target",
        "one-class",
        "missing-labels",
        "too-few-rows",
        "no-budget",
        "bad-categorical",
        "unknown-model",
        "text-in-numeric",
    ],
)
def test_training_refuses_bad_input(change, kwargs, error, message) -> None:
    arguments = {"categorical": [], "budget_seconds": 10, "seed": 1, "include": ["dt"], "folds": 2, **kwargs}
    with pytest.raises(error, match=message):
        train_best_model(change(_iris_train()), "species", **arguments)


def test_many_classes_categorical_and_missing_values_train_the_same_way() -> None:
    data = demo_datasets.synthetic(1500, seed=2)
    train, holdout = stratified_split(data, "label", 0.3, seed=2)
    model = train_best_model(
        train, "label", categorical=["segment"], budget_seconds=30, seed=2, include=["dt", "nb"], folds=3
    )
    assert model.classes == [f"class_{k}" for k in range(5)]
    predicted = model.pipeline.predict(holdout[model.features])
    assert set(predicted) <= set(model.classes)
    assert f1_macro(holdout["label"], predicted) > 0.5  # five classes: chance is 0.2


# --- the time budget (training.budget, training.worker) -------------------------------------------------------


def test_small_data_is_compared_in_process_on_all_rows_and_the_plan_is_recorded(iris_model) -> None:
    model, _ = iris_model
    plan = model.plan
    assert plan["in_worker"] is False and plan["sample_rows"] == plan["total_rows"] == plan["probe_rows"] == 105
    assert set(plan["models_tried"]) == set(FAST_MODELS) and plan["models_skipped"] == {}
    assert set(plan["fit_seconds"]) == set(FAST_MODELS) and all(s >= 0 for s in plan["fit_seconds"].values())
    assert plan["final_fit_estimate_seconds"] > 0 and plan["budget_seconds"] == 60
    assert plan["models_tried"][0] == model.leaderboard[0]["model"]
    assert {"probe", "compare", "finalize"} <= set(model.timings)


def test_data_above_the_probe_sample_is_compared_in_a_worker_and_the_final_fit_uses_every_row() -> None:
    data = demo_datasets.synthetic(12_000, seed=5)
    model = train_best_model(
        data, "label", categorical=["segment"], budget_seconds=60, seed=5, include=["nb", "dt"], folds=3
    )
    plan = model.plan
    assert plan["in_worker"] is True and plan["total_rows"] == 12_000
    assert plan["probe_rows"] == pytest.approx(automl.PROBE_ROWS, abs=10)  # stratified: rounded per class
    assert plan["probe_rows"] <= plan["sample_rows"] <= 12_000
    assert set(plan["models_tried"]) | set(plan["models_skipped"]) == {"nb", "dt"}
    assert set(plan["fit_seconds"]) == set(plan["models_tried"])
    assert model.pipeline.steps[-1][1].n_features_in_ > 0
    # refitted on all rows: the final estimator has seen every training row, not the sample
    estimator = model.pipeline.steps[-1][1]
    seen = estimator.class_count_.sum() if hasattr(estimator, "class_count_") else estimator.tree_.n_node_samples[0]
    assert seen == 12_000
    predicted = model.pipeline.predict(data[model.features].head(200))
    assert set(predicted) <= set(model.classes)


def test_a_candidate_over_its_time_box_is_stopped_and_recorded_as_skipped() -> None:
    data = demo_datasets.synthetic(20_000, seed=6)
    options = automl._SetupOptions("label", ["segment"], 6, 3, 1)
    frame = automl._model_frame(data, "label", ["segment"])
    # gbc planned at a tenth of a second: its box is the minimum, and 3-fold gbc on 20,000 rows takes longer
    plan = budget.ComparePlan(20_000, 20_000, ["nb", "gbc"], {"nb": 0.1, "gbc": 0.1})
    skipped: dict[str, str] = {}
    rows, fit_seconds = automl._compare_in_worker(frame, options, plan, "F1", automl._Clock(300, None), skipped)
    assert [row["model"] for row in rows] == ["nb"] and set(fit_seconds) == {"nb"}
    assert skipped["gbc"].startswith(f"stopped after {automl._MIN_BOX_SECONDS:.0f} s of cross-validation")


def test_a_final_fit_past_the_time_left_is_refused_before_it_starts() -> None:
    with pytest.raises(TrainingBudgetError, match=r"TrainingJobThresholdRows.*") as raised:
        train_best_model(
            _iris_train(),
            "species",
            categorical=[],
            budget_seconds=30,
            seed=1,
            include=["dt"],
            folds=2,
            time_left_seconds=0.001,
        )
    assert "the final fit of 'dt' on all 150 training rows" in str(raised.value)


def test_a_candidate_whose_model_would_outgrow_the_limit_is_skipped_with_its_size() -> None:
    trained = train_best_model(
        _iris_train(),
        "species",
        categorical=[],
        budget_seconds=30,
        seed=1,
        include=["et", "lr"],
        folds=2,
        max_model_bytes=50_000,  # lr's coefficients fit; a hundred trees do not
    )
    assert trained.plan["models_tried"] == ["lr"] and trained.plan["max_model_bytes"] == 50_000
    assert "MB, over the 0.048 MB a served model may take" in trained.plan["models_skipped"]["et"]


def test_an_unknown_sort_metric_is_refused_before_importing_pycaret() -> None:
    with pytest.raises(InvalidRequestError, match="cannot compare models by 'AUC'"):
        train_best_model(_iris_train(), "species", categorical=[], budget_seconds=10, seed=1, sort="AUC")
