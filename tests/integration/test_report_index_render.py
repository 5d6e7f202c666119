"""reports/index.html as a browser sees it: generate_report on fakes writes it after three runs, a static
server serves the reports folder as the bucket's website does, and headless Chromium loads it offline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mlops_core import layout
from mlops_core.pipeline import report

from tests.fakes import fake_deps
from tests.support.chromium import parse_dom, render, require_chromium
from tests.support.static_server import serving

EVENTS = Path(__file__).resolve().parents[1] / "events"
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">"


@pytest.fixture
def website(tmp_path):
    """The reports bucket after three runs, written to disk and served over HTTP."""
    require_chromium()
    deps = fake_deps(settings={"reports_website_url": None})
    for day, (name, run_id) in enumerate([("no_drift", "run-a"), ("promoted", "run-b"), ("failed", "run-c")]):
        state = json.loads((EVENTS / f"report_state_{name}.json").read_text())
        state.update(run_id=run_id, input={**state["input"], "dataset": HOSTILE})
        if "drift" in state:
            state["drift"]["dataset"] = HOSTILE
        deps.clock.at = datetime(2026, 11, 1, 6, tzinfo=UTC) + timedelta(days=day)
        report.run(state, deps)
    for key, body in deps.reports.objects.items():
        path = tmp_path / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    with serving(tmp_path) as base:
        yield deps, base


def test_the_index_opens_with_both_charts_every_run_and_working_links(website, tmp_path):
    deps, base = website
    index = json.loads(deps.reports.objects[layout.REPORT_INDEX_JSON_KEY])
    # /reports/ serves index.html, as the bucket website's IndexDocument does.
    rendered = render(f"{base}/reports/", screenshot=tmp_path / "index.png", window_size=(1100, 1800))
    dom = parse_dom(rendered.dom)

    assert dom.find("title").text() == "Pipeline runs"
    drift = dom.find("svg", cls="drift-history-chart")
    with_drift = [r for r in index["runs"] if r["drift_share"] is not None]
    assert len(drift.find_all("circle", cls="point")) == len(with_drift) == 2  # the failed run has none
    assert len(drift.find_all("polyline", cls="line")) == 1 and len(drift.find_all("line", cls="threshold")) == 1
    f1 = dom.find("svg", cls="f1-history-chart")
    marked = f1.find_all("circle", cls="marked")
    assert len(f1.find_all("circle", cls="point")) == 1 and len(marked) == 1
    assert marked[0].find("title").text().startswith("run-b (promoted)")

    rows = dom.find("table", cls="runs-table").find("tbody").find_all("tr")
    assert [r.find("a", cls="link-run").text() for r in rows] == [r["run_id"] for r in index["runs"]]
    assert [r.find("a", cls="link-run").text() for r in rows] == ["run-c", "run-b", "run-a"]
    # The hostile dataset name is text in a cell: no element was built from it and nothing ran.
    assert HOSTILE in rows[0].text()
    assert dom.find_all("img") == [] and dom.find_all("script") == []
    assert not [e for e in dom.iter() if any(name.startswith("on") for name in e.attrs)]

    # Each run's link opens that run's report, which links back to the run before it and to the index.
    href = rows[0].find("a", cls="link-run").attrs["href"]
    run_page = parse_dom(render(f"{base}/reports/{href}").dom)
    assert run_page.find(id="status").text() == "Failed"
    previous = run_page.find("a", cls="link-previous")
    assert previous.attrs["href"] == "../run-b/report.html"
    previous_page = parse_dom(render(f"{base}/reports/run-c/{previous.attrs['href']}").dom)
    assert previous_page.find(id="status").text() == "Promoted"
    assert run_page.find("a", cls="link-index").attrs["href"] == "../index.html"
    assert parse_dom(render(f"{base}/reports/{rows[0].find('a', cls='link-run-json').attrs['href']}").dom).text()
