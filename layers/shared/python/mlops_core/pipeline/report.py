"""generate_report: the run's JSON and HTML reports under reports/<run_id>/, on every path."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

from mlops_core import layout, settings
from mlops_core.contracts import ReportOutput
from mlops_core.data import ObjectExistsError, put_new
from mlops_core.pipeline import clients
from mlops_core.report import build_report, render_report_html, report_links


def run(state: dict[str, Any]) -> ReportOutput:
    s3 = clients.s3()
    bucket = settings.require(settings.REPORTS_BUCKET)
    run_id = state["run_id"]
    json_key, html_key = layout.report_json_key(run_id), layout.report_html_key(run_id)
    base_url = settings.get(settings.REPORTS_WEBSITE_URL)

    existing = _existing_report(s3, bucket, json_key)
    if existing is None:
        drift = state.get("drift") or {}
        drift_url = f"{base_url.rstrip('/')}/{drift['report_key']}" if base_url and drift.get("report_key") else None
        links = report_links(
            state,
            reports_base_url=base_url,
            mlflow_ui_url=settings.get(settings.MLFLOW_UI_URL),
            drift_report_url=drift_url,
        )
        report = build_report(state, now=datetime.now(UTC), links=links)
        # HTML first, JSON last: a report.json means the run's report is complete. Nothing is overwritten;
        # a retry after a partial write keeps the page already there.
        with contextlib.suppress(ObjectExistsError):
            put_new(s3, bucket, html_key, render_report_html(report).encode(), "text/html; charset=utf-8")
        body = json.dumps(report, indent=2, sort_keys=False).encode()
        try:
            put_new(s3, bucket, json_key, body, "application/json")
        except ObjectExistsError:
            report = _existing_report(s3, bucket, json_key) or report
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


def _existing_report(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None
