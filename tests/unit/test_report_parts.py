"""The run report's newer parts: step durations from the execution history, the AutoML leaderboard, the link
to the previous run, and the drift verdict's untested columns and target."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlops_core.report import ReportLinks, build_report, render_report_html
from mlops_core.report.steps import step_durations
from mlops_core.training.leaderboard import LEADERBOARD_ROWS, top_models

from tests.support.chromium import parse_dom

EVENTS = Path(__file__).resolve().parents[1] / "events"
NOW = datetime(2026, 11, 28, 6, 0, 5, tzinfo=UTC)
T0 = datetime(2026, 11, 28, 6, 0, 0, tzinfo=UTC)
LINKS = ReportLinks(json="report.json", html="report.html", index="../index.html")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def entered(name: str, seconds: float, kind: str = "Task") -> dict:
    return {"type": f"{kind}StateEntered", "timestamp": at(seconds), "stateEnteredEventDetails": {"name": name}}


def exited(name: str, seconds: float, kind: str = "Task") -> dict:
    return {"type": f"{kind}StateExited", "timestamp": at(seconds), "stateExitedEventDetails": {"name": name}}


def event(kind: str, seconds: float) -> dict:
    return {"type": kind, "timestamp": at(seconds)}


def state(name: str = "promoted") -> dict:
    return json.loads((EVENTS / f"report_state_{name}.json").read_text())


def test_step_durations_pair_entry_and_exit_count_attempts_and_skip_pass_states():
    events = [
        event("ExecutionStarted", 0),
        entered("StartRun", 0, "Pass"),
        exited("StartRun", 0, "Pass"),
        entered("CheckDataDrift", 0.5),
        event("LambdaFunctionScheduled", 0.5),
        event("LambdaFunctionFailed", 1.0),  # retried
        event("LambdaFunctionScheduled", 2.0),
        event("LambdaFunctionSucceeded", 3.0),
        exited("CheckDataDrift", 3.25),
        entered("DriftDetected?", 3.25, "Choice"),
        exited("DriftDetected?", 3.25, "Choice"),
        entered("GenerateReport", 3.5),
        event("LambdaFunctionScheduled", 3.5),
    ]
    assert step_durations(events) == [
        {
            "step": "CheckDataDrift",
            "started": "2026-11-28T06:00:00.500+00:00",
            "seconds": 2.75,
            "attempts": 2,
            "outcome": "succeeded",
        },
        {
            "step": "GenerateReport",
            "started": "2026-11-28T06:00:03.500+00:00",
            "seconds": None,
            "attempts": 1,
            "outcome": "running",
        },
    ]


def test_a_caught_failure_ends_where_the_next_state_begins():
    events = [
        entered("TrainModel", 0),
        event("LambdaFunctionScheduled", 0),
        event("LambdaFunctionTimedOut", 9),
        entered("GenerateReport", 10),
    ]
    train = step_durations(events)[0]
    assert (train["seconds"], train["outcome"]) == (10.0, "failed")
    # An exit event after the failure (as AWS may write for a caught error) still says failed.
    events.insert(3, exited("TrainModel", 9.5))
    assert step_durations(events)[0] == {**train, "seconds": 9.5}


def test_malformed_events_are_skipped_not_fatal():
    events = [
        {"type": "TaskStateEntered", "timestamp": "not a time", "stateEnteredEventDetails": {"name": "X"}},
        {"type": "TaskStateEntered", "timestamp": at(0)},  # no name
        event("LambdaFunctionScheduled", 0),
        {},
        entered("EvaluateCandidate", 1),
        exited("EvaluateCandidate", 2),
    ]
    assert [s["step"] for s in step_durations(events)] == ["EvaluateCandidate"]
    assert step_durations([]) == []


def test_the_report_shows_each_steps_duration():
    steps = step_durations([entered("CheckDataDrift", 0), exited("CheckDataDrift", 1.5), entered("GenerateReport", 2)])
    report = build_report(state(), now=NOW, links=LINKS, steps=steps)
    assert report["steps"] == steps
    rows = parse_dom(render_report_html(report)).find("table", cls="steps-table").find("tbody").find_all("tr")
    assert [(r.find("td", cls="step").text(), r.find("td", cls="duration").text()) for r in rows] == [
        ("CheckDataDrift", "1.5 s"),
        ("GenerateReport", "running (this report)"),
    ]
    unknown = parse_dom(render_report_html(build_report(state(), now=NOW, links=LINKS)))
    assert "not readable" in unknown.find("section", id="steps").text()


def test_the_leaderboard_keeps_the_top_rows_and_shows_cv_f1_and_fit_time():
    grid = [
        {"model": f"m{i}", "name": f"Model {i}", "f1_macro": 0.9 - i / 100, "accuracy": 0.8, "recall_macro": 0.7}
        for i in range(15)
    ]
    top = top_models(grid, {f"m{i}": 0.05 * i for i in range(15) if i != 2})
    assert len(top) == LEADERBOARD_ROWS
    assert top[1] == {"model": "m1", "name": "Model 1", "f1_macro": 0.89, "accuracy": 0.8, "fit_seconds": 0.05}
    assert top[2]["fit_seconds"] is None  # not timed
    assert top_models([]) == [] and top_models(grid[:1])[0]["fit_seconds"] is None
    run = state()
    run["training"]["leaderboard"] = top
    page = parse_dom(render_report_html(build_report(run, now=NOW, links=LINKS)))
    rows = page.find("table", cls="leaderboard-table").find("tbody").find_all("tr")
    assert len(rows) == LEADERBOARD_ROWS
    assert [td.text() for td in rows[1].find_all("td")] == ["2", "Model 1 m1", "0.890", "0.800", "0.05"]


def test_a_reused_version_says_where_its_leaderboard_is_and_old_states_show_none():
    run = state()
    run["training"].update(leaderboard=[], reused=True)
    section = parse_dom(render_report_html(build_report(run, now=NOW, links=LINKS))).find("section", id="leaderboard")
    assert "reused" in section.text() and "MLflow run" in section.text()
    run["training"].pop("leaderboard")
    assert parse_dom(render_report_html(build_report(run, now=NOW, links=LINKS))).find_all(id="leaderboard") == []


def test_the_report_links_the_previous_run_and_the_index():
    previous = {
        "run_id": "run-20261125T060000Z",
        "timestamp": "2026-11-25T06:02:00Z",
        "status": "no_drift",
        "html_url": "../run-20261125T060000Z/report.html",
    }
    report = build_report(state(), now=NOW, links=LINKS, previous_run=previous)
    assert report["previous_run"] == previous
    links = parse_dom(render_report_html(report)).find("section", id="links")
    link = links.find("a", cls="link-previous")
    assert link.attrs["href"] == previous["html_url"] and "No drift" in links.text()
    assert links.find("a", cls="link-index").attrs["href"] == "../index.html"

    hostile = {**previous, "html_url": "javascript:alert(1)", "run_id": "<b>x</b>"}
    page = render_report_html(build_report(state(), now=NOW, links=LINKS, previous_run=hostile))
    assert parse_dom(page).find("section", id="links").find_all("a", cls="link-previous") == []
    first = parse_dom(render_report_html(build_report(state(), now=NOW, links=LINKS)))
    assert "none before this one" in first.find("section", id="links").text()


def test_the_drift_section_lists_untested_columns_with_reasons_and_the_target_apart():
    run = state()
    drift = run["drift"]
    drift["columns"]["island"] = {
        "column_type": "cat",
        "status": "all_missing",
        "method": None,
        "score": None,
        "threshold": None,
        "drifted": False,
        "missing_in": "current",
    }
    drift["excluded_columns"] = {"comment": "text: more than half of its values are distinct"}
    drift["target_drift"] = {**drift["columns"]["species"], "column": "species", "counted_in_share": False}
    section = parse_dom(render_report_html(build_report(run, now=NOW, links=LINKS))).find("section", id="drift")

    row = next(r for r in section.find_all("tr") if r.find_all("td", cls="column") and r.find("td").text() == "island")
    assert row.attrs["class"] == "untested" and row.find("td", cls="verdict").text() == (
        "not tested: no value in the batch"
    )
    untested = section.find("ul", cls="untested-columns")
    assert untested.find("li", cls="all-missing").text() == "island: no value in the batch"
    assert untested.find("li", cls="excluded").text() == "comment: text: more than half of its values are distinct"
    target = section.find("p", id="target-drift").text()
    assert "species" in target and "stable" in target and "does not count toward the drifted share" in target

    drift["target_drift"]["counted_in_share"] = True
    drift["target_drift"]["drifted"] = True
    section = parse_dom(render_report_html(build_report(run, now=NOW, links=LINKS))).find("section", id="drift")
    assert "drifted" in section.find("p", id="target-drift").text()
    assert "it counts toward the drifted share" in section.find("p", id="target-drift").text()


def test_a_drift_result_without_the_new_fields_renders_as_before():
    old = state()
    for key in ("target_drift", "excluded_columns"):
        old["drift"].pop(key, None)  # a run report stored before these fields existed
    section = parse_dom(render_report_html(build_report(old, now=NOW, links=LINKS))).find("section", id="drift")
    assert section.find_all(id="target-drift") == [] and section.find_all("ul", cls="untested-columns") == []
