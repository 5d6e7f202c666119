"""The reports index: rows from report.json objects, the previous run, ordering, bounds, and the page."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mlops_core.exceptions import InvalidRequestError
from mlops_core.report import ReportLinks, build_report
from mlops_core.report.chart import TimePoint, render_time_svg
from mlops_core.report.index import (
    build_index,
    index_entry,
    previous_entry,
    production_figures,
    render_index_html,
)

from tests.support.chromium import parse_dom

EVENTS = Path(__file__).resolve().parents[1] / "events"
NOW = datetime(2026, 11, 28, 6, 0, 5, tzinfo=UTC)
HOSTILE = '<script>alert(1)</script>" onmouseover="x'


def report(name: str, run_id: str, at: datetime) -> dict:
    state = json.loads((EVENTS / f"report_state_{name}.json").read_text())
    state["run_id"] = run_id
    return build_report(state, now=at, links=ReportLinks(json="report.json", html="report.html"))


def day(n: int) -> datetime:
    return datetime(2026, 11, n, 6, 0, 0, tzinfo=UTC)


def test_a_promoting_runs_production_f1_is_the_promoted_candidates_held_out_f1():
    promoted = report("promoted", "run-b", day(2))
    entry = index_entry(promoted, reports_base_url=None)
    staging = promoted["evaluation"]["staging_metrics"]["f1_macro"]
    assert entry["promoted"] is True and entry["promoted_version"] == promoted["promotion"]["new_version"]
    assert (entry["production_f1"], entry["production_version"]) == (staging, promoted["promotion"]["new_version"])
    assert entry["drift_share"] == promoted["drift"]["share_of_drifted_columns"]
    assert entry["drift_threshold"] == 0.5 and entry["dataset"] == "iris" and entry["status"] == "promoted"
    assert (entry["html_url"], entry["json_url"]) == ("run-b/report.html", "run-b/report.json")
    assert entry["timestamp"] == "2026-11-02T06:00:00Z"


def test_a_blocked_run_keeps_productions_own_f1_and_a_run_without_evaluation_has_none():
    blocked = report("promoted", "run-c", day(3))
    blocked["status"], blocked["promotion"]["promoted"] = "blocked", False
    blocked["evaluation"]["production_version"] = "3"
    blocked["evaluation"]["production_metrics"] = {"f1_macro": 0.81}
    assert production_figures(blocked) == (0.81, "3")
    assert production_figures(report("no_drift", "run-a", day(1))) == (None, None)
    # A waiting candidate promoted by a later run that did not evaluate it: the F1 is not this run's to draw.
    later = report("promoted", "run-d", day(4))
    later["evaluation"]["staging_version"] = "9"
    assert production_figures(later) == (None, later["promotion"]["new_version"])


def test_links_are_absolute_under_the_website_and_relative_between_run_pages():
    promoted = report("promoted", "run-b", day(2))
    assert index_entry(promoted, reports_base_url="http://r.test/")["html_url"] == (
        "http://r.test/reports/run-b/report.html"
    )
    assert index_entry(promoted, reports_base_url=None, from_index=False)["html_url"] == "../run-b/report.html"


@pytest.mark.parametrize(
    "change",
    [
        {"run_id": "../../etc"},
        {"run_id": HOSTILE},
        {"run_id": 7},
        {"timestamp": "yesterday"},
        {"timestamp": "2026-11-02T06:00:00"},  # naive: no zone, no order against the others
        {"timestamp": None},
    ],
)
def test_an_object_that_is_not_a_usable_report_gives_no_row(change):
    assert index_entry({**report("no_drift", "run-a", day(1)), **change}, reports_base_url=None) is None
    assert index_entry(["not", "a", "report"], reports_base_url=None) is None


def test_hostile_figures_become_null_not_markup_or_nan():
    hostile = report("promoted", "run-b", day(2))
    hostile["drift"]["share_of_drifted_columns"] = float("nan")
    hostile["evaluation"]["staging_metrics"]["f1_macro"] = "0.9"
    hostile["dataset"]["name"] = HOSTILE
    hostile["promotion"] = ["not", "a", "mapping"]
    entry = index_entry(hostile, reports_base_url=None)
    assert entry["drift_share"] is None and entry["production_f1"] is None and entry["promoted_version"] is None
    assert entry["dataset"] == HOSTILE  # kept as text: the page escapes it
    page = render_index_html(build_index([entry], now=NOW, found=1))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert parse_dom(page).find_all("script") == []


def test_previous_entry_is_the_newest_other_run_before_the_time():
    entries = [index_entry(report("no_drift", f"run-{n}", day(n)), reports_base_url=None) for n in (1, 3, 2, 5)]
    assert previous_entry(entries, run_id="run-9", before=day(4))["run_id"] == "run-3"
    assert previous_entry(entries, run_id="run-5", before=day(6))["run_id"] == "run-3"  # never itself
    assert previous_entry(entries, run_id="run-1", before=day(1)) is None


def test_the_index_lists_newest_first_and_says_what_it_left_out():
    entries = [index_entry(report("no_drift", f"run-{n}", day(n)), reports_base_url=None) for n in (2, 7, 4)]
    index = build_index(entries, now=NOW, found=9, unreadable=1, limit=3)
    assert [r["run_id"] for r in index["runs"]] == ["run-7", "run-4", "run-2"]
    assert (index["runs_found"], index["runs_shown"], index["left_out"], index["unreadable"]) == (9, 3, 6, 1)
    assert index["generated_at"] == "2026-11-28T06:00:05Z"
    notes = parse_dom(render_index_html(index)).find("section", id="notes").text()
    assert "6 older runs are left out" in notes and "newest 3" in notes and "1 report.json" in notes
    with pytest.raises(ValueError, match="timezone-aware"):
        build_index(entries, now=datetime(2026, 1, 1), found=3)


def test_the_page_has_both_charts_with_one_point_per_measured_run_and_the_promotions_marked():
    runs = [
        report("no_drift", "run-1", day(1)),
        report("promoted", "run-2", day(2)),
        report("failed", "run-3", day(3)),
    ]
    blocked = report("promoted", "run-4", day(4))
    blocked["status"], blocked["promotion"]["promoted"] = "blocked", False
    blocked["evaluation"]["production_metrics"] = {"f1_macro": 0.7}
    blocked["evaluation"]["production_version"] = "4"
    runs.append(blocked)
    index = build_index([index_entry(r, reports_base_url=None) for r in runs], now=NOW, found=4)
    dom = parse_dom(render_index_html(index))

    drift = dom.find("svg", cls="drift-history-chart")
    with_drift = [r for r in index["runs"] if r["drift_share"] is not None]
    assert len(drift.find_all("circle", cls="point")) == len(with_drift) >= 3
    assert len(drift.find_all("line", cls="threshold")) == 1 and drift.find_all("polyline", cls="line")
    f1 = dom.find("svg", cls="f1-history-chart")
    assert len(f1.find_all("circle", cls="point")) == 2  # the promotion and the blocked run's Production
    assert [c.find("title").text() for c in f1.find_all("circle", cls="marked")] == [
        f"run-2 (promoted): {runs[1]['evaluation']['staging_metrics']['f1_macro']:.3f}"
    ]
    rows = dom.find("table", cls="runs-table").find("tbody").find_all("tr")
    assert [r.find("a", cls="link-run").text() for r in rows] == ["run-4", "run-3", "run-2", "run-1"]
    assert [r.find("a", cls="link-run").attrs["href"] for r in rows][2] == "run-2/report.html"
    assert [r.attrs["class"] for r in rows] == ["run", "run", "promoted", "run"]
    assert "v4 promoted" in rows[2].find("td", cls="promotion").text()
    assert dom.find("a", cls="link-index-json").attrs["href"] == "index.json"
    assert dom.find_all("script") == []


def test_an_empty_index_renders_without_charts():
    dom = parse_dom(render_index_html(build_index([], now=NOW, found=0)))
    assert dom.find_all("svg") == []
    assert "No run reports yet" in dom.find("section", id="runs").text()
    with pytest.raises(InvalidRequestError, match="list of runs"):
        render_index_html({"runs": "x"})


def test_an_unsafe_link_in_an_index_row_is_not_linked():
    entry = index_entry(report("no_drift", "run-1", day(1)), reports_base_url=None)
    entry["html_url"] = "javascript:alert(1)"
    row = parse_dom(render_index_html(build_index([entry], now=NOW, found=1))).find("table", cls="runs-table")
    assert row.find_all("a", cls="link-run") == [] and "run-1" in row.text()


def test_time_chart_spreads_equal_times_and_refuses_bad_points():
    same = [TimePoint(day(1), 0.2, "a"), TimePoint(day(1), 0.4, "b")]
    svg = parse_dom(render_time_svg(same, css_class="c", title="t", y_label="y"))
    xs = [float(c.attrs["cx"]) for c in svg.find_all("circle", cls="point")]
    assert len(set(xs)) == 2
    with pytest.raises(ValueError, match="at least one point"):
        render_time_svg([], css_class="c", title="t", y_label="y")
    with pytest.raises(ValueError, match="outside"):
        render_time_svg([TimePoint(day(1), 1.5, "a")], css_class="c", title="t", y_label="y")
    with pytest.raises(ValueError, match="timezone-aware"):
        render_time_svg([TimePoint(datetime(2026, 1, 1), 0.5, "a")], css_class="c", title="t", y_label="y")
    with pytest.raises(ValueError, match="threshold"):
        render_time_svg([TimePoint(day(1), 0.5, "a")], css_class="c", title="t", y_label="y", threshold=2.0)
