"""The report pages as a browser sees them: Debian's headless Chromium loads each page offline."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from mlops_core.report import ReportLinks, build_report, render_report_html
from PIL import Image

import tests.support.chromium as support
from tests.support.chromium import ChromiumError, Element, parse_dom, render, require_chromium, to_url
from tests.support.static_server import serving

EVENTS = Path(__file__).resolve().parents[1] / "events"
NOW = datetime(2026, 11, 26, 6, 3, 7, tzinfo=UTC)
WINDOW = (1100, 2300)
# Each would retitle the page if the browser ever parsed it as markup.
HOSTILE = [
    "<script>document.title='pwned'</script>",
    "<img src=x onerror=\"document.title='pwned'\">",
    "\" onmouseover=\"document.title='pwned'",
]


@pytest.fixture(scope="module", autouse=True)
def chromium() -> Path:
    return require_chromium()


def write_report(name: str, folder: Path, *, hostile: bool = False) -> tuple[dict, Path]:
    state = json.loads((EVENTS / f"report_state_{name}.json").read_text())
    if hostile:
        template = state["drift"]["columns"]["sepal_length"]
        for column in HOSTILE:
            state["drift"]["columns"][column] = dict(template)
    links = ReportLinks(
        json="report.json",
        html="report.html",
        drift_report="http://127.0.0.1:9/drift/report.html",
        mlflow_run="http://127.0.0.1:9/#/runs/5f0c1a7e",
    )
    report = build_report(state, now=NOW, links=links)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report, allow_nan=False))
    page = folder / "report.html"
    page.write_text(render_report_html(report), encoding="utf-8")
    return report, page


def colour_share(png: Path, rgb: tuple[int, int, int]) -> float:
    with Image.open(png) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    return float((np.abs(pixels - np.array(rgb)) <= 6).all(axis=-1).mean())


def test_promoted_report_renders_with_summary_table_chart_and_escaped_columns(tmp_path):
    report, page = write_report("promoted", tmp_path / "promoted", hostile=True)

    shot = tmp_path / "promoted.png"
    rendered = render(page, screenshot=shot, window_size=WINDOW)
    dom = parse_dom(rendered.dom)

    assert dom.find("title").text() == "Pipeline report run-20261126T060000Z"
    assert dom.find(id="status").text() == "Promoted"
    assert [li.text() for li in dom.find("ul", cls="summary").find_all("li")] == report["summary"]
    rows = dom.find("table", cls="drift-table").find("tbody").find_all("tr")
    assert [r.find("td", cls="column").text() for r in rows] == list(report["drift"]["columns"])
    assert [r.find("td", cls="column").text() for r in rows if r.attrs["class"] == "drifted"] == [
        "sepal_length",
        "petal_length",
        "petal_width",
        *HOSTILE,
    ]
    svg = dom.find("svg", cls="bootstrap-chart")
    assert len(svg.find_all("rect", cls="ci-band")) == 1
    assert svg.find_all("line", cls="zero-line") and svg.find_all("line", cls="observed")
    assert len(svg.find_all("rect", cls="bar")) > 10
    # The hostile names are text in cells: the browser built no element and ran nothing from them.
    assert dom.find_all("script") == [] and dom.find_all("img") == []
    assert not [e for e in dom.iter() if any(name.startswith("on") for name in e.attrs)]

    with Image.open(shot) as image:
        assert image.size == WINDOW
    # The badge green and the CI band's tint are painted: the page rendered, not a blank window.
    assert colour_share(shot, (0x1A, 0x7F, 0x37)) > 0.0002
    assert colour_share(shot, (0xFA, 0xE7, 0xC4)) > 0.002


@pytest.mark.parametrize(
    ("name", "badge", "present", "absent"),
    [
        ("no_drift", "No drift", ["drift-table"], ["bootstrap-chart", "error-box"]),
        ("failed", "Failed", ["error-box"], ["drift-table", "bootstrap-chart"]),
    ],
)
def test_no_drift_and_failed_reports_render(tmp_path, name, badge, present, absent):
    report, page = write_report(name, tmp_path / name)
    dom = parse_dom(render(page, screenshot=tmp_path / f"{name}.png", window_size=WINDOW).dom)

    assert dom.find(id="status").text() == badge
    assert [li.text() for li in dom.find("ul", cls="summary").find_all("li")] == report["summary"]
    for cls in present:
        assert dom.find_all(cls=cls), cls
    for cls in absent:
        assert not dom.find_all(cls=cls), cls
    for section in ("drift", "models", "statistical-test", "ab-test", "promotion", "links"):
        assert dom.find("section", id=section)
    assert "Production untouched" in dom.find("ul", cls="summary").text()


@pytest.fixture
def served(tmp_path):
    """A static file server on a free port, as the reports website is, stopped after the test."""
    with serving(tmp_path) as base:
        yield tmp_path, base


def test_helper_renders_a_report_served_over_http(served):
    root, base = served
    report, _ = write_report("promoted", root / "reports" / "run-20261126T060000Z")

    rendered = render(f"{base}/reports/run-20261126T060000Z/report.html")

    assert rendered.png is None
    dom: Element = parse_dom(rendered.dom)
    assert [li.text() for li in dom.find("ul", cls="summary").find_all("li")] == report["summary"]
    assert dom.find("a", cls="link-json").attrs["href"] == "report.json"


def test_helper_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no page to render"):
        to_url(tmp_path / "missing.html")
    assert to_url("https://example.com/x") == "https://example.com/x"
    _, page = write_report("no_drift", tmp_path)
    with pytest.raises(ChromiumError, match="did not finish within"):
        render(page, timeout=0.05)


def test_missing_chromium_skips_locally_and_fails_in_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(support, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        support.require_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        support.require_chromium()
