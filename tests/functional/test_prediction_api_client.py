"""The online gate's HTTP adapter against a real HTTP server on loopback that answers as scripted."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
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


def test_traffic_and_predictions_are_read_from_the_api(server) -> None:
    url, scripted = server
    scripted.scripts["/config/traffic"] = [(200, {"production": 0.7, "staging": 0.3})]
    scripted.scripts["/predict"] = [(200, {"variant": "staging", "prediction": "setosa"}), (400, {"Code": "Bad"})]
    api = client(url)
    assert api.base_url == url.rstrip("/")
    assert api.get_traffic() == 0.7
    assert api.predict({"x": 1.0}, "u-1") == {"variant": "staging", "prediction": "setosa"}
    assert api.predict({"x": None}, "u-2") is None  # an error answer is counted by the step, never fatal
    assert scripted.received[1:] == [
        ("/predict", {"features": {"x": 1.0}, "user_id": "u-1"}),
        ("/predict", {"features": {"x": None}, "user_id": "u-2"}),
    ]


def test_a_traffic_error_is_raised(server) -> None:
    url, scripted = server
    scripted.scripts["/config/traffic"] = [(503, {"Code": "ServiceUnavailable"})]
    with pytest.raises(requests.HTTPError, match="503"):
        client(url).get_traffic()


@pytest.mark.parametrize(
    ("statuses", "delivered", "attempts"),
    [
        ([200], True, 1),
        ([409], True, 1),  # an earlier attempt already recorded it
        ([500, 503, 200], True, 3),  # a cancelled transaction is retried
        ([500], False, 4),  # gives up after four attempts
        ([400], False, 1),  # a refused label is not retried
    ],
)
def test_feedback_retries_server_errors_only(server, statuses: list[int], delivered: bool, attempts: int) -> None:
    url, scripted = server
    scripted.scripts["/feedback"] = [(status, {}) for status in statuses]
    assert client(url).feedback("p-1", "setosa") is delivered
    assert scripted.received == [("/feedback", {"prediction_id": "p-1", "label": "setosa"})] * attempts


def test_the_online_gate_fails_when_the_api_is_unreachable() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free a moment ago: nothing answers there
    deps = fake_deps()
    state = trained(deps)
    state["evaluation"] = {"production_version": None}
    deps = fake_deps(data=deps.data, registry=deps.registry, api=HttpPredictionApi(f"http://127.0.0.1:{port}"))
    with pytest.raises(requests.ConnectionError):
        ab_test.run(state, deps)
