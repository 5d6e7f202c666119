"""generate_report: the run's JSON and HTML reports under reports/<run_id>/, on every path."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

from mlops_core import layout
from mlops_core.contracts import ReportOutput
from mlops_core.data import ObjectExistsError
from mlops_core.exceptions import NotFoundError
from mlops_core.report import build_report, render_report_html, report_links

if TYPE_CHECKING:
    from mlops_core.pipeline.deps import Deps
    from mlops_core.ports import ObjectStore


def run(state: dict[str, Any], deps: Deps) -> ReportOutput:
    store = deps.reports
    run_id = state["run_id"]
    json_key, html_key = layout.report_json_key(run_id), layout.report_html_key(run_id)
    base_url = deps.settings.reports_website_url

    existing = _existing_report(store, json_key)
    if existing is None:
        drift = state.get("drift") or {}
        drift_url = f"{base_url.rstrip('/')}/{drift['report_key']}" if base_url and drift.get("report_key") else None
        links = report_links(
            state,
            reports_base_url=base_url,
            mlflow_ui_url=deps.settings.mlflow_ui_url,
            drift_report_url=drift_url,
        )
        report = build_report(state, now=deps.clock.now(), links=links)
        # HTML first, JSON last: a report.json means the run's report is complete. Nothing is overwritten;
        # a retry after a partial write keeps the page already there.
        with contextlib.suppress(ObjectExistsError):
            store.put_new(html_key, render_report_html(report).encode(), "text/html; charset=utf-8")
        body = json.dumps(report, indent=2, sort_keys=False).encode()
        try:
            store.put_new(json_key, body, "application/json")
        except ObjectExistsError:
            # A concurrent attempt finished first: its report is the run's report.
            report = _existing_report(store, json_key) or report
    else:
        report = existing
    links = report.get("links") or {}
    return ReportOutput(
        report_id=run_id,
        status=report["status"],
        json_key=json_key,
        html_key=html_key,
        json_url=links.get("json") or json_key,
        html_url=links.get("html") or html_key,
    )


def _existing_report(store: ObjectStore, key: str) -> dict[str, Any] | None:
    try:
        return json.loads(store.get(key))
    except NotFoundError:
        return None
