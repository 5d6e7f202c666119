"""Batches through the Chalice app: predictions routed row by row with `user_ids`, and feedback in batches, over
the real MLflow registry of test_api_routes (iris v1 in production, v2 in staging) and the A/B table on moto."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from mlops_core import settings
from mlops_core.ab_store import pair_outcome
from mlops_core.prediction_ids import default_secret, make_prediction_id, parse_prediction_id, parse_signed_prediction
from mlops_core.routing import choose_variant
from test_ab_store import serialised_dynamodb  # noqa: F401 (fixture)
from test_api_routes import (  # noqa: F401 (fixtures)
    AUTH,
    IRIS_ROW,
    assert_error,
    chalice_app,
    client,
    clock,
    iris_frame,
    post,
    registry_template,
)

VERSIONS = {"production": "1", "staging": "2"}
USERS = [f"user-{i}" for i in range(40)]


def iris_rows(count: int) -> list[dict[str, float]]:
    X, _ = iris_frame()
    return X.sample(count, replace=count > len(X), random_state=0).to_dict(orient="records")


def counters(http: Any) -> dict[str, dict[str, int]]:
    variants = http.get("/stats/ab").json_body["variants"]
    names = ("requests", "rows", "errors", "labelled")
    return {variant: {name: variants[variant][name] for name in names} for variant in VERSIONS}


def counts(requests: int = 0, rows: int = 0, errors: int = 0, labelled: int = 0) -> dict[str, int]:
    return {"requests": requests, "rows": rows, "errors": errors, "labelled": labelled}


def predict_batch(http: Any, rows: list[dict], user_ids: list[str]) -> list[dict]:
    response = post(http, "/predict", {"instances": rows, "user_ids": user_ids})
    assert response.status_code == 200, response.body
    assert set(response.json_body) == {"predictions"}
    return response.json_body["predictions"]


# predictions routed per row
def test_each_row_goes_to_its_users_variant_and_answers_come_back_in_request_order(client) -> None:  # noqa: F811
    rows = iris_rows(len(USERS))
    expected = [choose_variant(0.5, key=user_id) for user_id in USERS]
    assert set(expected) == {"production", "staging"}

    items = predict_batch(client, rows, USERS)

    assert [item["variant"] for item in items] == expected
    assert [item["model_version"] for item in items] == [VERSIONS[variant] for variant in expected]
    for item in items:
        assert set(item) == {"prediction", "probabilities", "prediction_id", "variant", "model_version"}
        signed = parse_prediction_id(item["prediction_id"], default_secret())
        assert signed == (item["variant"], item["model_version"], item["prediction"])
    # Each row's answer is what the single form gives that row and user: nothing moved between rows.
    for row, user_id, item in zip(rows, USERS, items, strict=True):
        single = post(client, "/predict", {"features": row, "user_id": user_id}).json_body
        assert (single["prediction"], single["variant"]) == (item["prediction"], item["variant"])
        assert single["probabilities"] == pytest.approx(item["probabilities"])


def test_a_mixed_batch_counts_one_request_and_its_rows_for_each_variant(client) -> None:  # noqa: F811
    to_production = sum(choose_variant(0.5, key=user_id) == "production" for user_id in USERS)
    predict_batch(client, iris_rows(len(USERS)), USERS)
    assert counters(client) == {
        "production": counts(requests=1, rows=to_production),
        "staging": counts(requests=1, rows=len(USERS) - to_production),
    }
    # A batch whose users all fall on one side counts for that variant only.
    staging_users = [user_id for user_id in USERS if choose_variant(0.5, key=user_id) == "staging"]
    assert {item["variant"] for item in predict_batch(client, iris_rows(5), staging_users[:5])} == {"staging"}
    assert counters(client)["staging"] == counts(requests=2, rows=len(USERS) - to_production + 5)
    assert counters(client)["production"]["requests"] == 1


def test_user_ids_follow_the_traffic_split(client) -> None:  # noqa: F811
    assert post(client, "/config/traffic", {"production": 1.0}, AUTH).status_code == 200
    assert {item["variant"] for item in predict_batch(client, iris_rows(10), USERS[:10])} == {"production"}
    assert post(client, "/config/traffic", {"production": 0.0}, AUTH).status_code == 200
    assert {item["model_version"] for item in predict_batch(client, iris_rows(10), USERS[:10])} == {"2"}


def test_a_batch_without_user_ids_has_one_variant_named_on_top_and_in_every_item(client) -> None:  # noqa: F811
    response = post(client, "/predict", {"instances": iris_rows(5), "user_id": "someone"})
    assert response.status_code == 200, response.body
    body = response.json_body
    assert set(body) == {"predictions", "variant", "model_version"}
    assert body["variant"] == choose_variant(0.5, key="someone")
    assert {(item["variant"], item["model_version"]) for item in body["predictions"]} == {
        (body["variant"], body["model_version"])
    }
    assert counters(client)[body["variant"]] == counts(requests=1, rows=5)


@pytest.mark.parametrize(
    ("body", "field", "match"),
    [
        ({"instances": [IRIS_ROW] * 3, "user_ids": USERS[:2]}, "user_ids", "2 entries for 3 instances"),
        ({"instances": [IRIS_ROW] * 3, "user_ids": ["a", "b", False]}, "user_ids[2]", "string or an integer"),
        ({"instances": [IRIS_ROW] * 2, "user_ids": ["a", "u" * 257]}, "user_ids[1]", "1 to 256"),
        ({"instances": [IRIS_ROW] * 2, "user_ids": "a"}, "user_ids", "must be an array"),
        ({"features": IRIS_ROW, "user_ids": ["a"]}, "user_ids", "one record takes 'user_id'"),
        ({"instances": [IRIS_ROW], "user_ids": ["a"], "user_id": "a"}, "user_ids", "not both"),
        (
            {"instances": [IRIS_ROW] * 3 + [{**IRIS_ROW, "petal_width": "wide"}], "user_ids": USERS[:4]},
            "instances[3].petal_width",
            "must be a number",
        ),
        (
            {"instances": [IRIS_ROW, {**IRIS_ROW, "petal_width": None}] * 20, "user_ids": USERS},
            "instances[1].petal_width",
            "required",
        ),
        ({"instances": [IRIS_ROW] * 6, "user_ids": USERS[:6]}, "instances", "over the limit of 5"),
    ],
)
def test_bad_batches_are_400s_naming_the_field_and_count_as_no_traffic(client, monkeypatch, body, field, match) -> None:  # noqa: F811
    monkeypatch.setenv(settings.MAX_BATCH, "5" if len(body.get("instances", [])) == 6 else "1000")
    assert_error(post(client, "/predict", body), 400, field, match)
    assert counters(client) == {"production": counts(), "staging": counts()}


def break_staging_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pass of model v2 (Staging) fails from now on, served or in shadow."""
    from mlops_core.api import prediction

    answer = prediction._labels_and_probabilities

    def staging_fails(model: Any, frame: Any) -> Any:
        if model.version == "2":
            raise RuntimeError("the staging model broke")
        return answer(model, frame)

    monkeypatch.setattr(prediction, "_labels_and_probabilities", staging_fails)


def test_only_a_model_failing_after_validation_counts_as_its_variants_error(client, monkeypatch) -> None:  # noqa: F811
    break_staging_model(monkeypatch)
    to_production = sum(choose_variant(0.5, key=user_id) == "production" for user_id in USERS)
    assert post(client, "/predict", {"instances": iris_rows(len(USERS)), "user_ids": USERS}).status_code == 500
    assert post(client, "/predict", {"features": {**IRIS_ROW, "sepal_length": "x"}}).status_code == 400
    assert counters(client) == {
        "production": counts(requests=1, rows=to_production),
        "staging": counts(requests=1, rows=len(USERS) - to_production, errors=1),
    }


# feedback in batches
def feedback(http: Any, items: list[tuple[str, Any]]) -> dict:
    body = {"feedback": [{"prediction_id": prediction_id, "label": label} for prediction_id, label in items]}
    response = post(http, "/feedback", body)
    assert response.status_code == 200, response.body
    return response.json_body


def test_one_feedback_batch_records_counts_duplicates_and_rejects_in_request_order(client) -> None:  # noqa: F811
    items = predict_batch(client, iris_rows(len(USERS)), USERS)
    ids = [item["prediction_id"] for item in items]
    assert post(client, "/feedback", {"prediction_id": ids[0], "label": "setosa"}).status_code == 200
    forged = make_prediction_id("production", "1", "setosa", "another-secret")

    body = feedback(
        client,
        [
            (ids[0], "setosa"),  # labelled above
            (ids[1], "versicolor"),
            (forged, "setosa"),
            (ids[2] + "==", "setosa"),  # another spelling of an id is not another id
            (ids[3], "dog"),  # not a class of the model
            (ids[2], "virginica"),
            (ids[1], "setosa"),  # the same id earlier in this batch
            (ids[4], ""),
        ],
    )

    assert [result["status"] for result in body["results"]] == [
        "duplicate",
        "recorded",
        "rejected",
        "rejected",
        "rejected",
        "recorded",
        "duplicate",
        "rejected",
    ]
    assert (body["recorded"], body["duplicates"], body["rejected"]) == (2, 2, 4)
    assert [result["prediction_id"] for result in body["results"]][:3] == [ids[0], ids[1], forged]
    errors = [result.get("error") for result in body["results"]]
    assert errors[2] == "prediction_id does not verify: forged or issued elsewhere"
    assert errors[3] == "prediction_id is malformed"
    assert errors[4].startswith(f"label 'dog' is not a class of the model v{items[3]['model_version']}")
    assert errors[0] is None and "label must be" in errors[7]
    labelled = {variant: count["labelled"] for variant, count in counters(client).items()}
    assert sum(labelled.values()) == 3


def test_the_single_form_refuses_a_label_the_model_does_not_have(client) -> None:  # noqa: F811
    item = post(client, "/predict", {"features": IRIS_ROW}).json_body
    refused = post(client, "/feedback", {"prediction_id": item["prediction_id"], "label": "dog"})
    assert_error(refused, 400, "label", f"is not a class of the model v{item['model_version']}")
    assert post(client, "/feedback", {"prediction_id": item["prediction_id"], "label": "setosa"}).status_code == 200
    again = post(client, "/feedback", {"prediction_id": item["prediction_id"] + "==", "label": "setosa"})
    assert_error(again, 400, "prediction_id", "malformed")
    assert_error(post(client, "/feedback", {"prediction_id": item["prediction_id"], "label": "setosa"}), 409)


def test_labels_for_a_version_the_api_has_not_loaded_are_taken_unchecked(client) -> None:  # noqa: F811
    retired = make_prediction_id("production", "9", "setosa", default_secret())
    assert post(client, "/feedback", {"prediction_id": retired, "label": "dog"}).status_code == 200
    assert feedback(client, [(make_prediction_id("staging", "9", "cat", default_secret()), "dog")])["recorded"] == 1


def test_a_feedback_batch_larger_than_one_transaction_is_counted_exactly(client) -> None:  # noqa: F811
    rows = iris_rows(250)
    users = [f"user-{i}" for i in range(250)]
    items = predict_batch(client, rows, users)
    _, species = iris_frame()
    labels = species.sample(250, replace=True, random_state=0).tolist()
    sent = [(item["prediction_id"], label) for item, label in zip(items, labels, strict=True)]

    assert feedback(client, sent)["recorded"] == 250
    assert feedback(client, sent)["duplicates"] == 250
    stats = client.get("/stats/ab").json_body["variants"]
    for variant in VERSIONS:
        mine = [(item, label) for item, label in zip(items, labels, strict=True) if item["variant"] == variant]
        assert stats[variant]["labelled"] == len(mine)
        correct = sum(item["prediction"] == label for item, label in mine)
        assert stats[variant]["accuracy"] == pytest.approx(correct / len(mine))


@pytest.mark.parametrize(
    ("body", "field", "match"),
    [
        ({"feedback": []}, "feedback", "empty"),
        ({"feedback": [{"prediction_id": "a", "label": "x"}] * 6}, "feedback", "over the limit of 5"),
        ({"feedback": [{"prediction_id": "a", "label": "x"}] * 3 + [{"prediction_id": "a"}]}, "feedback[3].label", ""),
        ({"feedback": [{"prediction_id": "a", "label": {"x": 1}}]}, "feedback[0].label", "not an object"),
        ({"feedback": [{"prediction_id": None, "label": "x"}]}, "feedback[0].prediction_id", "must be a string"),
        ({"feedback": ["a"]}, "feedback[0]", "must be an object"),
        ({"feedback": [{"prediction_id": "a", "label": "x", "at": 1}]}, "feedback[0].at", "unknown field"),
        ({"feedback": [{"prediction_id": "a", "label": "x"}], "prediction_id": "a"}, "feedback", "not both"),
    ],
)
def test_malformed_feedback_batches_are_400s_naming_the_field(client, monkeypatch, body, field, match) -> None:  # noqa: F811
    monkeypatch.setenv(settings.MAX_BATCH, "5")
    assert_error(post(client, "/feedback", body), 400, field, match)


def test_overlapping_feedback_batches_from_many_threads_count_each_label_once(
    client,  # noqa: F811
    serialised_dynamodb,  # noqa: F811
) -> None:
    items = predict_batch(client, iris_rows(120), [f"user-{i}" for i in range(120)])
    sent = [(item["prediction_id"], "setosa") for item in items]
    answers: list[dict] = []
    barrier = threading.Barrier(5)

    def worker(thread: int) -> None:
        barrier.wait()
        for start in range(thread * 12, 120, 60):  # windows of 48 that overlap the other threads'
            answers.append(feedback(client, sent[start : start + 48]))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    recorded = [r["prediction_id"] for answer in answers for r in answer["results"] if r["status"] == "recorded"]
    assert sorted(recorded) == sorted(prediction_id for prediction_id, _ in sent)
    assert sum(answer["duplicates"] for answer in answers) == sum(len(answer["results"]) for answer in answers) - 120
    labelled = counters(client)
    assert labelled["production"]["labelled"] + labelled["staging"]["labelled"] == 120
    for variant in VERSIONS:
        assert labelled[variant]["labelled"] == sum(item["variant"] == variant for item in items)


# shadow mode: every request scored by both models, paired evidence from feedback
IRIS_USERS = [f"iris-user-{i}" for i in range(150)]


def iris_all() -> tuple[list[dict[str, float]], list[str]]:
    X, y = iris_frame()
    return X.to_dict(orient="records"), y.tolist()


def predictions_by_version(chalice_app: Any, rows: list[dict]) -> dict[str, list]:  # noqa: F811
    """What each loaded model predicts for the rows, by its version."""
    import pandas as pd

    registry = chalice_app.model_registry()
    models = {alias: registry.load(alias) for alias in VERSIONS}
    return {str(m.version): m.predict(pd.DataFrame(rows)[m.feature_names]).tolist() for m in models.values()}


def stats(http: Any, query: str = "") -> dict:
    response = http.get(f"/stats/ab{query}")
    assert response.status_code == 200, response.body
    return response.json_body


def expected_experiment(items: list[dict], labels: list[str]) -> dict:
    counts = dict.fromkeys(("pairs", "both_correct", "staging_only", "production_only", "both_wrong"), 0)
    for item, label in zip(items, labels, strict=True):
        signed = parse_signed_prediction(item["prediction_id"], default_secret())
        served_right, shadow_right = signed.label == label, signed.shadow_label == label
        production, staging = (
            (served_right, shadow_right) if signed.variant == "production" else (shadow_right, served_right)
        )
        counts["pairs"] += 1
        counts[pair_outcome(production, staging)] += 1
    return {"production_version": "1", "staging_version": "2", **counts}


def test_every_row_is_scored_by_both_models_and_served_by_the_split(client, chalice_app) -> None:  # noqa: F811
    rows, _ = iris_all()
    items = predict_batch(client, rows, IRIS_USERS)

    served = [choose_variant(0.5, key=user_id) for user_id in IRIS_USERS]
    assert [item["variant"] for item in items] == served  # the split decides, as without shadow mode
    by_version = predictions_by_version(chalice_app, rows)
    disagreements = 0
    for row, item in enumerate(items):
        assert set(item) == {"prediction", "probabilities", "prediction_id", "variant", "model_version"}
        signed = parse_signed_prediction(item["prediction_id"], default_secret())
        other = "2" if item["model_version"] == "1" else "1"
        assert (signed.variant, signed.version, signed.label) == (
            item["variant"],
            item["model_version"],
            item["prediction"],
        )
        assert (signed.shadow_version, signed.shadow_label) == (other, by_version[other][row])
        assert item["prediction"] == by_version[item["model_version"]][row]
        disagreements += signed.label != signed.shadow_label
    assert disagreements > 0  # the two models differ on some rows: the pairs below carry information

    to_production = served.count("production")
    counted = stats(client)["by_version"]
    assert (counted["1"]["requests"], counted["1"]["rows"]) == (1, to_production)
    assert (counted["2"]["requests"], counted["2"]["rows"]) == (1, 150 - to_production)
    assert counted["1"]["shadow"] == {
        "requests": 1,
        "rows": 150 - to_production,
        "errors": 0,
        "labelled": 0,
        "correct": 0,
    }
    assert counted["2"]["shadow"] == {"requests": 1, "rows": to_production, "errors": 0, "labelled": 0, "correct": 0}
    assert counters(client)["production"] == counts(requests=1, rows=to_production)  # variants count as before


def test_a_single_record_is_scored_in_shadow_too(client) -> None:  # noqa: F811
    assert post(client, "/config/traffic", {"production": 0.0}, AUTH).status_code == 200
    item = post(client, "/predict", {"features": IRIS_ROW}).json_body
    assert (item["variant"], item["model_version"]) == ("staging", "2")
    signed = parse_signed_prediction(item["prediction_id"], default_secret())
    assert (signed.shadow_variant, signed.shadow_version, signed.shadow_label) == ("production", "1", "setosa")
    recorded = post(client, "/feedback", {"prediction_id": item["prediction_id"], "label": "setosa"}).json_body
    assert recorded["shadow"] == {"variant": "production", "model_version": "1", "predicted": "setosa", "correct": True}


def test_feedback_counts_each_labelled_request_once_as_a_pair_of_its_experiment(client) -> None:  # noqa: F811
    rows, labels = iris_all()
    items = predict_batch(client, rows, IRIS_USERS)
    sent = [(item["prediction_id"], label) for item, label in zip(items, labels, strict=True)]
    assert feedback(client, sent[:100])["recorded"] == 100
    assert feedback(client, sent[100:])["recorded"] == 50
    expected = expected_experiment(items, labels)
    assert stats(client)["experiments"] == [expected]

    # Labelled again, in another spelling of the id or in the single form: nothing more is counted.
    again = feedback(client, [sent[0], (sent[1][0] + "==", sent[1][1]), (sent[2][0] + "=", sent[2][1])])
    assert [result["status"] for result in again["results"]] == ["duplicate", "rejected", "rejected"]
    assert_error(post(client, "/feedback", {"prediction_id": sent[3][0], "label": sent[3][1]}), 409)
    selected = stats(client, "?production_version=1&staging_version=2")
    assert selected["experiments"] == [expected]
    by_version = selected["by_version"]
    assert by_version["1"]["labelled"] + by_version["1"]["shadow"]["labelled"] == 150
    assert by_version["2"]["labelled"] + by_version["2"]["shadow"]["labelled"] == 150
    production_right = expected["both_correct"] + expected["production_only"]
    assert by_version["1"]["correct"] + by_version["1"]["shadow"]["correct"] == production_right


def test_a_failing_shadow_never_fails_the_request_and_is_counted(client, monkeypatch) -> None:  # noqa: F811
    break_staging_model(monkeypatch)
    assert post(client, "/config/traffic", {"production": 1.0}, AUTH).status_code == 200
    single = post(client, "/predict", {"features": IRIS_ROW})
    batch = post(client, "/predict", {"instances": iris_rows(5), "user_id": "someone"})
    assert single.status_code == batch.status_code == 200, (single.body, batch.body)
    ids = [single.json_body["prediction_id"]] + [item["prediction_id"] for item in batch.json_body["predictions"]]
    assert {parse_signed_prediction(i, default_secret()).shadow_version for i in ids} == {None}

    counted = stats(client)
    assert counters(client)["production"] == counts(requests=2, rows=6)
    assert counted["by_version"]["1"]["errors"] == 0
    assert counted["by_version"]["2"]["shadow"] == {"requests": 2, "rows": 6, "errors": 2, "labelled": 0, "correct": 0}
    assert feedback(client, [(i, "setosa") for i in ids])["recorded"] == 6
    assert stats(client)["experiments"] == []  # labelled, but not pairs


def test_shadow_mode_off_scores_with_the_served_model_only(client, chalice_app, monkeypatch) -> None:  # noqa: F811
    from mlops_core.api import prediction

    passes: list[str] = []
    answer = prediction._labels_and_probabilities

    def counting(model: Any, frame: Any) -> Any:
        passes.append(model.version)
        return answer(model, frame)

    monkeypatch.setattr(prediction, "_labels_and_probabilities", counting)
    rows = iris_rows(len(USERS))
    predict_batch(client, rows, USERS)
    assert sorted(passes) == ["1", "1", "2", "2"]  # each variant's rows, and the same rows in shadow

    monkeypatch.setenv(settings.SHADOW_MODE, "off")
    chalice_app.ab_store().flush()  # the counts so far, before the wiring is built anew
    chalice_app.reset_wiring()
    passes.clear()
    items = predict_batch(client, rows, USERS)
    assert sorted(passes) == ["1", "2"]
    assert {parse_signed_prediction(item["prediction_id"], default_secret()).shadow_version for item in items} == {None}
    assert [item["variant"] for item in items] == [choose_variant(0.5, key=user_id) for user_id in USERS]
    assert {version: v["shadow"]["requests"] for version, v in stats(client)["by_version"].items()} == {"1": 1, "2": 1}

    monkeypatch.setenv(settings.SHADOW_MODE, "sometimes")
    chalice_app.reset_wiring()
    assert_error(post(client, "/predict", {"features": IRIS_ROW}), 503, None, "SHADOW_MODE='sometimes'")


def test_a_request_the_model_refuses_as_bad_input_is_not_ab_traffic(client, monkeypatch) -> None:  # noqa: F811
    from mlops_core.api import prediction
    from mlops_core.exceptions import InvalidRequestError

    def refuses(model: Any, frame: Any) -> Any:
        raise InvalidRequestError("the model cannot take this record", "features")

    monkeypatch.setattr(prediction, "_labels_and_probabilities", refuses)
    assert_error(post(client, "/predict", {"features": IRIS_ROW}), 400, "features", "cannot take")
    assert_error(predict_response(client, iris_rows(len(USERS)), USERS), 400, "features")
    counted = stats(client)
    assert counters(client) == {"production": counts(), "staging": counts()}
    assert counted["by_version"] == {} and counted["experiments"] == []


def predict_response(http: Any, rows: list[dict], user_ids: list[str]) -> Any:
    return post(http, "/predict", {"instances": rows, "user_ids": user_ids})


def test_a_label_the_shadow_model_does_not_have_is_a_400(client, chalice_app, clock) -> None:  # noqa: F811
    import os

    import mlflow
    from sklearn.linear_model import LogisticRegression
    from test_api_routes import IRIS, register

    X, y = iris_frame()
    two = y != "virginica"
    try:  # MLFLOW_TRACKING_URI names this test's registry copy
        mlflow.set_experiment("api")
        assert register(LogisticRegression(max_iter=500).fit(X[two], y[two]), X, IRIS, "staging") == "3"
    finally:  # the next test's store has no such experiment: forget it, as mlflow keeps it in two places
        mlflow.tracking.fluent._active_experiment_id = None
        os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    clock.now += 60  # the API's alias cache lapses: staging is now v3, which knows two classes
    assert post(client, "/config/traffic", {"production": 1.0}, AUTH).status_code == 200
    virginica = X[y == "virginica"].iloc[0].to_dict()
    response = post(client, "/predict", {"features": virginica})
    assert response.status_code == 200, response.body
    item = response.json_body
    signed = parse_signed_prediction(item["prediction_id"], default_secret())
    assert (signed.version, signed.shadow_version) == ("1", "3")

    refused = post(client, "/feedback", {"prediction_id": item["prediction_id"], "label": "virginica"})
    assert_error(refused, 400, "label", "label 'virginica' is not a class of the model v3")
    (result,) = feedback(client, [(item["prediction_id"], "virginica")])["results"]
    assert result["status"] == "rejected" and "model v3" in result["error"]
    assert post(client, "/feedback", {"prediction_id": item["prediction_id"], "label": "versicolor"}).status_code == 200
    assert stats(client, "?production_version=1&staging_version=3")["experiments"][0]["pairs"] == 1
