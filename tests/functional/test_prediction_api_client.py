"""The online gate's HTTP adapter against a real HTTP server on loopback that answers as scripted."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from mlops_core.adapters import HttpPredictionApi
from mlops_core.pipeline import ab_test
from test_api_routes import chalice_app, clock, registry_template  # noqa: F401 (fixtures)

from tests.fakes import fake_deps
from tests.fakes.scenario import trained


class Scripted:
    """Answers each path with the next status of its script (the last one repeats) and records the bodies."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.received: list[tuple[str, Any]] = []

    def answer(self, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        self.received.append((path, body))
        script = self.scripts[path]
        return script.pop(0) if len(script) > 1 else script[0]


@pytest.fixture
def server() -> Iterator[tuple[str, Scripted]]:
    scripted = Scripted()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, body: Any) -> None:
            status, payload = scripted.answer(self.path, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._reply(None)

        def do_POST(self) -> None:
            self._reply(json.loads(self.rfile.read(int(self.headers["content-length"]))))

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", scripted
    finally:
        httpd.shutdown()
        httpd.server_close()


def client(url: str) -> HttpPredictionApi:
    return HttpPredictionApi(url, sleep=lambda seconds: None)


def unreachable() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free a moment ago: nothing answers there
    return f"http://127.0.0.1:{port}"


def test_traffic_and_batched_predictions_are_read_from_the_api(server) -> None:
    url, scripted = server
    answers = [{"variant": "staging", "prediction": "setosa"}, {"variant": "production", "prediction": "virginica"}]
    scripted.scripts["/config/traffic"] = [(200, {"production": 0.7, "staging": 0.3})]
    scripted.scripts["/predict"] = [(200, {"predictions": answers}), (400, {"Code": "BadRequest"})]
    api = client(url)
    assert api.base_url == url.rstrip("/")
    assert api.get_traffic() == 0.7
    assert api.predict_batch([{"x": 1.0}, {"x": None}], ["u-1", "u-2"]) == answers
    assert api.predict_batch([{"x": 2.0}], ["u-3"]) is None  # refused: the step counts its rows
    assert scripted.received[1:] == [
        ("/predict", {"instances": [{"x": 1.0}, {"x": None}], "user_ids": ["u-1", "u-2"]}),
        ("/predict", {"instances": [{"x": 2.0}], "user_ids": ["u-3"]}),
    ]


def test_a_batch_answered_with_the_wrong_number_of_predictions_counts_as_unanswered(server) -> None:
    url, scripted = server
    scripted.scripts["/predict"] = [(200, {"predictions": [{"variant": "staging"}]})]
    assert client(url).predict_batch([{"x": 1.0}, {"x": 2.0}], ["a", "b"]) is None


@pytest.mark.parametrize(("statuses", "attempts"), [([503, 502, 200], 3), ([429, 200], 2)])
def test_busy_or_failing_answers_are_retried_with_backoff(server, statuses: list[int], attempts: int) -> None:
    url, scripted = server
    scripted.scripts["/predict"] = [(status, {"predictions": [{"variant": "staging"}]}) for status in statuses]
    waits: list[float] = []
    api = HttpPredictionApi(url, sleep=waits.append, backoff_seconds=1.0)
    assert api.predict_batch([{"x": 1.0}], ["a"]) == [{"variant": "staging"}]
    assert len(scripted.received) == attempts
    # Exponential with jitter: each wait within [0.5, 1.5] of 1 s, 2 s, ...
    assert all(0.5 * 2**i <= wait <= 1.5 * 2**i for i, wait in enumerate(waits)) and len(waits) == attempts - 1


def test_awaiting_versions_polls_health_until_the_api_serves_them(server) -> None:
    url, scripted = server
    scripted.scripts["/health"] = [
        (200, {"status": "ready", "models": {"production": "1"}}),
        (503, {"status": "unavailable"}),
        (200, {"status": "ready", "models": {"production": "1", "staging": "2"}}),
    ]
    waits: list[float] = []
    api = HttpPredictionApi(url, sleep=waits.append, attempts=1)
    assert api.await_versions({"production": "1", "staging": "2"}, timeout_seconds=60) is True
    assert [path for path, _ in scripted.received] == ["/health"] * 3 and len(waits) == 2


def test_awaiting_versions_gives_up_at_the_deadline(server) -> None:
    url, scripted = server
    scripted.scripts["/health"] = [(200, {"status": "ready", "models": {"production": "1"}})]
    api = HttpPredictionApi(url, sleep=lambda seconds: None)
    assert api.await_versions({"production": "1", "staging": "2"}, timeout_seconds=0) is False


def test_a_traffic_error_after_the_last_attempt_is_raised(server) -> None:
    url, scripted = server
    scripted.scripts["/config/traffic"] = [(503, {"Code": "ServiceUnavailable"})]
    with pytest.raises(ConnectionError, match="HTTP 503"):
        client(url).get_traffic()
    assert len(scripted.received) == 5


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"results": [{"status": "recorded"}, {"status": "duplicate"}, {"status": "rejected"}]}, None),
        (200, {"results": [{"status": "recorded"}]}, ["lost"] * 3),  # an answer that does not fit
        (400, {"Code": "BadRequest"}, ["rejected"] * 3),
        (503, {"Code": "ServiceUnavailable"}, ["lost"] * 3),  # after the last attempt
    ],
)
def test_feedback_goes_in_one_batch_and_every_item_gets_a_status(
    server, status: int, body: dict[str, Any], expected: list[str] | None
) -> None:
    url, scripted = server
    scripted.scripts["/feedback"] = [(status, body)]
    items = [("p-1", "setosa"), ("p-2", "setosa"), ("p-3", "virginica")]
    statuses = client(url).feedback_batch(items)
    assert statuses == (expected or ["recorded", "duplicate", "rejected"])
    assert scripted.received[0] == (
        "/feedback",
        {"feedback": [{"prediction_id": p, "label": label} for p, label in items]},
    )


def test_an_unreachable_api_loses_nothing_silently() -> None:
    api = HttpPredictionApi(unreachable(), sleep=lambda seconds: None, attempts=2)
    assert api.await_versions({"staging": "1"}, timeout_seconds=60) is False  # at once: nothing answers
    assert api.predict_batch([{"x": 1.0}], ["a"]) is None
    assert api.feedback_batch([("p-1", "setosa")]) == ["lost"]
    with pytest.raises(ConnectionError, match="no answer"):
        api.get_traffic()


def test_the_online_gate_fails_when_the_api_is_unreachable() -> None:
    deps = fake_deps()
    state = trained(deps)
    state["evaluation"] = {"production_version": None}
    api = HttpPredictionApi(unreachable(), sleep=lambda seconds: None, attempts=2)
    deps = fake_deps(data=deps.data, registry=deps.registry, api=api)
    with pytest.raises(ConnectionError):
        ab_test.run(state, deps)


# paired evidence
STATS_QUERY = "/stats/ab?production_version=1&staging_version=2"
PAIRED = {"pairs": 7, "both_correct": 4, "staging_only": 2, "production_only": 1, "both_wrong": 0}


def test_paired_evidence_asks_for_the_experiment_and_reads_its_counts(server) -> None:
    url, scripted = server
    scripted.scripts[STATS_QUERY] = [
        (503, {"error": "busy"}),
        (200, {"experiments": [{"production_version": "1", "staging_version": "2", **PAIRED}]}),
    ]
    waits: list[float] = []
    api = HttpPredictionApi(url, sleep=waits.append)
    assert api.paired_evidence("1", "2") == PAIRED
    assert [path for path, _ in scripted.received] == [STATS_QUERY] * 2 and len(waits) == 1


@pytest.mark.parametrize(
    "experiments",
    [[], [{"production_version": "1", "staging_version": "3", **PAIRED}], [{"production_version": "1"}]],
)
def test_paired_evidence_is_zeros_when_the_api_counted_no_pair_for_these_versions(server, experiments) -> None:
    url, scripted = server
    scripted.scripts[STATS_QUERY] = [(200, {"experiments": experiments})]
    assert client(url).paired_evidence("1", "2") == dict.fromkeys(PAIRED, 0)


@pytest.mark.parametrize(
    ("status", "body", "error", "match"),
    [
        (503, {"error": "busy"}, ConnectionError, "HTTP 503"),
        (400, {"error": "bad", "field": "staging_version"}, ConnectionError, "HTTP 400"),
        (200, {"variants": {}}, ValueError, "does not count paired evidence"),
        (200, {"experiments": [{"production_version": "1", "staging_version": "2", "pairs": -1}]}, ValueError, "pairs"),
        (
            200,
            {"experiments": [{"production_version": "1", "staging_version": "2", "pairs": "7"}]},
            ValueError,
            "pairs",
        ),
    ],
)
def test_paired_evidence_the_api_cannot_give_is_raised_not_taken_as_zeros(server, status, body, error, match) -> None:
    url, scripted = server
    scripted.scripts[STATS_QUERY] = [(status, body)]
    with pytest.raises(error, match=match):
        client(url).paired_evidence("1", "2")


def test_paired_evidence_from_an_unreachable_api_is_a_connection_error() -> None:
    api = HttpPredictionApi(unreachable(), sleep=lambda seconds: None, attempts=2)
    with pytest.raises(ConnectionError, match="no answer"):
        api.paired_evidence("1", "2")


@pytest.fixture
def app_url(chalice_app: Any) -> Iterator[str]:  # noqa: F811
    """The Chalice app itself on a loopback HTTP server, as a deployed API answers the adapter."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from test_api_fuzz import wsgi

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    application = wsgi(chalice_app.app)

    def without_default_type(environ: dict[str, Any], start_response: Any) -> Any:
        # wsgiref says "text/plain" for a request without a body, which no client sent.
        if not environ.get("CONTENT_LENGTH"):
            environ.pop("CONTENT_TYPE", None)
        return application(environ, start_response)

    httpd = make_server("127.0.0.1", 0, without_default_type, handler_class=Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def iris_sample() -> tuple[Any, Any, list[dict], list[str]]:
    from test_api_routes import iris_frame

    X, y = iris_frame()
    return X, y, X.iloc[::5].to_dict(orient="records"), y.iloc[::5].tolist()


def fake_api() -> Any:
    """The fake the pipeline tests use: Production (v1) knows every iris row, Staging (v2) misses every third."""
    from tests.fakes import FakeModelRegistry, FakePredictionApi
    from tests.fakes.models import RuleModel, truth

    X, y, _, _ = iris_sample()
    registry = FakeModelRegistry()
    registry.add(RuleModel(truth(X, y.tolist()), list(X.columns)), alias="production")
    registry.add(RuleModel(truth(X, y.tolist(), wrong_every=3), list(X.columns)), alias="staging")
    return FakePredictionApi(registry)


@pytest.fixture(params=["http adapter on the real app", "in-memory fake"])
def paired_api(request: pytest.FixtureRequest) -> Any:
    """A PredictionApi serving iris v1 as Production and v2 as Staging: the HTTP adapter against the Chalice
    app, or the fake the pipeline tests use. Both must count pairs alike."""
    if request.param == "in-memory fake":
        return fake_api()
    return client(request.getfixturevalue("app_url"))


def test_paired_evidence_counts_each_labelled_answer_once_as_a_pair(paired_api) -> None:
    api = paired_api
    _, _, rows, labels = iris_sample()
    answers = api.predict_batch(rows, [f"user-{i}" for i in range(len(rows))])
    assert answers is not None and {answer["variant"] for answer in answers} == {"production", "staging"}
    assert api.paired_evidence("1", "2") == dict.fromkeys(PAIRED, 0)
    sent = [(answer["prediction_id"], label) for answer, label in zip(answers, labels, strict=True)]
    assert api.feedback_batch(sent) == ["recorded"] * len(rows)

    counts = api.paired_evidence("1", "2")
    assert counts["pairs"] == len(rows)
    assert sum(counts[name] for name in PAIRED if name != "pairs") == len(rows)
    assert api.feedback_batch(sent[:5]) == ["duplicate"] * 5
    assert api.paired_evidence("1", "2") == counts
    assert api.paired_evidence("2", "1") == dict.fromkeys(PAIRED, 0)  # Production v2 against v1: none


def test_the_fake_scores_every_row_with_both_models_unless_shadow_mode_is_off() -> None:
    api = fake_api()
    _, _, rows, labels = iris_sample()
    answers = api.predict_batch(rows, [f"user-{i}" for i in range(len(rows))])
    api.feedback_batch([(answer["prediction_id"], label) for answer, label in zip(answers, labels, strict=True)])
    staging_wrong = sum(1 for row in range(0, 150, 5) if row % 3 == 0)  # the sample's rows Staging misses
    assert api.paired_evidence("1", "2") == {
        "pairs": len(rows),
        "both_correct": len(rows) - staging_wrong,
        "staging_only": 0,
        "production_only": staging_wrong,
        "both_wrong": 0,
    }
    assert {api.shadows[answer["prediction_id"]][0] for answer in answers} == {"1", "2"}
    api.shadow_mode = False
    more = api.predict_batch(rows, [f"other-{i}" for i in range(len(rows))])
    assert not any(answer["prediction_id"] in api.shadows for answer in more)
