"""generate_report on fakes, across runs: the reports index, the link to the previous run, step durations
from the execution history, and train_model's leaderboard reaching the report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlops_core import layout
from mlops_core.pipeline import report, train
from mlops_core.training import TrainedModel
from mlops_core.training.leaderboard import LEADERBOARD_ROWS

from tests.fakes import FakeTrainer, fake_deps
from tests.fakes.scenario import drifted

EVENTS = Path(__file__).resolve().parents[1] / "events"
DAY = datetime(2026, 11, 1, 6, 0, 0, tzinfo=UTC)


def event(name: str, run_id: str) -> dict[str, Any]:
    state = json.loads((EVENTS / f"report_state_{name}.json").read_text())
    state["run_id"] = run_id
    state["execution_arn"] = f"arn:aws:states:us-east-1:123456789012:execution:mlops-pipeline:{run_id}"
    return state


def run_on_day(deps: Any, name: str, run_id: str, day: int) -> dict[str, Any]:
    deps.clock.at = DAY + timedelta(days=day)
    report.run(event(name, run_id), deps)
    return json.loads(deps.reports.objects[layout.report_json_key(run_id)])


def index_of(deps: Any) -> dict[str, Any]:
    return json.loads(deps.reports.objects[layout.REPORT_INDEX_JSON_KEY])


def test_each_run_rebuilds_the_index_newest_first_and_links_the_run_before() -> None:
    deps = fake_deps()
    first = run_on_day(deps, "no_drift", "run-a", 0)
    second = run_on_day(deps, "promoted", "run-b", 1)
    third = run_on_day(deps, "failed", "run-c", 2)

    assert first["previous_run"] is None
    assert second["previous_run"]["run_id"] == "run-a" and second["previous_run"]["status"] == "no_drift"
    assert second["previous_run"]["html_url"] == "http://reports.test/reports/run-a/report.html"
    assert third["previous_run"]["run_id"] == "run-b" and third["previous_run"]["promoted"] is True
    assert third["links"]["index"] == "http://reports.test/reports/index.html"

    index = index_of(deps)
    assert [r["run_id"] for r in index["runs"]] == ["run-c", "run-b", "run-a"]
    assert (index["runs_found"], index["left_out"], index["unreadable"]) == (3, 0, 0)
    assert [r["promoted"] for r in index["runs"]] == [False, True, False]
    assert index["runs"][1]["production_f1"] == second["evaluation"]["staging_metrics"]["f1_macro"]
    assert deps.reports.content_types[layout.REPORT_INDEX_HTML_KEY] == "text/html; charset=utf-8"
    page = deps.reports.objects[layout.REPORT_INDEX_HTML_KEY].decode()
    assert page.count('class="link-run"') == 3 and "drift-history-chart" in page and "f1-history-chart" in page


def test_without_a_website_the_index_and_previous_links_are_relative() -> None:
    deps = fake_deps(settings={"reports_website_url": None})
    run_on_day(deps, "no_drift", "run-a", 0)
    second = run_on_day(deps, "no_drift", "run-b", 1)
    assert second["previous_run"]["html_url"] == "../run-a/report.html"
    assert second["links"]["index"] == "../index.html"
    assert index_of(deps)["runs"][0]["html_url"] == "run-b/report.html"


def test_the_index_reads_only_the_newest_reports_and_says_how_many_it_left_out(monkeypatch) -> None:
    deps = fake_deps()
    for day in range(5):
        run_on_day(deps, "no_drift", f"run-{day}", day)
    monkeypatch.setattr(report, "INDEX_LIMIT", 3)
    deps.reports.reads.clear()
    run_on_day(deps, "no_drift", "run-5", 5)

    index = index_of(deps)
    assert [r["run_id"] for r in index["runs"]] == ["run-5", "run-4", "run-3"]
    assert (index["runs_found"], index["runs_shown"], index["left_out"]) == (6, 3, 3)
    read = [k for k in deps.reports.reads if k.endswith("/report.json") and "run-5" not in k]
    assert sorted(read) == [layout.report_json_key("run-3"), layout.report_json_key("run-4")]
    assert "3 older runs are left out" in deps.reports.objects[layout.REPORT_INDEX_HTML_KEY].decode()


def test_an_unreadable_or_hostile_report_object_is_counted_not_fatal() -> None:
    deps = fake_deps()
    deps.reports.put_new(layout.report_json_key("run-bad"), b"{not json")
    deps.reports.put_new(layout.report_json_key("run-odd"), json.dumps({"run_id": "../x", "timestamp": 3}).encode())
    deps.reports.put_new("reports/run-x/drift_report.html", b"<html></html>")  # not a report: ignored
    run_on_day(deps, "no_drift", "run-a", 0)
    index = index_of(deps)
    assert [r["run_id"] for r in index["runs"]] == ["run-a"]
    assert (index["runs_found"], index["unreadable"]) == (3, 2)


def test_step_durations_come_from_the_execution_history() -> None:
    deps = fake_deps()
    state = event("promoted", "run-a")
    arn = state["execution_arn"]
    deps.history.add_state(arn, "CheckDataDrift", DAY, DAY + timedelta(seconds=2))
    deps.history.add_state(arn, "TrainModel", DAY + timedelta(seconds=2), DAY + timedelta(seconds=40), attempts=2)
    deps.history.add_state(arn, "GenerateReport", DAY + timedelta(seconds=50), None)
    report.run(state, deps)

    body = json.loads(deps.reports.objects[layout.report_json_key("run-a")])
    assert [(s["step"], s["seconds"], s["attempts"], s["outcome"]) for s in body["steps"]] == [
        ("CheckDataDrift", 2.0, 1, "succeeded"),
        ("TrainModel", 38.0, 2, "succeeded"),
        ("GenerateReport", None, 1, "running"),
    ]
    assert deps.history.reads == [arn]


def test_an_unreadable_history_leaves_the_durations_out_and_the_report_is_still_written() -> None:
    deps = fake_deps()
    deps.history.error = PermissionError("AccessDenied: states:GetExecutionHistory")
    out = report.run(event("failed", "run-a"), deps)
    body = json.loads(deps.reports.objects[layout.report_json_key("run-a")])
    assert out["status"] == "failed" and body["steps"] is None
    assert "Step durations unavailable" in deps.reports.objects[layout.report_html_key("run-a")].decode()
    # No history port at all (a deployment without the permission wired): the same.
    bare = fake_deps(history=None)
    assert report.run(event("no_drift", "run-b"), bare)["status"] == "no_drift"


@dataclass
class RankingTrainer(FakeTrainer):
    """The fake trainer's model, with a leaderboard of twelve compared models and their fit times."""

    def train(self, frame: Any, target: str, **options: Any) -> TrainedModel:
        trained = super().train(frame, target, **options)
        trained.leaderboard = [
            {"model": f"m{i}", "name": f"Model {i}", "f1_macro": 0.9 - i / 100, "accuracy": 0.9, "recall_macro": 0.9}
            for i in range(12)
        ]
        trained.plan = {"fit_seconds": {f"m{i}": 1.5 + i for i in range(12)}}
        return trained


def test_the_leaderboard_travels_from_train_model_to_the_report_and_a_reused_version_has_none() -> None:
    deps = fake_deps(trainer=RankingTrainer())
    state = drifted(deps, "run-t")
    state["training"] = train.run(state, deps)
    board = state["training"]["leaderboard"]
    assert len(board) == LEADERBOARD_ROWS
    assert board[0] == {"model": "m0", "name": "Model 0", "f1_macro": 0.9, "accuracy": 0.9, "fit_seconds": 1.5}

    report.run(state, deps)
    page = deps.reports.objects[layout.report_html_key("run-t")].decode()
    assert page.count('<tr><td class="num">') >= LEADERBOARD_ROWS and "Model 9" in page
    assert "Model 10" not in page

    again = train.run(state, deps)
    assert again["reused"] is True and again["leaderboard"] == []
