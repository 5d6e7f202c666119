"""generate_report: the run's JSON and HTML reports under reports/<run_id>/, on every path, then the reports
index (reports/index.html and index.json) rebuilt from every run's report.json."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

from mlops_core import layout
from mlops_core.contracts import ReportOutput
from mlops_core.data import ObjectExistsError
from mlops_core.exceptions import NotFoundError
from mlops_core.report import build_report, render_report_html, report_links
from mlops_core.report.index import INDEX_LIMIT, build_index, index_entry, previous_entry, render_index_html
from mlops_core.report.steps import step_durations

if TYPE_CHECKING:
    from mlops_core.pipeline.deps import Deps
    from mlops_core.ports import ObjectStore

logger = logging.getLogger(__name__)


def run(state: dict[str, Any], deps: Deps) -> ReportOutput:
    store = deps.reports
    run_id = state["run_id"]
    json_key, html_key = layout.report_json_key(run_id), layout.report_html_key(run_id)
    base_url = deps.settings.reports_website_url
    others, found, unreadable = _earlier_reports(store, run_id)

    existing = _existing_report(store, json_key)
    if existing is None:
        now = deps.clock.now()
        drift = state.get("drift") or {}
        drift_url = f"{base_url.rstrip('/')}/{drift['report_key']}" if base_url and drift.get("report_key") else None
        links = report_links(
            state,
            reports_base_url=base_url,
            mlflow_ui_url=deps.settings.mlflow_ui_url,
            drift_report_url=drift_url,
        )
        earlier = [e for e in (index_entry(r, reports_base_url=base_url, from_index=False) for r in others) if e]
        report = build_report(
            state,
            now=now,
            links=links,
            previous_run=previous_entry(earlier, run_id=run_id, before=now),
            steps=_steps(deps, state.get("execution_arn")),
        )
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
    _write_index(deps, [*others, report], found=found + 1, unreadable=unreadable)
    links = report.get("links") or {}
    return ReportOutput(
        report_id=run_id,
        status=report["status"],
        json_key=json_key,
        html_key=html_key,
        json_url=links.get("json") or json_key,
        html_url=links.get("html") or html_key,
        index_key=layout.REPORT_INDEX_HTML_KEY,
    )


def _earlier_reports(store: ObjectStore, run_id: str) -> tuple[list[Any], int, int]:
    """(the newest INDEX_LIMIT - 1 other runs' reports, how many other reports exist, how many of those read
    could not be parsed). Newest by write time: nothing under reports/<run_id>/ is ever overwritten."""
    own = layout.report_json_key(run_id)
    keys = [
        (obj.last_modified, obj.key)
        for obj in store.list(layout.REPORTS_ROOT)
        if obj.key != own and obj.key.endswith("/report.json") and obj.key.count("/") == 2
    ]
    newest = sorted(keys, reverse=True)[: INDEX_LIMIT - 1]
    reports, unreadable = [], 0
    for _, key in newest:
        try:
            reports.append(json.loads(store.get(key)))
        except (NotFoundError, ValueError):
            unreadable += 1
    return reports, len(keys), unreadable


def _steps(deps: Deps, execution_arn: Any) -> list[dict[str, Any]] | None:
    if deps.history is None or not isinstance(execution_arn, str):
        return None
    try:
        return step_durations(deps.history.events(execution_arn))
    except Exception:  # durations are an aid: a report without them beats no report
        logger.warning("step durations unavailable for %s", execution_arn, exc_info=True)
        return None


def _write_index(deps: Deps, reports: list[Any], *, found: int, unreadable: int) -> None:
    base_url = deps.settings.reports_website_url
    entries = [e for e in (index_entry(r, reports_base_url=base_url) for r in reports) if e is not None]
    index = build_index(
        entries,
        now=deps.clock.now(),
        found=found,
        unreadable=unreadable + len(reports) - len(entries),
        limit=INDEX_LIMIT,
    )
    # JSON first: a page never points at an index.json older than itself.
    deps.reports.put(layout.REPORT_INDEX_JSON_KEY, json.dumps(index, indent=2).encode(), "application/json")
    deps.reports.put(layout.REPORT_INDEX_HTML_KEY, render_index_html(index).encode(), "text/html; charset=utf-8")


def _existing_report(store: ObjectStore, key: str) -> dict[str, Any] | None:
    try:
        return json.loads(store.get(key))
    except NotFoundError:
        return None
