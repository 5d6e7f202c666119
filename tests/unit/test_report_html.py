from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mlops_core.exceptions import InvalidRequestError
from mlops_core.report import ReportLinks, build_report, render_bootstrap_svg, render_report_html, safe_url
from mlops_core.report.chart import nice_ticks

from tests.support.chromium import Element, parse_dom

EVENTS = Path(__file__).resolve().parents[1] / "events"
NOW = datetime(2026, 11, 26, 6, 3, 7, tzinfo=UTC)
LINKS = ReportLinks(
    json="report.json",
    html="report.html",
    drift_report="http://data.example/drift/run-20261126T060000Z/report.html",
    mlflow_run="http://127.0.0.1:5000/#/runs/5f0c1a7e",
    mlflow_model="http://127.0.0.1:5000/#/models/iris-classifier/versions/4",
)
HOSTILE = [
    "<script>alert(1)</script>",
    '" onmouseover="alert(1)',
    "' onmouseover='alert(1)",
    "<img src=x onerror=alert(1)>",
    "</td></tr></table><h1>owned</h1>",
]


def state(name: str) -> dict:
    return json.loads((EVENTS / f"report_state_{name}.json").read_text())


def page(name_or_state: str | dict, links: ReportLinks = LINKS) -> tuple[dict, str, Element]:
    run_state = state(name_or_state) if isinstance(name_or_state, str) else name_or_state
    report = build_report(run_state, now=NOW, links=links)
    markup = render_report_html(report)
    return report, markup, parse_dom(markup)


def section_text(dom: Element, section_id: str) -> str:
    return dom.find("section", id=section_id).text()


def hostile_state() -> dict:
    run_state = state("promoted")
    columns = run_state["drift"]["columns"]
    template = columns["sepal_length"]
    for index, name in enumerate(HOSTILE):
        columns[name] = {**template, "drifted": index % 2 == 0}
    run_state["training"]["algorithm"] = HOSTILE[0]
    run_state["ab_test"]["requests"][HOSTILE[1]] = 3
    run_state["ab_test"]["api_url"] = HOSTILE[3]
    run_state["promotion"]["model_name"] = HOSTILE[4]
    return run_state


def test_promoted_page_shows_every_section():
    report, _, dom = page("promoted")

    badge = dom.find(id="status")
    assert badge.text() == "Promoted"
    assert "status-promoted" in badge.attrs["class"]
    assert dom.find("title").text() == "Pipeline report run-20261126T060000Z"
    assert [li.text() for li in dom.find("ul", cls="summary").find_all("li")] == report["summary"]

    rows = dom.find("table", cls="drift-table").find("tbody").find_all("tr")
    assert [r.find("td", cls="column").text() for r in rows] == list(report["drift"]["columns"])
    drifted = [r.find("td", cls="column").text() for r in rows if r.attrs["class"] == "drifted"]
    assert drifted == ["sepal_length", "petal_length", "petal_width"]
    # A p-value of 1.2e-07 must not read as zero.
    assert [td.text() for td in rows[2].find_all("td")] == [
        "petal_length", "num", "K-S p_value", "1.2e-07", "0.05", "drifted",
    ]  # fmt: skip

    metrics = dom.find("table", cls="metrics-table")
    assert [th.text() for th in metrics.find("thead").find_all("th")] == [
        "Metric", "Production v3 (held-out)", "Staging v4 (held-out)", "Candidate v4 (cross-validated)",
        "Δ held-out",
    ]  # fmt: skip
    f1_row = next(r for r in metrics.find_all("tr") if r.find("th").text() == "F1 (macro)")
    assert [td.text() for td in f1_row.find_all("td")] == ["0.889", "0.978", "0.955", "+0.089"]

    chart = dom.find("svg", cls="bootstrap-chart")
    assert len(chart.find_all("rect", cls="ci-band")) == 1
    assert len(chart.find_all("line", cls="zero-line")) == 1
    assert len(chart.find_all("line", cls="observed")) == 1
    counts = report["offline_test"]["histogram"]["counts"]
    assert len(chart.find_all("rect", cls="bar")) == sum(1 for c in counts if c > 0)
    gate = section_text(dom, "statistical-test")
    assert "Verdict: significant_improvement, because exact sign flip p 0.003906 ≤ α_t 0.0125." in gate
    assert "α of the stream / α spent by this test0.05 / 0.0125" in gate
    assert "Minimum detectable effect0.0937" in gate and "H0: ΔF1 ≤ +0.0000" in gate
    classes = dom.find("table", cls="classes-table").find("tbody").find_all("tr")
    assert [r.find("th").text() for r in classes] == ["setosa", "versicolor", "virginica"]
    assert all(r.find_all("td")[-1].text() == "holds" for r in classes)
    confusion = dom.find_all("table", cls="confusion-table")
    assert [t.find("caption").text().split(":")[0] for t in confusion] == ["Production", "Candidate"]
    assert "Candidate alone right14" in section_text(dom, "ab-test")

    ab_rows = dom.find("table", cls="ab-table").find("tbody").find_all("tr")
    assert [[cell.text() for cell in r.children if isinstance(cell, Element)] for r in ab_rows] == [
        ["production", "29", "0", "0.901", "0.897"],
        ["staging", "31", "0", "0.950", "0.952"],
    ]
    assert "Promoted iris-classifier v4 to Production (previous: v3)" in section_text(dom, "promotion")
    hrefs = {a.attrs["class"]: a.attrs["href"] for a in dom.find("section", id="links").find_all("a")}
    assert hrefs == {
        "link-drift_report": LINKS.drift_report,
        "link-mlflow_run": LINKS.mlflow_run,
        "link-mlflow_model": LINKS.mlflow_model,
        "link-json": "report.json",
    }
    assert dom.find_all(id="error") == []


def test_no_drift_page_says_which_steps_did_not_run():
    _, _, dom = page("no_drift", ReportLinks(json="report.json"))

    assert dom.find(id="status").text() == "No drift"
    assert "no dataset drift" in section_text(dom, "drift")
    assert len(dom.find("table", cls="drift-table").find("tbody").find_all("tr")) == 5
    assert section_text(dom, "models").endswith("Training not run: no candidate model.")
    assert section_text(dom, "statistical-test").endswith("Not run: evaluation did not run.")
    assert section_text(dom, "ab-test").endswith("Online stage not run.")
    assert "Not run: no drift, so no candidate. Production untouched." in section_text(dom, "promotion")
    assert dom.find_all("svg") == []
    assert "MLflow run: not available" in section_text(dom, "links")


def test_failed_page_shows_the_error_box_and_no_step_results():
    report, _, dom = page("failed")

    assert dom.find(id="status").text() == "Failed"
    box = dom.find("section", id="error")
    assert box.find(cls="error-type").text() == "DataValidationError"
    assert box.find(cls="error-message").text() == report["error"]["message"]
    assert "raise DataValidationError" in box.find("details").text()
    assert "Production untouched." in box.text()
    assert section_text(dom, "drift").endswith("Drift check not run.")
    assert "Not run: the run failed." in section_text(dom, "promotion")


def test_blocked_page_shows_a_failed_gate():
    run_state = state("promoted")
    run_state["evaluation"]["decision"].update(verdict="not_significant", decided_by="p 0.2 > α_t 0.0125")
    run_state["promotion"].update(promoted=False, outcome="blocked", reason="not_significant", new_version=None)
    _, _, dom = page(run_state)
    assert dom.find(id="status").text() == "Blocked"
    assert "Verdict: not_significant, because p 0.2 > α_t 0.0125." in section_text(dom, "statistical-test")
    assert "Not promoted: Production untouched (stays v3)" in section_text(dom, "promotion")


def test_hostile_values_render_as_text_only():
    _, markup, dom = page(hostile_state())

    assert dom.find_all("script") == []
    assert dom.find_all("img") == []
    assert [h.text() for h in dom.find_all("h1")] == ["Pipeline report"]
    attributes = {name for element in dom.iter() for name in element.attrs}
    assert not any(name.startswith("on") for name in attributes)
    column_cells = [td.text() for td in dom.find("table", cls="drift-table").find_all("td", cls="column")]
    assert column_cells[-len(HOSTILE) :] == HOSTILE
    for value in HOSTILE:
        assert value not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert "&quot; onmouseover=&quot;alert(1)" in markup
    assert "&#x27; onmouseover=&#x27;alert(1)" in markup
    assert [th.text() for th in dom.find("table", cls="ab-table").find_all("th", cls="variant")][-1] == HOSTILE[1]


def test_hostile_error_message_and_run_id_free_fields_are_escaped():
    run_state = state("failed")
    cause = {"errorMessage": "<script>alert(1)</script>", "errorType": '"><svg onload=alert(1)>'}
    run_state["error"] = {"Error": "<b>x</b>", "Cause": json.dumps(cause)}
    run_state["execution_arn"] = "<iframe src=javascript:alert(1)>"
    _, markup, dom = page(run_state)

    assert dom.find_all("script") == dom.find_all("iframe") == dom.find_all("b") == []
    assert dom.find_all("svg") == []
    assert dom.find(cls="error-message").text() == cause["errorMessage"]
    assert dom.find(cls="error-type").text() == cause["errorType"]
    assert "Step Functions error: <b>x</b>" in dom.find(id="error").text()
    assert "<iframe" not in markup


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "//evil.example/x",
        "/\\evil.example",
        "http:///no-host",
        "",
        "   ",
        None,
        42,
    ],
)
def test_unsafe_urls_are_dropped(url):
    assert safe_url(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5000/#/runs/abc",
        "https://example.com/reports/x/report.json?a=1&b=2",
        "report.json",
        "../run-1/report.html",
        "/reports/run-1/report.html",
        "javascript&colon;alert(1)",  # no scheme: escaped to a harmless relative path
    ],
)
def test_safe_urls_are_kept(url):
    assert safe_url(url) == url


def test_links_are_escaped_or_dropped_in_the_page():
    quoted = 'https://x.example/a"onmouseover="alert(1)&b=<i>'
    links = ReportLinks(json=quoted, drift_report="javascript:alert(1)", mlflow_run="data:text/html,x")
    _, markup, dom = page("promoted", links)

    anchors = dom.find("section", id="links").find_all("a")
    assert [(a.attrs["class"], a.attrs["href"]) for a in anchors] == [("link-json", quoted)]
    assert set(anchors[0].attrs) == {"class", "href"}
    assert "javascript:" not in markup
    assert "data:text" not in markup
    text = section_text(dom, "links")
    assert "Evidently drift report: not available" in text
    assert "MLflow run: not available" in text


def test_page_is_self_contained():
    _, markup, dom = page("promoted")
    assert dom.find_all("script") == dom.find_all("link") == dom.find_all("img") == []
    assert not [e for e in dom.iter() if "src" in e.attrs]
    style = dom.find("style").text()
    assert "url(" not in style and "@import" not in style
    # The only external references are the report's own links and the SVG namespace.
    external = set(re.findall(r'"(https?://[^"]+)"', markup)) - {
        "http://www.w3.org/2000/svg",
        LINKS.drift_report,
        LINKS.mlflow_run,
        LINKS.mlflow_model,
    }
    assert external == set()
    csp = [m for m in dom.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in csp[0].attrs["content"]


def test_a_malformed_histogram_is_reported_not_drawn():
    run_state = state("promoted")
    run_state["evaluation"]["decision"]["histogram"] = {"edges": [0.0, 0.1], "counts": [1, 2]}
    _, _, dom = page(run_state)
    assert dom.find_all("svg") == []
    assert "Bootstrap chart unavailable: histogram needs at least one bin" in section_text(dom, "statistical-test")


def test_render_refuses_what_is_not_a_report():
    with pytest.raises(InvalidRequestError, match="mapping"):
        render_report_html(["not", "a", "report"])
    with pytest.raises(InvalidRequestError, match="lacks timestamp, status") as raised:
        render_report_html(state("promoted"))
    assert raised.value.field == "timestamp"


def chart_dom(**overrides) -> Element:
    arguments = {
        "edges": [0.02, 0.04, 0.06, 0.08, 0.10],
        "counts": [5, 40, 50, 5],
        "ci_low": 0.03,
        "ci_high": 0.09,
        "observed": 0.061,
    }
    arguments.update(overrides)
    edges, counts = arguments.pop("edges"), arguments.pop("counts")
    return parse_dom(render_bootstrap_svg(edges, counts, **arguments)).find("svg")


def test_chart_geometry_places_zero_band_and_observed_in_order():
    svg = chart_dom()
    band = svg.find("rect", cls="ci-band")
    band_left = float(band.attrs["x"])
    band_right = band_left + float(band.attrs["width"])
    zero = float(svg.find("line", cls="zero-line").attrs["x1"])
    observed = float(svg.find("line", cls="observed").attrs["x1"])
    assert zero < band_left < observed < band_right
    bars = svg.find_all("rect", cls="bar")
    heights = [float(b.attrs["height"]) for b in bars]
    assert heights.index(max(heights)) == 2
    assert heights[0] == pytest.approx(heights[2] * 5 / 50)
    assert [float(b.attrs["x"]) for b in bars] == sorted(float(b.attrs["x"]) for b in bars)
    assert "95% CI [0.030, 0.090]" in svg.find("g", cls="legend").text()


def test_chart_with_a_negative_interval_keeps_zero_on_the_right():
    svg = chart_dom(edges=[-0.1, -0.05, 0.0], counts=[3, 0], ci_low=-0.09, ci_high=-0.02, observed=-0.06)
    band = svg.find("rect", cls="ci-band")
    zero = float(svg.find("line", cls="zero-line").attrs["x1"])
    assert float(band.attrs["x"]) + float(band.attrs["width"]) < zero
    # Empty bins draw no bar.
    assert len(svg.find_all("rect", cls="bar")) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"edges": [0.0, 0.1], "counts": [1, 2]}, "len\\(edges\\) == len\\(counts\\) \\+ 1"),
        ({"edges": [], "counts": []}, "at least one bin"),
        ({"edges": [0.0, 0.1, 0.1], "counts": [1, 2]}, "strictly increasing"),
        ({"edges": [0.0, float("nan")], "counts": [1]}, "finite"),
        ({"edges": [0.0, 0.1], "counts": [-1]}, "non-negative"),
        ({"edges": "0.0,0.1", "counts": [1]}, "lists of numbers"),
        ({"ci_low": 0.09, "ci_high": 0.03}, "above ci_high"),
        ({"observed": float("inf")}, "observed must be a finite number"),
        ({"ci_low": None}, "ci_low must be a finite number"),
        ({"confidence": 1.5}, "confidence"),
    ],
)
def test_chart_refuses_malformed_figures(overrides, message):
    with pytest.raises(ValueError, match=message):
        chart_dom(**overrides)


@pytest.mark.parametrize(("lo", "hi"), [(-0.013, 0.094), (0.0, 1.0), (-5.0, 123.0), (0.0601, 0.0602)])
def test_nice_ticks_cover_the_range_with_round_steps(lo, hi):
    ticks = nice_ticks(lo, hi)
    assert 3 <= len(ticks) <= 13
    assert lo <= ticks[0] and ticks[-1] <= hi
    steps = {round(b - a, 12) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1
    mantissa = f"{steps.pop():e}".split("e")[0]
    assert float(mantissa) in (1.0, 2.0, 5.0)
    with pytest.raises(ValueError):
        nice_ticks(1.0, 1.0)
