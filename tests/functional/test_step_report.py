"""generate_report on in-memory fakes: written once per run on every path, HTML first and JSON last."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mlops_core import layout
from mlops_core.contracts import ReportOutput
from mlops_core.data import ObjectExistsError
from mlops_core.exceptions import InvalidRequestError
from mlops_core.pipeline import report

from tests.fakes import fake_deps
from tests.fakes.object_store import InMemoryObjectStore

EVENTS = Path(__file__).resolve().parents[1] / "events"
STATUSES = {"no_drift": "no_drift", "promoted": "promoted", "failed": "failed"}


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"report_state_{name}.json").read_text())


@pytest.mark.parametrize("status", sorted(STATUSES))
def test_the_report_is_written_with_its_derived_status_html_first(status: str) -> None:
    deps = fake_deps()
    state = event(status)
    run_id = state["run_id"]
    out = report.run(state, deps)

    assert set(out) == set(ReportOutput.__annotations__)
    json_key, html_key = layout.report_json_key(run_id), layout.report_html_key(run_id)
    assert out["status"] == STATUSES[status] and out["report_id"] == run_id
    # The index is rebuilt after the report is complete, its JSON before its page.
    assert deps.reports.writes == [html_key, json_key, layout.REPORT_INDEX_JSON_KEY, layout.REPORT_INDEX_HTML_KEY]
    assert out["index_key"] == layout.REPORT_INDEX_HTML_KEY
    assert deps.reports.content_types[json_key] == "application/json"
    assert deps.reports.content_types[html_key] == "text/html; charset=utf-8"
    body = json.loads(deps.reports.objects[json_key])
    assert body["status"] == out["status"] and body["run_id"] == run_id
    assert body["timestamp"].startswith("2026-11-28T06:00:05")  # the clock's time
    assert out["json_url"] == f"http://reports.test/{json_key}" and out["html_url"] == f"http://reports.test/{html_key}"


def test_the_drift_report_is_linked_under_the_reports_website() -> None:
    deps = fake_deps()
    state = event("no_drift")
    report.run(state, deps)
    body = json.loads(deps.reports.objects[layout.report_json_key(state["run_id"])])
    assert body["links"]["drift_report"] == f"http://reports.test/{state['drift']['report_key']}"


def test_without_a_website_the_links_are_relative() -> None:
    deps = fake_deps(settings={"reports_website_url": None, "mlflow_ui_url": None})
    out = report.run(event("promoted"), deps)
    assert (out["json_url"], out["html_url"]) == ("report.json", "report.html")


def test_a_second_attempt_returns_the_first_report_and_only_rebuilds_the_index() -> None:
    deps = fake_deps()
    state = event("promoted")
    first = report.run(state, deps)
    deps.clock.at = datetime(2030, 1, 1, tzinfo=UTC)
    writes = list(deps.reports.writes)
    report_body = deps.reports.objects[layout.report_json_key(state["run_id"])]
    assert report.run(state, deps) == first
    assert deps.reports.writes == [*writes, layout.REPORT_INDEX_JSON_KEY, layout.REPORT_INDEX_HTML_KEY]
    assert deps.reports.objects[layout.report_json_key(state["run_id"])] == report_body
    index = json.loads(deps.reports.objects[layout.REPORT_INDEX_JSON_KEY])
    assert [r["run_id"] for r in index["runs"]] == [state["run_id"]]


def test_an_attempt_that_stopped_after_the_html_is_finished_by_the_next() -> None:
    deps = fake_deps()
    state = event("failed")
    html_key = layout.report_html_key(state["run_id"])
    deps.reports.put_new(html_key, b"<html>first attempt</html>")
    out = report.run(state, deps)
    assert deps.reports.objects[html_key] == b"<html>first attempt</html>"
    assert json.loads(deps.reports.objects[layout.report_json_key(state["run_id"])])["status"] == out["status"]


class RacingStore(InMemoryObjectStore):
    """Another attempt writes the JSON report between this attempt's check and its write."""

    def put_new(self, key: str, body: bytes, content_type: str | None = None) -> None:
        if key.endswith("report.json") and key not in self.objects:
            super().put_new(key, json.dumps({"status": "failed", "links": {"json": "theirs"}}).encode())
            raise ObjectExistsError(self.bucket, key)
        super().put_new(key, body, content_type)


def test_a_concurrent_attempts_report_wins() -> None:
    deps = fake_deps(reports=RacingStore("reports"))
    out = report.run(event("promoted"), deps)
    assert out["status"] == "failed" and out["json_url"] == "theirs"


def test_a_state_that_never_ran_the_drift_check_is_refused() -> None:
    deps = fake_deps()
    state = event("no_drift")
    del state["drift"]
    with pytest.raises(InvalidRequestError):
        report.run(state, deps)
    assert deps.reports.writes == []
