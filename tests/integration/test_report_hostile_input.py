"""Both report pages built from a dataset whose column names, category values and labels are attacks, opened in
headless Chromium under the DevTools protocol: no dialog opens, no injected element appears, nothing breaks
the Content-Security-Policy, and the pages (Evidently's charts included) still render."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlops_core.report import ReportLinks, build_report, render_report_html

from tests.support.chromium import Element, parse_dom, require_chromium
from tests.support.devtools import PageVisit, visit

EVENTS = Path(__file__).resolve().parents[1] / "events"
NOW = datetime(2026, 11, 26, 6, 3, 7, tzinfo=UTC)
SCRIPT, SVG, IMG = (
    "</script><script>alert(1)</script>",
    "<svg onload=alert(1)>",
    "\"'><img src=x onerror=alert(1)>",
)
HOSTILE = [SCRIPT, SVG, IMG]
TOGGLES = "[...document.querySelectorAll('button[aria-label=\"Detail panel visibility toggle\"]')]"


@pytest.fixture(scope="module", autouse=True)
def chromium() -> Path:
    return require_chromium()


def hostile_frames(rows: int = 240, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two numeric columns, a categorical one and the label, every name and category an attack; the current
    batch is shifted so Evidently draws drifted columns too."""
    rng = np.random.default_rng(seed)

    def frame(shift: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                SCRIPT: rng.normal(shift, 1.0, rows),
                SVG: rng.normal(0.0, 1.0, rows),
                IMG: rng.choice([*HOSTILE, "plain"], rows),
                "label": rng.choice(HOSTILE, rows),
            }
        )

    return frame(0.0), frame(1.0)


def injected(dom: Element) -> list[Element]:
    """Elements an attack would have made: images, event-handler attributes, scripts beyond the allowed ones."""
    return [e for e in dom.iter() if e.tag == "img" or any(name.startswith("on") for name in e.attrs)]


def csp_of(dom: Element) -> str:
    metas = [m for m in dom.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert len(metas) == 1
    return metas[0].attrs["content"] or ""


def assert_strict(policy: str) -> None:
    directives = dict(part.strip().partition(" ")[::2] for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["base-uri"] == "'none'" and directives["form-action"] == "'none'"
    assert "unsafe-inline" not in directives.get("script-src", "") and "unsafe-eval" not in policy
    assert "connect-src" not in directives  # default-src 'none' closes it


def assert_harmless(page: PageVisit) -> Element:
    assert page.settled, page.exceptions
    assert page.dialogs == []
    assert page.csp_violations == []
    dom = parse_dom(page.dom)
    assert injected(dom) == []
    return dom


# the Evidently drift report
@pytest.fixture(scope="module")
def drift_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlops_core.drift import render_drift_report_html

    reference, current = hostile_frames()
    report = render_drift_report_html(reference, current, target="label", categorical=[IMG])
    page = tmp_path_factory.mktemp("drift") / "report.html"
    page.write_text(report.html, encoding="utf-8")
    return page


def test_evidently_report_of_hostile_names_runs_nothing_and_draws_its_charts(drift_page):
    # The summary table first, then every column's detail panel opened: the Plotly charts are drawn too.
    page = visit(
        drift_page,
        until=f"{TOGGLES}.length === 4 && document.querySelectorAll('canvas').length === 8",
        steps=[(f"{TOGGLES}.forEach(b => b.click())", "document.querySelectorAll('.js-plotly-plot').length === 4")],
    )

    dom = assert_harmless(page)
    assert len(dom.find_all("script")) == 4  # Evidently's own: data, global, library, draw call
    assert len(dom.find_all(cls="js-plotly-plot")) == 4 and dom.find_all("canvas")
    # The attacks are shown as the names and categories they are: table cells and chart labels.
    cells = {td.text() for td in dom.find_all("td")}
    assert {SCRIPT, SVG, IMG, "label"} <= cells
    labels = {t.text() for t in dom.find_all("text")}
    assert set(HOSTILE) <= labels
    assert_strict(csp_of(dom))


def test_evidently_page_allows_exactly_its_own_scripts_by_hash(drift_page):
    import base64
    import hashlib

    markup = drift_page.read_text(encoding="utf-8")
    scripts = re.findall(r"<script>(.*?)</script>", markup, re.DOTALL)
    assert len(scripts) == len(re.findall("</script", markup)) == 4
    policy = csp_of(parse_dom(markup[: markup.index("</head>")]))
    allowed = set(re.search(r"script-src ([^;]*)", policy).group(1).split())
    digests = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts}
    assert allowed == digests
    assert markup.index("Content-Security-Policy") < markup.index("<script>")
    # The attacks survive as data: JSON escapes that the page's script reads back as the same strings.
    data = scripts[0]
    assert "<" not in data and ">" not in data and "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in data


def test_unescaped_evidently_page_is_what_the_check_catches(tmp_path):
    """Evidently's page as it comes out: the same hostile data fires the dialogs and injects elements."""
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset
    from mlops_core.drift import evidently_data_definition

    reference, current = hostile_frames()
    definition = evidently_data_definition(reference, target="label", categorical=[IMG])
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    raw = tmp_path / "raw.html"
    raw.write_text(snapshot.get_html_str(as_iframe=False), encoding="utf-8")

    page = visit(raw, until="document.readyState === 'complete'")

    assert page.dialogs and {d["type"] for d in page.dialogs} == {"alert"}
    assert injected(parse_dom(page.dom))


def test_the_policy_blocks_an_inline_script_that_slipped_through(tmp_path):
    from mlops_core.report.csp import meta_tag, page_policy

    own = "document.title = 'drawn'"
    page = tmp_path / "page.html"
    page.write_text(
        f"<!DOCTYPE html><html><head>{meta_tag(page_policy(scripts=[own]))}</head><body>"
        f"<script>{own}</script><script>alert(1)</script><img src=x onerror=alert(2)>"
        "<form action=https://example.com><button>go</button></form></body></html>"
    )

    result = visit(page, until="document.readyState === 'complete'")

    assert result.dialogs == []
    assert parse_dom(result.dom).find("title").text() == "drawn"
    blocked = {v["directive"] for v in result.csp_violations}
    assert {"script-src-elem", "script-src-attr"} <= blocked


# the run report
def hostile_run_state(name: str) -> dict:
    state = json.loads((EVENTS / f"report_state_{name}.json").read_text())
    state["input"]["dataset"] = SVG
    if "drift" in state:
        template = state["drift"]["columns"].pop("sepal_length")
        for column in HOSTILE:
            state["drift"]["columns"][column] = dict(template, method=IMG)
        state["drift"]["batch_key"] = f"datasets/{SCRIPT}/batch.csv"
    if "training" in state:
        state["training"]["algorithm"] = SCRIPT
        state["training"]["model_name"] = IMG
    if "ab_test" in state:
        state["ab_test"]["reason"] = SVG
    if "error" in state:
        state["error"] = {
            "Error": SCRIPT,
            "Cause": json.dumps({"errorType": IMG, "errorMessage": f"label {SVG} unknown", "stackTrace": HOSTILE}),
        }
    return state


@pytest.mark.parametrize("name", ["promoted", "failed"])
def test_run_report_of_hostile_names_and_labels_runs_nothing(tmp_path, name):
    links = ReportLinks(json="report.json", html="report.html", drift_report=f"https://example.com/{SVG}")
    report = build_report(hostile_run_state(name), now=NOW, links=links)
    page = tmp_path / "report.html"
    page.write_text(render_report_html(report), encoding="utf-8")

    dom = assert_harmless(visit(page, until="document.readyState === 'complete'"))

    assert dom.find_all("script") == []
    assert len(dom.find_all("svg")) == len(dom.find_all("svg", cls="bootstrap-chart")) == (name == "promoted")
    assert [li.text() for li in dom.find("ul", cls="summary").find_all("li")] == report["summary"]
    text = dom.find("main").text()
    for attack in HOSTILE:
        assert " ".join(attack.split()) in text
    assert_strict(csp_of(dom))
