"""Every route of the Chalice app through chalice.test.Client, over a real MLflow sqlite registry, moto's
DynamoDB and S3, and small real sklearn pipelines."""

from __future__ import annotations

import functools
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlops_core import settings

from tests.support.registry_models import log_sklearn_model

IRIS = "iris-classifier"
PENGUINS = "penguins-classifier"
API_KEY = "test-api-key"
REPORTS_BUCKET = "mlops-reports-test"
IRIS_ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
JSON = {"Content-Type": "application/json"}
AUTH = {**JSON, "Authorization": f"Bearer {API_KEY}"}


def iris_frame() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    X = data.data.set_axis(list(IRIS_ROW), axis=1)
    return X, pd.Series(np.asarray(data.target_names)[data.target], name="species")


def penguins_frame() -> tuple[pd.DataFrame, pd.Series]:
    from palmerpenguins import load_penguins

    data = load_penguins().dropna(subset=["species"])
    return data.drop(columns=["species"]), data["species"]


def penguins_pipeline() -> Any:
    """Categorical string features and NaNs handled inside the pipeline, as the training step's are."""
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"]
    return make_pipeline(
        make_column_transformer(
            (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                ["island", "sex"],
            ),
        ),
        LogisticRegression(max_iter=500),
    )


def register(model: Any, X: pd.DataFrame, name: str, alias: str) -> str:
    import mlflow

    version = log_sklearn_model(model, X, name)
    mlflow.MlflowClient().set_registered_model_alias(name, alias, version)
    return version


@pytest.fixture(scope="session")
def registry_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry holding iris v1 (production) and v2 (staging) and penguins v1 (production), built once;
    each test works on a copy of the database, so promotions never leak between tests."""
    import mlflow
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    folder = tmp_path_factory.mktemp("api-registry")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(settings.MLFLOW_TRACKING_URI, uri)
        mlflow.set_tracking_uri(uri)
        try:
            mlflow.set_experiment(experiment_id=mlflow.create_experiment("api", (folder / "artifacts").as_uri()))
            X, y = iris_frame()
            assert register(LogisticRegression(max_iter=500).fit(X, y), X, IRIS, "production") == "1"
            assert register(DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y), X, IRIS, "staging") == "2"
            P, species = penguins_frame()
            register(penguins_pipeline().fit(P, species), P, PENGUINS, "production")
        finally:
            mlflow.set_tracking_uri(None)
    return folder / "mlflow.db"


class Clock:
    """A settable monotonic clock, so cache expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def chalice_app(
    registry_template: Path, tmp_path: Path, dynamodb_table: str, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> Iterator[Any]:
    """The app module wired to this test's registry copy, A/B table and reports bucket."""
    import boto3
    from mlops_core import registry as registry_module

    from app import app as app_module

    db = tmp_path / "mlflow.db"
    shutil.copyfile(registry_template, db)
    monkeypatch.setenv(settings.MLFLOW_TRACKING_URI, f"sqlite:///{db}")
    monkeypatch.setenv(settings.MODEL_NAME, IRIS)
    monkeypatch.setenv(settings.API_KEY, API_KEY)
    monkeypatch.setenv(settings.REPORTS_BUCKET, REPORTS_BUCKET)
    boto3.client("s3").create_bucket(Bucket=REPORTS_BUCKET)
    # The app builds its registry from the environment; only the clock of its cache is the test's.
    monkeypatch.setattr(registry_module, "ModelRegistry", functools.partial(registry_module.ModelRegistry, clock=clock))
    app_module.reset_wiring()
    yield app_module
    app_module.ab_store().flush()
    app_module.reset_wiring()


@pytest.fixture
def client(chalice_app: Any) -> Any:
    from chalice.test import Client

    with Client(chalice_app.app) as test_client:
        yield test_client.http


def post(client: Any, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(path, headers=JSON if headers is None else headers, body=raw)


def assert_error(response: Any, status: int, field: str | None = None, match: str = "") -> dict:
    assert response.status_code == status, response.body
    body = response.json_body
    assert isinstance(body, dict) and isinstance(body.get("error"), str), response.body
    assert match.lower() in body["error"].lower(), body
    assert body.get("field") == field, body
    return body


# predict
def test_one_record_gets_a_prediction_with_probabilities_variant_version_and_id(client) -> None:
    response = post(client, "/predict", {"features": IRIS_ROW})
    assert response.status_code == 200, response.body
    body = response.json_body
    assert set(body) == {"prediction", "probabilities", "variant", "model_version", "prediction_id"}
    assert body["prediction"] == "setosa"
    assert set(body["probabilities"]) == {"setosa", "versicolor", "virginica"}
    assert sum(body["probabilities"].values()) == pytest.approx(1.0)
    assert (body["variant"], body["model_version"]) in {("production", "1"), ("staging", "2")}


def test_a_batch_gets_one_item_per_record_in_order(client) -> None:
    X, y = iris_frame()
    rows = X.iloc[::15].to_dict(orient="records")
    response = post(client, "/predict", {"instances": rows, "user_id": "batch-user"})
    assert response.status_code == 200, response.body
    body = response.json_body
    assert set(body) == {"predictions", "variant", "model_version"}
    assert len(body["predictions"]) == len(rows)
    assert len({item["prediction_id"] for item in body["predictions"]}) == len(rows)
    accuracy = np.mean([item["prediction"] for item in body["predictions"]] == y.iloc[::15].to_numpy())
    assert accuracy >= 0.8


def test_sticky_assignment_by_user_id_or_header(client) -> None:
    variants = {}
    for user in range(40):
        seen = {post(client, "/predict", {"features": IRIS_ROW, "user_id": f"u{user}"}).json_body["variant"]}
        seen.add(
            post(client, "/predict", {"features": IRIS_ROW}, {**JSON, "x-user-id": f"u{user}"}).json_body["variant"]
        )
        assert len(seen) == 1, f"user u{user} switched variants: {seen}"
        variants[user] = seen.pop()
    assert set(variants.values()) == {"production", "staging"}  # share 0.5: both variants get users


def test_traffic_share_routes_every_request(client) -> None:
    assert post(client, "/config/traffic", {"production": 1.0}, AUTH).status_code == 200
    assert {post(client, "/predict", {"features": IRIS_ROW}).json_body["variant"] for _ in range(20)} == {"production"}
    assert post(client, "/config/traffic", {"production": 0.0}, AUTH).status_code == 200
    assert {post(client, "/predict", {"features": IRIS_ROW}).json_body["model_version"] for _ in range(20)} == {"2"}


@pytest.mark.parametrize(
    ("body", "field", "match"),
    [
        ({"features": {**IRIS_ROW, "petal_width": "wide"}}, "features.petal_width", "must be a number"),
        ({"features": {k: v for k, v in IRIS_ROW.items() if k != "sepal_width"}}, "features.sepal_width", "missing"),
        ({"features": {**IRIS_ROW, "colour": 1}}, "features.colour", "unknown feature"),
        ({"features": {**IRIS_ROW, "sepal_length": None}}, "features.sepal_length", "required"),
        ({"features": {**IRIS_ROW, "sepal_length": True}}, "features.sepal_length", "must be a number"),
        (
            {"instances": [IRIS_ROW, IRIS_ROW, {**IRIS_ROW, "petal_length": 1e999}]},
            "instances[2].petal_length",
            "finite",
        ),
        ({"instances": [IRIS_ROW, "row"]}, "instances[1]", "must be an object"),
        ({"instances": []}, "instances", "empty"),
        ({"features": IRIS_ROW, "instances": [IRIS_ROW]}, "features", "exactly one"),
        ([IRIS_ROW], "body", "JSON object"),
    ],
)
def test_bad_predict_input_is_a_400_naming_the_field(client, body, field, match) -> None:
    assert_error(post(client, "/predict", body), 400, field, match)


def test_nan_and_infinity_literals_are_refused_by_field(client) -> None:
    for literal in ("NaN", "Infinity", "-Infinity"):
        raw = '{"features": {"sepal_length": %s, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}}'
        assert_error(post(client, "/predict", raw % literal), 400, "features.sepal_length", "finite")


def test_transport_errors_are_400s(client) -> None:
    assert_error(client.post("/predict", headers=JSON, body=b""), 400, "body", "empty")
    assert_error(client.post("/predict", headers=JSON, body=b'{"features": {'), 400, "body", "malformed JSON")
    assert_error(
        client.post("/predict", headers={"Content-Type": "text/plain"}, body=json.dumps({"features": IRIS_ROW})),
        400,
        "Content-Type",
        "unsupported content type",
    )
    assert_error(client.post("/predict", headers={}, body=json.dumps({"features": IRIS_ROW})), 400, "Content-Type")


@pytest.mark.parametrize(("share", "model"), [(1.0, "logistic regression"), (0.0, "decision tree, float32 inside")])
def test_finite_numbers_beyond_float32_are_a_400_naming_the_field(client, share, model) -> None:
    assert post(client, "/config/traffic", {"production": share}, AUTH).status_code == 200
    for value in (1e308, -1e308, 3.5e38):
        response = post(client, "/predict", {"features": {**IRIS_ROW, "petal_length": value}})
        assert_error(response, 400, "features.petal_length", "out of range")
    batch = {"instances": [IRIS_ROW, {**IRIS_ROW, "sepal_width": 1e308}]}
    assert_error(post(client, "/predict", batch), 400, "instances[1].sepal_width", "3.4028235e+38")
    edge = post(client, "/predict", {"features": {**IRIS_ROW, "petal_length": 3.4028235e38}})
    assert edge.status_code == 200, (model, edge.body)


def test_error_bodies_never_echo_input_at_length(client) -> None:
    name = "x" * 10_000_000
    for path, body, field in [
        ("/predict", {"features": {**IRIS_ROW, name: 1.0}}, "features."),
        ("/predict", {"instances": [{**IRIS_ROW, name: 1.0}]}, "instances[0]."),
        ("/predict", {"features": IRIS_ROW, name: 1}, ""),
        ("/feedback", {"prediction_id": "p", "label": "x", name: 1}, ""),
    ]:
        response = post(client, path, body)
        assert response.status_code == 400, response.body[:200]
        assert len(response.body) < 1000, len(response.body)
        echoed = response.json_body
        assert echoed["field"] == f"{field}{name}"[:100] + f"… ({len(field) + len(name)} characters)"
        assert f"'{'x' * 100}'… (10000000 characters)" in echoed["error"]
    content_type = post(client, "/predict", {"features": IRIS_ROW}, {"Content-Type": "text/" + "y" * 5000})
    assert_error(content_type, 400, "Content-Type", "(5005 characters)")
    assert len(content_type.body) < 1000


def test_batches_over_the_limit_are_refused(client, monkeypatch) -> None:
    monkeypatch.setenv(settings.MAX_BATCH, "5")
    assert post(client, "/predict", {"instances": [IRIS_ROW] * 5}).status_code == 200
    assert_error(post(client, "/predict", {"instances": [IRIS_ROW] * 6}), 400, "instances", "over the limit of 5")


def test_default_batch_limit_is_1000(client) -> None:
    assert post(client, "/predict", {"instances": [IRIS_ROW] * 1000}).status_code == 200
    assert_error(post(client, "/predict", {"instances": [IRIS_ROW] * 1001}), 400, "instances", "limit of 1000")


def test_categorical_features_and_missing_values_follow_the_signature(client, monkeypatch, chalice_app) -> None:
    monkeypatch.setenv(settings.MODEL_NAME, PENGUINS)
    chalice_app.reset_wiring()
    record = {
        "island": "Biscoe",
        "bill_length_mm": 46.1,
        "bill_depth_mm": 13.2,
        "flipper_length_mm": 211.0,
        "body_mass_g": 4500.0,
        "sex": "female",
        "year": 2007,
    }
    response = post(client, "/predict", {"features": record})
    assert response.status_code == 200, response.body
    assert response.json_body["prediction"] == "Gentoo"
    # The training data had missing sex and measurements, so the signature marks them optional: null is imputed.
    response = post(client, "/predict", {"features": {**record, "sex": None, "body_mass_g": None}})
    assert response.status_code == 200, response.body
    assert response.json_body["prediction"] == "Gentoo"
    assert_error(post(client, "/predict", {"features": {**record, "island": 3}}), 400, "features.island", "string")
    assert_error(post(client, "/predict", {"features": {**record, "year": 2007.5}}), 400, "features.year", "whole")
    assert_error(post(client, "/predict", {"features": {**record, "island": None}}), 400, "features.island", "required")


def test_no_model_yet_is_a_503_that_says_so(client, monkeypatch, chalice_app) -> None:
    monkeypatch.setenv(settings.MODEL_NAME, "never-trained-classifier")
    chalice_app.reset_wiring()
    assert_error(post(client, "/predict", {"features": IRIS_ROW}), 503, None, "no model registered")
    health = client.get("/health")
    assert health.status_code == 503
    assert health.json_body["status"] == "unavailable" and health.json_body["models"] == {}
    assert health.json_body["reason"].startswith("no model can serve: no model registered yet")


def test_a_promotion_is_picked_up_after_the_cache_ttl_without_restart(client, clock) -> None:
    assert post(client, "/config/traffic", {"production": 1.0}, AUTH).status_code == 200
    assert post(client, "/predict", {"features": IRIS_ROW}).json_body["model_version"] == "1"
    # The pipeline's promotion step runs in another process, with its own registry adapter.
    from mlops_core.registry import ModelRegistry

    ModelRegistry(model_name=IRIS).promote("2", actor="pipeline", reason="better on holdout", evidence={})
    assert post(client, "/predict", {"features": IRIS_ROW}).json_body["model_version"] == "1"  # cached
    clock.now += 10
    after = post(client, "/predict", {"features": IRIS_ROW}).json_body
    assert (after["variant"], after["model_version"]) == ("production", "2")


# concurrency and statistics
def test_concurrent_predictions_are_all_counted(client, chalice_app) -> None:
    errors: list[Any] = []

    def worker(thread: int) -> None:
        for i in range(500):
            response = post(client, "/predict", {"features": IRIS_ROW, "user_id": f"{thread}-{i}"})
            if response.status_code != 200:
                errors.append(response.body)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stats = client.get("/stats/ab").json_body
    variants = stats["variants"]
    assert sum(variants[v]["requests"] for v in variants) == 4000
    assert min(variants[v]["requests"] for v in variants) > 1500


def test_stats_count_requests_errors_and_feedback_quality(client) -> None:
    assert post(client, "/config/traffic", {"production": 1.0}, AUTH).status_code == 200
    ids = [post(client, "/predict", {"features": IRIS_ROW}).json_body["prediction_id"] for _ in range(3)]
    post(client, "/predict", {"features": {**IRIS_ROW, "petal_width": "x"}})
    ok = post(client, "/feedback", {"prediction_id": ids[0], "label": "setosa"})
    assert ok.status_code == 200, ok.body
    assert post(client, "/feedback", {"prediction_id": ids[1], "label": "virginica"}).status_code == 200
    assert_error(post(client, "/feedback", {"prediction_id": ids[0], "label": "setosa"}), 409)
    assert_error(post(client, "/feedback", {"prediction_id": ids[2][:-3] + "AAA", "label": "x"}), 400, "prediction_id")
    production = client.get("/stats/ab").json_body["variants"]["production"]
    assert production["requests"] == 3 and production["errors"] == 0  # the refused request counts nothing
    assert production["labelled"] == 2 and production["accuracy"] == pytest.approx(0.5)
    reset = post(client, "/stats/ab/reset", None, {**AUTH})
    assert reset.status_code == 200, reset.body
    assert client.get("/stats/ab").json_body["variants"].get("production", {}).get("requests", 0) == 0


def test_stats_add_versions_and_experiments_and_select_one_by_query(client) -> None:
    item = post(client, "/predict", {"features": IRIS_ROW}).json_body
    assert post(client, "/feedback", {"prediction_id": item["prediction_id"], "label": "setosa"}).status_code == 200
    body = client.get("/stats/ab").json_body
    assert set(body) == {"production_share", "reset_at", "reset_by", "variants", "by_version", "experiments"}
    assert set(body["variants"]) == {"production", "staging"}
    assert set(body["variants"]["production"]) == {
        "requests", "rows", "errors", "latency_ms", "labelled", "accuracy", "f1_macro", "confusion"
    }  # fmt: skip
    assert set(body["by_version"]) == {"1", "2"}
    assert set(body["by_version"]["1"]) == set(body["variants"]["production"]) | {"correct", "shadow"}
    both_right = {"pairs": 1, "both_correct": 1, "staging_only": 0, "production_only": 0, "both_wrong": 0}
    assert body["experiments"] == [{"production_version": "1", "staging_version": "2", **both_right}]

    selected = client.get("/stats/ab?production_version=1&staging_version=2")
    assert selected.status_code == 200 and selected.json_body["experiments"] == body["experiments"]
    unseen = client.get("/stats/ab?staging_version=2&production_version=7").json_body["experiments"]
    zeros = dict.fromkeys(both_right, 0)
    assert unseen == [{"production_version": "7", "staging_version": "2", **zeros}]


@pytest.mark.parametrize(
    ("query", "field", "match"),
    [
        ("?production_version=1", "staging_version", "send both"),
        ("?staging_version=2", "production_version", "send both"),
        ("?production_version=v1&staging_version=2", "production_version", "version number"),
        ("?production_version=1&staging_version=", "staging_version", "version number"),
        ("?production_version=1&staging_version=2&variant=staging", "variant", "unknown query parameter"),
    ],
)
def test_stats_queries_name_the_bad_parameter(client, query, field, match) -> None:
    assert_error(client.get(f"/stats/ab{query}"), 400, field, match)


# traffic
def test_traffic_round_trip_and_validation(client) -> None:
    assert client.get("/config/traffic").json_body["production"] == pytest.approx(0.5)
    stored = post(client, "/config/traffic", {"production": 0.7}, AUTH)
    assert stored.status_code == 200, stored.body
    assert stored.json_body["production"] == pytest.approx(0.7)
    assert client.get("/config/traffic").json_body == {**client.get("/config/traffic").json_body, "production": 0.7}
    for bad in (1.5, -0.1, "0.5", True, None):
        assert_error(post(client, "/config/traffic", {"production": bad}, AUTH), 400, "production")
    assert_error(post(client, "/config/traffic", '{"production": NaN}', AUTH), 400, "production")
    assert_error(post(client, "/config/traffic", {}, AUTH), 400, "production", "missing")


# credentials
MANAGEMENT = [
    ("/config/traffic", {"production": 0.5}),
    ("/models/promote", None),
    ("/models/rollback", None),
    ("/stats/ab/reset", None),
]


@pytest.mark.parametrize(("path", "body"), MANAGEMENT)
def test_management_endpoints_demand_the_key(client, path, body) -> None:
    assert_error(post(client, path, body or {}), 401, None, "missing credential")
    assert_error(post(client, path, body or {}, {**JSON, "Authorization": "Bearer nope"}), 403, None, "invalid")
    assert_error(post(client, path, body or {}, {**JSON, "x-api-key": API_KEY[:-1]}), 403)


@pytest.mark.parametrize(("path", "body"), MANAGEMENT)
def test_management_endpoints_are_closed_without_a_configured_key(client, monkeypatch, path, body) -> None:
    monkeypatch.delenv(settings.API_KEY)
    assert_error(post(client, path, body or {}, AUTH), 503, None, "management API disabled: set API_KEY")


def test_x_api_key_header_works_too(client) -> None:
    response = post(client, "/config/traffic", {"production": 0.25}, {**JSON, "x-api-key": API_KEY})
    assert response.status_code == 200, response.body


# models
def test_status_promote_rollback_and_their_errors(client) -> None:
    status = client.get("/models/status").json_body
    assert status["aliases"] == {"production": "1", "staging": "2"}
    promoted = post(client, "/models/promote", {"force": True, "reason": "checked by hand"}, AUTH)
    assert promoted.status_code == 200, promoted.body
    assert (promoted.json_body["version"], promoted.json_body["previous_version"]) == ("2", "1")
    assert promoted.json_body["by"] == "api"
    assert post(client, "/predict", {"features": IRIS_ROW}).json_body["model_version"] == "2"
    assert_error(post(client, "/models/promote", None, AUTH), 503, None, "staging")  # staging was cleared
    rolled = post(client, "/models/rollback", {"reason": "regression"}, AUTH)
    assert rolled.status_code == 200, rolled.body
    assert (rolled.json_body["action"], rolled.json_body["version"]) == ("rollback", "1")
    assert_error(post(client, "/models/rollback", None, AUTH), 404, None, "roll back")
    history = client.get("/models/status").json_body["history"]
    assert [event["action"] for event in history] == ["rollback", "promote"]
    assert_error(post(client, "/models/promote", {"reason": 5}, AUTH), 400, "reason")
    assert_error(post(client, "/models/rollback", "[]", AUTH), 400, "body")


# health
def test_health_is_ready_when_every_alias_is_loaded_and_dependencies_answer(client) -> None:
    response = client.get("/health")
    assert response.status_code == 200, response.body
    assert response.json_body == {
        "status": "ready",
        "models": {"production": "1", "staging": "2"},
        "registry": {"ok": True, "aliases": {"production": "1", "staging": "2"}},
        "storage": {"ab_table": {"ok": True}, "reports_bucket": {"ok": True}},
    }


def test_health_is_degraded_but_200_when_a_store_is_unreachable(client, monkeypatch) -> None:
    monkeypatch.setenv(settings.REPORTS_BUCKET, "no-such-bucket")
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json_body
    assert (body["status"], body["reason"]) == ("degraded", "reports_bucket refused (404)")
    assert body["storage"]["reports_bucket"] == {"ok": False, "error": "refused (404)"}


class OutageClient:
    """The registry's MLflow client, until `down` is set: then every call fails as MLflow's client fails when
    its server is gone, with the server's internal URL in the message."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.down = False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not self.down or not callable(attribute):
            return attribute

        def unreachable(*args: Any, **kwargs: Any) -> Any:
            import requests
            from mlflow.exceptions import MlflowException

            url = "http://127.0.0.1:5000/api/2.0/mlflow/registered-models/alias"
            try:
                raise requests.exceptions.ConnectionError(
                    f"HTTPConnectionPool(host='127.0.0.1', port=5000): Max retries exceeded with url: {url}"
                )
            except requests.exceptions.ConnectionError as error:
                raise MlflowException(f"API request to {url} failed with exception {error}")  # noqa: B904

        return unreachable


@pytest.fixture
def outage(chalice_app, monkeypatch) -> OutageClient:
    """The app's registry built on an OutageClient (up until the test says otherwise)."""
    import mlflow
    from mlops_core import registry as registry_module

    flaky = OutageClient(mlflow.MlflowClient())
    # chalice_app already binds the clock: bind the client on top.
    monkeypatch.setattr(
        registry_module, "ModelRegistry", functools.partial(registry_module.ModelRegistry, client=flaky)
    )
    chalice_app.reset_wiring()
    return flaky


def assert_no_internals(response: Any) -> None:
    assert b"127.0.0.1" not in response.body and b"http" not in response.body, response.body


def test_an_mlflow_outage_after_loading_degrades_health_and_cached_models_keep_serving(client, outage, clock) -> None:
    assert client.get("/health").json_body["status"] == "ready"  # loads both models
    outage.down = True
    clock.now += 60  # every cached alias is due for a check, which now fails

    health = client.get("/health")
    assert health.status_code == 200, health.body
    assert health.json_body == {
        "status": "degraded",
        "reason": "registry unreachable",
        "models": {"production": "1", "staging": "2"},
        "registry": {"ok": False, "error": "unreachable"},
        "storage": {"ab_table": {"ok": True}, "reports_bucket": {"ok": True}},
    }
    assert_no_internals(health)
    for share, version in ((1.0, "1"), (0.0, "2")):
        assert post(client, "/config/traffic", {"production": share}, AUTH).status_code == 200
        served = post(client, "/predict", {"features": IRIS_ROW})
        assert served.status_code == 200, served.body
        assert served.json_body["model_version"] == version

    outage.down = False
    clock.now += 60
    assert client.get("/health").json_body["status"] == "ready"


def test_an_outage_with_only_production_cached_serves_production(client, outage, clock, chalice_app) -> None:
    # After a promotion staging is unset: the registry caches "no staging", which an outage cannot confirm.
    post(client, "/models/promote", {"force": True, "reason": "outage drill"}, AUTH)
    assert client.get("/health").json_body["models"] == {"production": "2"}
    outage.down = True
    clock.now += 60
    chalice_app.prediction_service()._absent_until.clear()  # the service's own memory of "no staging" lapsed

    health = client.get("/health").json_body
    assert (health["status"], health["models"], health["reason"]) == (
        "degraded",
        {"production": "2"},
        "registry unreachable",
    )
    served = post(client, "/predict", {"features": IRIS_ROW})
    assert served.status_code == 200, served.body
    assert (served.json_body["variant"], served.json_body["model_version"]) == ("production", "2")


def test_an_outage_before_any_model_was_loaded_is_unavailable_without_internals(client, outage) -> None:
    outage.down = True

    health = client.get("/health")
    assert health.status_code == 503
    body = health.json_body
    assert body["status"] == "unavailable" and body["models"] == {}
    assert body["reason"] == "no model can serve: loading models failed (unreachable); registry unreachable"
    assert_no_internals(health)
    predict = post(client, "/predict", {"features": IRIS_ROW})
    assert_error(predict, 503, None, "no model can serve: model registry unreachable")
    assert_no_internals(predict)


def test_health_names_an_alias_the_registry_has_but_the_api_has_not_loaded(client, chalice_app, clock) -> None:
    from mlops_core.registry import ModelRegistry

    assert client.get("/health").json_body["status"] == "ready"
    ModelRegistry(model_name=IRIS).client.delete_registered_model_alias(IRIS, "staging")
    clock.now += 60
    assert client.get("/health").json_body["models"] == {"production": "1"}  # staging now known absent
    ModelRegistry(model_name=IRIS).client.set_registered_model_alias(IRIS, "staging", "2")

    body = client.get("/health").json_body  # the service skips staging for a while after seeing none
    assert (body["status"], body["reason"]) == ("degraded", "staging v2 not loaded")


# reports
def put_report(run_id: str, status: str = "promoted") -> dict:
    import boto3
    from mlops_core import layout

    s3 = boto3.client("s3")
    report = {"run_id": run_id, "timestamp": "2026-01-01T06:00:00Z", "status": status}
    s3.put_object(Bucket=REPORTS_BUCKET, Key=layout.report_json_key(run_id), Body=json.dumps(report))
    s3.put_object(Bucket=REPORTS_BUCKET, Key=layout.report_html_key(run_id), Body=f"<html><h1>{run_id}</h1></html>")
    return report


def test_reports_list_latest_one_and_html(client) -> None:
    assert client.get("/reports").json_body == {"reports": []}
    assert_error(client.get("/reports/latest"), 404, None, "no pipeline report")
    first = put_report("zz-older-run")
    import time

    time.sleep(1.1)  # S3 keeps write times to the second: the newer report must be visibly newer
    second = put_report("aa-newer-run", "no_drift")
    listing = client.get("/reports").json_body["reports"]
    assert [item["report_id"] for item in listing] == ["aa-newer-run", "zz-older-run"]
    assert listing[0]["html_url"] == "/reports/aa-newer-run?format=html"
    assert client.get("/reports/latest").json_body == second
    assert client.get("/reports/zz-older-run").json_body == first
    html = client.get("/reports/zz-older-run?format=html")
    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")
    assert b"<h1>zz-older-run</h1>" in html.body
    assert b"aa-newer-run" in client.get("/reports/latest?format=html").body
    assert_error(client.get("/reports/zz-older-run?format=pdf"), 400, "format")


def test_html_reports_are_served_under_a_policy_that_runs_no_script(client) -> None:
    put_report("run-with-policy")
    for path in ("/reports/run-with-policy?format=html", "/reports/latest?format=html"):
        response = client.get(path)
        assert response.status_code == 200
        policy = dict(
            part.strip().partition(" ")[::2] for part in response.headers["Content-Security-Policy"].split(";")
        )
        assert policy["default-src"] == "'none'" and "script-src" not in policy
        assert policy["frame-ancestors"] == policy["base-uri"] == policy["form-action"] == "'none'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/reports/run-with-policy").headers["X-Content-Type-Options"] == "nosniff"


def test_unknown_and_unsafe_report_ids(client) -> None:
    assert_error(client.get("/reports/missing-run"), 404, None, "no report")
    assert_error(client.get("/reports/..%2Fsecret"), 400, "report_id")
    assert_error(client.get("/reports/bad%20id"), 400, "report_id")
