"""The pipeline report: a JSON document built from the run state, and the HTML page people read."""

from __future__ import annotations

from mlops_core.report.build import (
    ReportLinks,
    Status,
    build_report,
    derive_status,
    parse_error,
    report_links,
)
from mlops_core.report.chart import render_bootstrap_svg
from mlops_core.report.html import render_report_html, safe_url
from mlops_core.report.redact import redact

__all__ = [
    "ReportLinks",
    "Status",
    "build_report",
    "derive_status",
    "parse_error",
    "redact",
    "render_bootstrap_svg",
    "render_report_html",
    "report_links",
    "safe_url",
]
