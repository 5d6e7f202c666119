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
