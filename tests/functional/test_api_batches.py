"""Batches through the Chalice app: predictions routed row by row with `user_ids`, over the real MLflow registry
of test_api_routes (iris v1 in production, v2 in staging) and the A/B table on moto."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_core import settings
from mlops_core.prediction_ids import default_secret, parse_prediction_id
from mlops_core.routing import choose_variant
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


def test_only_a_model_failing_after_validation_counts_as_its_variants_error(client, monkeypatch) -> None:  # noqa: F811
    from mlops_core.api import prediction

    answer = prediction._labels_and_probabilities

    def staging_fails(model: Any, frame: Any) -> Any:
        if model.version == "2":
            raise RuntimeError("the staging model broke")
        return answer(model, frame)

    monkeypatch.setattr(prediction, "_labels_and_probabilities", staging_fails)
    to_production = sum(choose_variant(0.5, key=user_id) == "production" for user_id in USERS)
    assert post(client, "/predict", {"instances": iris_rows(len(USERS)), "user_ids": USERS}).status_code == 500
    assert post(client, "/predict", {"features": {**IRIS_ROW, "sepal_length": "x"}}).status_code == 400
    assert counters(client) == {
        "production": counts(requests=1, rows=to_production),
        "staging": counts(requests=1, rows=len(USERS) - to_production, errors=1),
    }
