"""ModelRegistry against a real MLflow sqlite tracking store and registry."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlops_core import gate_tags
from mlops_core.adapters.mlflow_registry import MlflowModelRegistry
from mlops_core.exceptions import (
    InvalidRequestError,
    LeaseLostError,
    LeaseTimeoutError,
    NoModelError,
    NotFoundError,
    ProductionChangedError,
    RegistryError,
)
from mlops_core.registry import (
    EVENT_TAG_PREFIX,
    PRODUCTION,
    STAGING,
    ModelRegistry,
    production_stack,
)
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from tests.fakes.leases import FakeLeases, ManualTime
from tests.fakes.models import RuleModel, constant
from tests.fakes.registry import FakeModelRegistry
from tests.support.registry_models import log_sklearn_model

MODEL = "iris-classifier"


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    data = load_iris(as_frame=True)
    labels = pd.Series(np.asarray(data.target_names)[data.target], name="species")
    return data.data, labels


WAIT_SECONDS = 60  # generous: only a broken implementation ever waits this long


class BlockingLookups:
    """An MlflowClient whose next lookup of `alias`, once armed, gets its answer and then waits for `release`:
    a registry call stuck on the network, whose answer is as of the moment it began."""

    def __init__(self, client: Any, alias: str) -> None:
        self._client = client
        self.alias = alias
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()
        self.lookups: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_model_version_by_alias(self, name: str, alias: str) -> Any:
        self.lookups.append(alias)
        found = self._client.get_model_version_by_alias(name, alias)
        if alias == self.alias and self.armed:
            self.armed = False
            self.entered.set()
            if not self.release.wait(WAIT_SECONDS):
                raise TimeoutError("the test never released the blocked lookup")
        return found


class Background:
    """`call()` in a thread of its own; value() waits for it and returns its result or raises its error."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.done = threading.Event()
        self._result: Any = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, args=(call,), daemon=True).start()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self._result = call()
        except BaseException as error:  # handed to value()
            self._error = error
        finally:
            self.done.set()

    def value(self) -> Any:
        assert self.done.wait(WAIT_SECONDS), "still waiting"
        if self._error is not None:
            raise self._error
        return self._result


def register(model: Pipeline, X: pd.DataFrame, *, name: str = MODEL, f1: float = 0.9, signature: bool = True) -> str:
    """Log and register like the training step does; returns the new version."""
    return log_sklearn_model(model, X, name, signature=signature, f1=f1)


@pytest.fixture
def two_versions(mlflow_tracking_uri: str, iris) -> tuple[ModelRegistry, Pipeline, Pipeline]:
    X, y = iris
    first = make_pipeline(LogisticRegression(max_iter=300)).fit(X, y)
    second = make_pipeline(DecisionTreeClassifier(max_depth=1, random_state=0)).fit(X, y)
    assert register(first, X, f1=0.95) == "1"
    assert register(second, X, f1=0.55) == "2"
    return ModelRegistry(model_name=MODEL), first, second


def test_empty_registry_says_there_is_no_model(mlflow_tracking_uri: str) -> None:
    registry = ModelRegistry(model_name=MODEL)
    assert registry.version_for(PRODUCTION) is None
    with pytest.raises(NoModelError, match=f"no model registered under alias 'production' for model {MODEL}"):
        registry.load(PRODUCTION)
    with pytest.raises(NoModelError, match="alias 'staging'"):
        registry.promote_staging(actor="api", reason="manual", evidence={})
    with pytest.raises(NoModelError):
        registry.rollback(actor="api", reason="manual")
    assert registry.history() == []
    assert registry.status() == {
        "model_name": MODEL,
        "registered": False,
        "aliases": {},
        "versions": [],
        "history": [],
    }


def test_model_name_defaults_to_one_model_per_dataset(mlflow_tracking_uri: str, monkeypatch) -> None:
    monkeypatch.delenv("MODEL_NAME", raising=False)
    monkeypatch.setenv("DATASET", "penguins")
    assert ModelRegistry().model_name == "penguins-classifier"


def test_loaded_model_exposes_signature_classes_and_predictions(two_versions, iris) -> None:
    registry, first, _ = two_versions
    X, _ = iris
    registry.promote("1", actor="api", reason="first", evidence={})

    loaded = registry.load(PRODUCTION)

    assert (loaded.version, loaded.alias) == ("1", PRODUCTION)
    assert loaded.feature_names == list(X.columns)
    assert loaded.feature_types == {column: "double" for column in X.columns}
    assert loaded.classes == ["setosa", "versicolor", "virginica"]
    json.dumps(loaded.classes)
    rows = X.iloc[[0, 60, 120]]
    assert loaded.predict(rows).tolist() == first.predict(rows).tolist()
    np.testing.assert_allclose(loaded.predict_proba(rows), first.predict_proba(rows))
    assert registry.load(PRODUCTION) is loaded  # warm: served from the cache
    assert registry.loaded_versions() == {PRODUCTION: "1"}


def test_categorical_string_features_keep_their_type(mlflow_tracking_uri: str) -> None:
    frame = pd.DataFrame(
        {"island": ["Biscoe", "Dream", "Torgersen", "Biscoe"] * 5, "mass": np.linspace(3000.0, 5000.0, 20)}
    )
    labels = np.array(["Adelie", "Gentoo"] * 10)
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["island"]), remainder="passthrough")
    model = make_pipeline(encode, DecisionTreeClassifier(random_state=0)).fit(frame, labels)
    version = register(model, frame, name="penguins-classifier")
    registry = ModelRegistry(model_name="penguins-classifier")
    registry.promote(version, actor="api", reason="first", evidence={})

    loaded = registry.load(PRODUCTION)

    assert loaded.feature_types == {"island": "string", "mass": "double"}
    assert loaded.classes == ["Adelie", "Gentoo"]
    assert loaded.predict(frame.head(2)).tolist() == model.predict(frame.head(2)).tolist()


def test_model_without_predict_proba_returns_none(mlflow_tracking_uri: str, iris) -> None:
    from sklearn.svm import LinearSVC

    X, y = iris
    version = register(make_pipeline(LinearSVC(dual=True, max_iter=5000)).fit(X, y), X)
    registry = ModelRegistry(model_name=MODEL)
    registry.promote(version, actor="api", reason="first", evidence={})
    loaded = registry.load(PRODUCTION)
    assert not loaded.has_proba
    assert loaded.predict_proba(X.head(1)) is None


def test_version_without_signature_is_refused(mlflow_tracking_uri: str, iris) -> None:
    X, y = iris
    version = register(make_pipeline(LogisticRegression(max_iter=300)).fit(X, y), X, signature=False)
    registry = ModelRegistry(model_name=MODEL)
    registry.promote(version, actor="api", reason="first", evidence={})
    with pytest.raises(RegistryError, match="without a column signature"):
        registry.load(PRODUCTION)


def test_promotion_records_history_clears_staging_and_is_idempotent(two_versions) -> None:
    import mlflow

    registry, _, _ = two_versions
    client = registry.client
    first = registry.promote("1", actor="api", reason="no_production_model", evidence={"p_value": None})
    assert (first.version, first.previous_version, first.changed, first.sequence) == ("1", None, True, 1)

    client.set_registered_model_alias(MODEL, STAGING, "2")
    evidence = {"p_value": np.float64(0.012), "delta": 0.04, "ab": {"f1": [0.9, 0.93]}, "nan": float("nan")}
    arn = "arn:aws:states:us-east-1:123456789012:execution:pipeline:run-1"
    second = registry.promote_staging(actor=arn, reason="significant_improvement", evidence=evidence)

    assert (second.version, second.previous_version, second.by, second.sequence) == ("2", "1", arn, 2)
    assert second.evidence == {"p_value": 0.012, "delta": 0.04, "ab": {"f1": [0.9, 0.93]}, "nan": None}
    assert registry.version_for(PRODUCTION).version == "2"
    assert registry.version_for(STAGING) is None  # cleared: it pointed at the promoted version
    tags = client.get_model_version(MODEL, "2").tags
    assert tags["promoted_by"] == arn
    assert tags["promotion_reason"] == "significant_improvement"
    assert tags["previous_production_version"] == "1"
    assert tags["promoted_at"] == second.at and second.at.endswith("Z")
    assert json.loads(tags["promotion_evidence"]) == second.evidence
    assert client.get_model_version(MODEL, "1").tags["previous_production_version"] == ""

    again = registry.promote("2", actor="api", reason="retry", evidence={})
    assert (again.changed, again.sequence, again.previous_version) == (False, None, "2")
    assert [r.sequence for r in registry.history()] == [2, 1]
    aliases = mlflow.MlflowClient().get_registered_model(MODEL).aliases
    assert {alias: str(version) for alias, version in aliases.items()} == {PRODUCTION: "2"}


def test_promoting_an_unknown_version_or_with_bad_arguments_fails_clearly(two_versions) -> None:
    registry, _, _ = two_versions
    with pytest.raises(NotFoundError, match="has no version '7'"):
        registry.promote("7", actor="api", reason="r", evidence={})
    with pytest.raises(NotFoundError):
        registry.promote("not-a-number", actor="api", reason="r", evidence={})
    with pytest.raises(InvalidRequestError) as error:
        registry.promote("1", actor=" ", reason="r", evidence={})
    assert error.value.field == "actor"
    with pytest.raises(InvalidRequestError) as error:
        registry.promote("1", actor="api", reason="", evidence={})
    assert error.value.field == "reason"
    with pytest.raises(InvalidRequestError) as error:
        registry.promote("1", actor="api", reason="r", evidence=["not", "a", "dict"])
    assert error.value.field == "evidence"
    with pytest.raises(InvalidRequestError, match="not JSON-serialisable"):
        registry.promote("1", actor="api", reason="r", evidence={"model": object()})
    with pytest.raises(InvalidRequestError, match="exceeds"):
        registry.promote("1", actor="api", reason="r", evidence={"blob": "x" * 60_000})
    assert registry.version_for(PRODUCTION) is None  # nothing moved


def test_rollback_walks_back_through_promotions_and_history_is_newest_first(two_versions, iris) -> None:
    registry, _, _ = two_versions
    X, y = iris
    assert register(make_pipeline(LogisticRegression(C=0.01, max_iter=300)).fit(X, y), X) == "3"
    registry.promote("1", actor="api", reason="a", evidence={})
    registry.promote("2", actor="api", reason="b", evidence={})
    registry.promote("3", actor="api", reason="c", evidence={})

    back = registry.rollback(actor="api", reason="bad online figures")
    assert (back.action, back.version, back.previous_version) == ("rollback", "2", "3")
    assert back.evidence == {"rolled_back_from": "3"}
    assert registry.rollback(actor="api", reason="again").version == "1"  # a stack, not a toggle
    with pytest.raises(NotFoundError, match="no production version before v1"):
        registry.rollback(actor="api", reason="nothing left")

    registry.promote("2", actor="api", reason="d", evidence={})  # v2 made Production a second time
    history = registry.history()
    assert [(r.action, r.version) for r in history] == [
        ("promote", "2"),
        ("rollback", "1"),
        ("rollback", "2"),
        ("promote", "3"),
        ("promote", "2"),
        ("promote", "1"),
    ]
    assert [r.sequence for r in history] == [6, 5, 4, 3, 2, 1]
    event_tags = [k for k in registry.client.get_model_version(MODEL, "2").tags if k.startswith(EVENT_TAG_PREFIX)]
    assert sorted(event_tags) == [f"{EVENT_TAG_PREFIX}1", f"{EVENT_TAG_PREFIX}2", f"{EVENT_TAG_PREFIX}3"]
    assert registry.rollback(actor="api", reason="r").version == "1"


def test_rollback_skips_versions_deleted_since(two_versions, iris) -> None:
    registry, _, _ = two_versions
    X, y = iris
    register(make_pipeline(LogisticRegression(C=0.01, max_iter=300)).fit(X, y), X)
    for version in ("1", "2", "3"):
        registry.promote(version, actor="api", reason="r", evidence={})
    registry.client.delete_model_version(MODEL, "2")
    assert registry.rollback(actor="api", reason="r").version == "1"


def test_production_stack_infers_moves_made_outside_the_registry() -> None:
    from mlops_core.registry import PromotionRecord

    def event(action: str, version: str, previous: str | None) -> PromotionRecord:
        return PromotionRecord(MODEL, action, version, previous, "t", "api", "r", {})

    # v1 became Production by hand (no event), then v2 was promoted over it; v4 is set by hand afterwards.
    assert production_stack([event("promote", "2", "1")], "2") == ["1", "2"]
    assert production_stack([event("promote", "2", "1")], "4") == ["1", "2", "4"]
    assert production_stack([event("promote", "2", "1"), event("rollback", "1", "2")], "1") == ["1"]
    assert production_stack([], None) == []


def test_status_is_json_safe_with_versions_aliases_metrics_and_history(two_versions) -> None:
    registry, _, _ = two_versions
    registry.client.set_registered_model_alias(MODEL, STAGING, "2")
    registry.promote("1", actor="api", reason="first", evidence={"p_value": 0.01})

    status = json.loads(json.dumps(registry.status()))

    assert status["model_name"] == MODEL and status["registered"] is True
    assert status["aliases"] == {PRODUCTION: "1", STAGING: "2"}
    assert [v["version"] for v in status["versions"]] == ["2", "1"]
    newest, oldest = status["versions"]
    assert newest["aliases"] == [STAGING] and oldest["aliases"] == [PRODUCTION]
    assert newest["metrics"] == {"f1_macro": 0.55} and oldest["metrics"] == {"f1_macro": 0.95}
    assert newest["run_id"] and newest["created_at"].endswith("Z")
    assert oldest["tags"]["promotion_reason"] == "first"
    assert not any(k.startswith(EVENT_TAG_PREFIX) for k in oldest["tags"])
    assert status["history"] == [
        {
            "model_name": MODEL,
            "action": "promote",
            "version": "1",
            "previous_version": None,
            "at": oldest["tags"]["promoted_at"],
            "by": "api",
            "reason": "first",
            "evidence": {"p_value": 0.01},
            "changed": True,
            "sequence": 1,
        }
    ]
    info = registry.version_for(STAGING)
    assert (info.version, info.metrics, info.aliases) == ("2", {"f1_macro": 0.55}, [STAGING])


def test_load_picks_up_a_promotion_and_a_rollback_after_the_ttl(two_versions, iris) -> None:
    registry, _, _ = two_versions
    now = [1000.0]
    serving = ModelRegistry(model_name=MODEL, cache_ttl_seconds=5.0, clock=lambda: now[0])
    registry.promote("1", actor="api", reason="a", evidence={})
    registry.client.set_registered_model_alias(MODEL, STAGING, "2")
    assert serving.load(PRODUCTION).version == "1"
    staging = serving.load(STAGING)

    registry.promote_staging(actor="api", reason="b", evidence={})  # another process promotes
    now[0] += 4.9
    assert serving.load(PRODUCTION).version == "1"  # within the TTL: no registry call
    now[0] += 0.2
    promoted = serving.load(PRODUCTION)
    assert (promoted.version, promoted.alias) == ("2", PRODUCTION)
    assert promoted.model is staging.model  # the version Staging had loaded is reused
    with pytest.raises(NoModelError, match="alias 'staging'"):
        serving.load(STAGING)  # the promotion cleared it
    assert serving.loaded_versions() == {PRODUCTION: "2"}

    registry.client.set_registered_model_alias(MODEL, STAGING, "1")
    with pytest.raises(NoModelError):
        serving.load(STAGING)  # an unset alias is cached for the TTL too
    now[0] += 5.1
    assert serving.load(STAGING).version == "1"

    registry.rollback(actor="api", reason="c")  # v1 back to Production: staging pointed at it, so it is cleared
    now[0] += 5.1
    assert serving.load(PRODUCTION).version == "1"
    with pytest.raises(NoModelError):
        serving.load(STAGING)


def test_a_move_made_through_the_same_instance_is_visible_at_once(two_versions) -> None:
    now = [0.0]
    serving = ModelRegistry(model_name=MODEL, cache_ttl_seconds=60.0, clock=lambda: now[0])
    with pytest.raises(NoModelError):
        serving.load(PRODUCTION)
    serving.promote("1", actor="api", reason="a", evidence={})
    assert serving.load(PRODUCTION).version == "1"
    serving.promote("2", actor="api", reason="b", evidence={})
    assert serving.load(PRODUCTION).version == "2"
    serving.rollback(actor="api", reason="c")
    assert serving.load(PRODUCTION).version == "1"


def test_cached_model_keeps_serving_while_the_registry_is_unreachable(two_versions, monkeypatch) -> None:
    from mlflow import MlflowClient

    registry, _, _ = two_versions
    registry.promote("1", actor="api", reason="a", evidence={})
    now = [0.0]
    serving = ModelRegistry(model_name=MODEL, cache_ttl_seconds=1.0, clock=lambda: now[0])
    assert serving.load(PRODUCTION).version == "1"

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    serving.client = MlflowClient(tracking_uri=f"http://127.0.0.1:{closed_port}")
    now[0] += 2
    assert serving.load(PRODUCTION).version == "1"
    with pytest.raises(Exception):  # noqa: B017 - whatever the client raises, nothing is cached to fall back on
        serving.load(STAGING)


def test_load_version_loads_an_exact_version_whatever_the_aliases(two_versions, iris) -> None:
    registry, _, second = two_versions
    X, _ = iris
    registry.promote("1", actor="test", reason="first", evidence={})
    loaded = registry.load_version("2")
    assert loaded.version == "2"
    assert list(loaded.predict(X)) == list(second.predict(X))
    assert registry.version_for("production").version == "1"
    with pytest.raises(NotFoundError):
        registry.load_version("999")


def test_a_slow_alias_check_holds_up_no_request_with_a_cached_answer(two_versions) -> None:
    registry, _, _ = two_versions
    registry.promote("1", actor="api", reason="a", evidence={})
    registry.client.set_registered_model_alias(MODEL, STAGING, "2")
    now = [0.0]
    serving = ModelRegistry(model_name=MODEL, cache_ttl_seconds=1.0, clock=lambda: now[0])
    production = serving.load(PRODUCTION)
    assert serving.load(STAGING).version == "2"
    client = serving.client = BlockingLookups(serving.client, PRODUCTION)
    now[0] += 2  # both aliases are due for a check
    client.armed = True
    slow = Background(lambda: serving.load(PRODUCTION))
    try:
        assert client.entered.wait(WAIT_SECONDS)
        # While that check is stuck: the same alias answers from the cache without a second lookup, and the
        # other alias goes through its own check.
        others = Background(lambda: (serving.load(PRODUCTION), serving.load(STAGING)))
        cached, checked = others.value()
        assert not slow.done.is_set()
        assert cached is production
        assert (checked.version, checked.alias) == ("2", STAGING)
        assert client.lookups == [PRODUCTION, STAGING]
    finally:
        client.release.set()
    assert slow.value().version == "1"


def test_requests_with_nothing_cached_share_the_check_under_way(two_versions) -> None:
    registry, _, _ = two_versions
    registry.promote("1", actor="api", reason="a", evidence={})
    serving = ModelRegistry(model_name=MODEL)
    client = serving.client = BlockingLookups(serving.client, PRODUCTION)
    client.armed = True
    first = Background(lambda: serving.load(PRODUCTION))
    try:
        assert client.entered.wait(WAIT_SECONDS)
        second = Background(lambda: serving.load(PRODUCTION))
    finally:
        client.release.set()
    assert second.value() is first.value()
    assert client.lookups == [PRODUCTION]  # whether the second waited for the first or came after it


def test_a_promotion_here_during_a_slow_check_is_not_undone_by_its_older_answer(two_versions) -> None:
    now = [0.0]
    serving = ModelRegistry(model_name=MODEL, cache_ttl_seconds=1.0, clock=lambda: now[0])
    serving.promote("1", actor="api", reason="a", evidence={})
    assert serving.load(PRODUCTION).version == "1"
    client = serving.client = BlockingLookups(serving.client, PRODUCTION)
    now[0] += 2
    client.armed = True
    slow = Background(lambda: serving.load(PRODUCTION))  # reads v1, then is stuck
    try:
        assert client.entered.wait(WAIT_SECONDS)
        serving.promote("2", actor="api", reason="b", evidence={})
        after = Background(lambda: serving.load(PRODUCTION))
        assert after.value().version == "2"  # a check of its own, not the stale one under way
        assert not slow.done.is_set()
    finally:
        client.release.set()
    assert slow.value().version == "1"  # its answer predates the promotion...
    assert serving.load(PRODUCTION).version == "2"  # ...and does not replace the newer one in the cache


# the candidate's gate evidence: the real registry, and the fake the pipeline tests use, behave alike


class Staged:
    """One registry with two versions, `2` staged; `run_of(version)` reads back what its run recorded."""

    def __init__(self, registry: Any, run_of: Callable[[str], tuple[dict[str, float], dict[str, str]]]) -> None:
        self.registry = registry
        self.run_of = run_of

    def version_tags(self, version: str) -> dict[str, str]:
        if isinstance(self.registry, MlflowModelRegistry):
            return dict(self.registry._registry.client.get_model_version(MODEL, version).tags)
        return dict(self.registry.versions[version].tags)


@pytest.fixture(params=["mlflow", "fake"])
def staged(request: pytest.FixtureRequest) -> Staged:
    if request.param == "fake":
        fake = FakeModelRegistry(MODEL)
        fake.add(RuleModel(constant("setosa"), ["x"]), alias=PRODUCTION)
        fake.add(RuleModel(constant("setosa"), ["x"]), alias=STAGING)

        def fake_run(version: str) -> tuple[dict[str, float], dict[str, str]]:
            registered = fake.versions[version]
            return registered.run_metrics, registered.run_tags

        return Staged(fake, fake_run)
    request.getfixturevalue("mlflow_tracking_uri")
    X, y = request.getfixturevalue("iris")
    for version in ("1", "2"):
        assert register(make_pipeline(LogisticRegression(max_iter=300)).fit(X, y), X) == version
    adapter = MlflowModelRegistry(MODEL, experiment_name="unused")
    client = adapter._registry.client
    client.set_registered_model_alias(MODEL, PRODUCTION, "1")
    client.set_registered_model_alias(MODEL, STAGING, "2")

    def mlflow_run(version: str) -> tuple[dict[str, float], dict[str, str]]:
        data = client.get_run(client.get_model_version(MODEL, version).run_id).data
        return dict(data.metrics), dict(data.tags)

    return Staged(adapter, mlflow_run)


def test_staged_version_describes_the_version_under_staging(staged: Staged) -> None:
    found = staged.registry.staged_version()
    assert found is not None
    assert found["version"] == "2"
    assert found["run_id"]
    assert datetime.fromisoformat(found["created_at"]).tzinfo is not None
    assert isinstance(found["tags"], dict)


def test_staged_version_is_none_when_nothing_is_staged(staged: Staged) -> None:
    staged.registry.retire("2", actor="pipeline", reason="inferior")
    assert staged.registry.staged_version() is None


def test_record_evidence_lands_on_the_run_and_the_version_and_can_be_repeated(staged: Staged) -> None:
    tags = {
        gate_tags.STATE: gate_tags.PENDING,
        gate_tags.OFFLINE: "significant_improvement",
        gate_tags.ONLINE: "continue",
    }
    metrics = {"offline.delta_f1": 0.042, "online.n_pairs": 180}
    staged.registry.record_evidence("2", metrics=metrics, tags=tags)
    staged.registry.record_evidence("2", metrics=metrics, tags=tags)  # a retried step

    run_metrics, run_tags = staged.run_of("2")
    assert run_metrics["offline.delta_f1"] == pytest.approx(0.042)
    assert run_metrics["online.n_pairs"] == 180.0
    assert {k: run_tags[k] for k in tags} == tags
    assert {k: staged.version_tags("2")[k] for k in tags} == tags
    assert staged.registry.staged_version()["tags"][gate_tags.ONLINE] == "continue"
    assert gate_tags.STATE not in staged.version_tags("1")


def test_record_evidence_cuts_a_long_tag_value_with_a_visible_marker(staged: Staged) -> None:
    long = "d" * 12_345
    staged.registry.record_evidence("2", metrics={}, tags={gate_tags.DECISION: long})

    for value in (staged.version_tags("2")[gate_tags.DECISION], staged.run_of("2")[1][gate_tags.DECISION]):
        assert len(value) == gate_tags.MAX_TAG_VALUE_CHARS
        kept = value.index("…")
        assert value.endswith(f"…[truncated {12_345 - kept} chars]")
        assert value[:kept] == "d" * kept


def test_record_evidence_refuses_bad_input_and_unknown_versions(staged: Staged) -> None:
    with pytest.raises(NotFoundError, match="has no version '9'"):
        staged.registry.record_evidence("9", metrics={}, tags={gate_tags.STATE: gate_tags.PENDING})
    with pytest.raises(InvalidRequestError, match="metric"):
        staged.registry.record_evidence("2", metrics={"delta": "big"}, tags={})
    assert gate_tags.STATE not in staged.version_tags("2")


def test_retire_removes_staging_and_tags_who_and_why(staged: Staged) -> None:
    staged.registry.retire("2", actor="arn:execution:run-7", reason="online_undecided_too_long")

    assert staged.registry.staged_version() is None
    assert staged.registry.production_version() == "1"
    tags = staged.version_tags("2")
    assert tags[gate_tags.STATE] == gate_tags.RETIRED
    assert tags[gate_tags.RETIRED_BY] == "arn:execution:run-7"
    assert tags[gate_tags.RETIRED_REASON] == "online_undecided_too_long"


def test_retire_leaves_staging_alone_when_it_points_at_another_version(staged: Staged) -> None:
    staged.registry.retire("1", actor="pipeline", reason="superseded")

    assert staged.registry.staged_version()["version"] == "2"
    assert staged.version_tags("1")[gate_tags.STATE] == gate_tags.RETIRED
    with pytest.raises(NotFoundError):
        staged.registry.retire("9", actor="pipeline", reason="r")
    with pytest.raises(InvalidRequestError):
        staged.registry.retire("2", actor="pipeline", reason=" ")
    assert staged.registry.staged_version()["version"] == "2"


def test_tag_value_keeps_short_values_and_cuts_exactly_at_the_limit() -> None:
    limit = gate_tags.MAX_TAG_VALUE_CHARS
    assert gate_tags.tag_value("x" * limit) == "x" * limit
    assert gate_tags.tag_value(7) == "7"
    for size in (limit + 1, limit + 30, 10 * limit, 1_000_000):
        cut = gate_tags.tag_value("y" * size)
        kept = cut.index("…")
        assert len(cut) == limit and cut.endswith(f"[truncated {size - kept} chars]")


# promotion as a compare-and-set under the model's production lease


@pytest.fixture
def locked(two_versions) -> tuple[ModelRegistry, FakeLeases, ManualTime]:
    clock = ManualTime()
    leases = FakeLeases(now=clock)
    return ModelRegistry(model_name=MODEL, leases=leases, production_waiting=clock.waiting(3)), leases, clock


def test_promotion_moves_production_only_if_it_is_still_what_the_decision_saw(locked) -> None:
    registry, leases, _ = locked
    first = registry.promote("1", actor="run-1", reason="no_production_model", evidence={}, expected_production=None)
    assert first.changed and registry.version_for(PRODUCTION).version == "1"

    with pytest.raises(ProductionChangedError) as error:
        registry.promote("2", actor="run-2", reason="significant_improvement", evidence={}, expected_production=None)
    assert str(error.value).startswith(f"model {MODEL}: Production is v1, not unset as the decision to promote v2 saw")
    assert "nothing was promoted" in str(error.value)
    with pytest.raises(ProductionChangedError, match="Production is v1, not v3"):
        registry.promote("2", actor="run-2", reason="r", evidence={}, expected_production="3")

    assert registry.version_for(PRODUCTION).version == "1"
    assert [r.version for r in registry.history()] == ["1"]
    second = registry.promote("2", actor="run-2", reason="r", evidence={}, expected_production="1")
    assert (second.version, second.previous_version, second.changed) == ("2", "1", True)
    assert leases.holder(f"{MODEL}/production") is None  # released after success and after the refusals


def test_a_retried_promotion_finds_its_own_move_done_whatever_it_expected(locked) -> None:
    registry, _, _ = locked
    registry.promote("1", actor="run-1", reason="r", evidence={}, expected_production=None)
    again = registry.promote("1", actor="run-1", reason="r", evidence={}, expected_production=None)
    assert (again.changed, again.version) == (False, "1")
    assert len(registry.history()) == 1


def test_a_move_waits_for_the_lock_and_fails_clearly_when_it_is_not_freed(locked) -> None:
    registry, leases, clock = locked
    leases.acquire(f"{MODEL}/production", "arn:execution:other", 60)

    with pytest.raises(LeaseTimeoutError, match=f"{MODEL}/production is held by arn:execution:other until"):
        registry.promote("1", actor="api", reason="r", evidence={}, expected_production=None)
    with pytest.raises(LeaseTimeoutError, match="Another promotion or rollback of this model is under way"):
        registry.rollback(actor="api", reason="r")
    assert registry.version_for(PRODUCTION) is None

    clock.now += 60  # the other holder crashed: its lease runs out
    assert registry.promote("1", actor="api", reason="r", evidence={}, expected_production=None).changed


def test_rollback_holds_the_lock_too_and_releases_it(locked) -> None:
    registry, leases, _ = locked
    registry.promote("1", actor="api", reason="a", evidence={})
    registry.promote("2", actor="api", reason="b", evidence={})
    assert registry.rollback(actor="api", reason="bad").version == "1"
    names = [name for name, _ in leases.acquired]
    assert names.count(f"{MODEL}/production") == 6  # taken and confirmed by each of the three moves
    assert leases.holder(f"{MODEL}/production") is None


def test_the_lock_lost_during_a_slow_registry_call_moves_nothing(two_versions) -> None:
    registry, _, _ = two_versions
    registry.promote("1", actor="api", reason="first", evidence={})
    clock = ManualTime()
    leases = FakeLeases(now=clock)
    slow = BlockingLookups(registry.client, PRODUCTION)
    slow.armed = True
    registry = ModelRegistry(slow, MODEL, leases=leases)
    promoting = Background(lambda: registry.promote("2", actor="a", reason="r", evidence={}, expected_production="1"))
    assert slow.entered.wait(WAIT_SECONDS)
    clock.now += 61  # stuck past its lease; another process takes the lock
    leases.acquire(f"{MODEL}/production", "other", 60)
    slow.release.set()

    with pytest.raises(LeaseLostError, match=f"the lease on {MODEL}/production held by a#"):
        promoting.value()
    assert registry.version_for(PRODUCTION).version == "1"
    assert leases.holder(f"{MODEL}/production").owner == "other"
