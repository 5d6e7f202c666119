"""The reports index: every run on one page, newest first, with drift share and Production's held-out F1 over
time and the promotions marked. Built from the runs' report.json objects alone, so it can be rebuilt at any
time; generate_report does the listing and reading, this module only shapes and renders.

Report objects are read as untrusted input: a run id that is not a safe id drops the run, a figure that is not
a finite number shows as n/a, and every text goes through the run report's escaping and URL checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from mlops_core.exceptions import InvalidRequestError
from mlops_core.layout import is_safe_id
from mlops_core.report.build import format_number, format_share, run_report_urls, version_label
from mlops_core.report.chart import TimePoint, is_finite, render_time_svg
from mlops_core.report.csp import REPORT_POLICY, meta_tag
from mlops_core.report.html import PAGE_CSS, STATUS_LABELS, escape, safe_url

# Reports read to build the index, newest first: enough for more than a year of daily runs, and a bound on
# what one generate_report reads.
INDEX_LIMIT = 500

_INDEX_CSS = """
.status-pending { background: #9a6700; } .status-unknown { background: #57606a; }
.badge { font-size: 12px; padding: 1px 9px; }
tr.promoted td { background: #dafbe1; }
"""


def index_entry(report: Mapping[str, Any], *, reports_base_url: str | None, from_index: bool = True) -> dict | None:
    """One run's row from its report.json; None when it is not a usable report (no safe run id or no
    timezone-aware timestamp). Links are relative to the index page, or to another run's report page when
    `from_index` is False, unless the reports website's URL is known."""
    if not isinstance(report, Mapping):
        return None
    run_id, at = report.get("run_id"), _timestamp(report.get("timestamp"))
    if not isinstance(run_id, str) or not is_safe_id(run_id) or at is None:
        return None
    json_url, html_url = run_report_urls(run_id, reports_base_url, from_index=from_index)
    drift = _mapping(report.get("drift"))
    production_f1, production_version = production_figures(report)
    promotion = _mapping(report.get("promotion"))
    promoted = report.get("status") == "promoted"
    return {
        "run_id": run_id,
        "timestamp": at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "status": str(report.get("status")),
        "dataset": _text(_mapping(report.get("dataset")).get("name")),
        "drift_detected": drift.get("detected") if isinstance(drift.get("detected"), bool) else None,
        "drift_share": _number(drift.get("share_of_drifted_columns")),
        "drift_threshold": _number(drift.get("drift_share")),
        "production_f1": production_f1,
        "production_version": production_version,
        "promoted": promoted,
        "promoted_version": _text(promotion.get("new_version")) if promoted else None,
        "json_url": json_url,
        "html_url": html_url,
    }


def production_figures(report: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """(held-out F1-macro, version) of Production at the end of the run: the promoted candidate's held-out F1
    when the run promoted the candidate it evaluated, else the Production model's on this run's test rows.
    (None, version) when the run measured nothing (no drift, failure, a waiting candidate promoted later)."""
    evaluation = _mapping(report.get("evaluation"))
    if report.get("status") == "promoted":
        version = _text(_mapping(report.get("promotion")).get("new_version"))
        evaluated = version is not None and _text(evaluation.get("staging_version")) == version
        metrics = evaluation.get("staging_metrics") if evaluated else None
    else:
        version = _text(evaluation.get("production_version"))
        metrics = evaluation.get("production_metrics") if version is not None else None
    return _number(_mapping(metrics).get("f1_macro")), version


def previous_entry(entries: Iterable[Mapping[str, Any]], *, run_id: str, before: datetime) -> Mapping | None:
    """The newest entry of another run finished before `before`: the run a report links back to."""
    earlier = [e for e in entries if e["run_id"] != run_id and _timestamp(e["timestamp"]) < before]
    return max(earlier, key=lambda e: (_timestamp(e["timestamp"]), e["run_id"]), default=None)


def build_index(
    entries: Iterable[Mapping[str, Any]], *, now: datetime, found: int, unreadable: int = 0, limit: int = INDEX_LIMIT
) -> dict[str, Any]:
    """The index document: `entries` newest first, and how many reports exist (`found`), were left out past
    `limit` (the oldest), or could not be read (`unreadable`)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    runs = sorted(entries, key=lambda e: (_timestamp(e["timestamp"]), e["run_id"]), reverse=True)
    return {
        "generated_at": now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "runs_found": found,
        "runs_shown": len(runs),
        "left_out": max(found - limit, 0),
        "unreadable": unreadable,
        "limit": limit,
        "runs": [dict(e) for e in runs],
    }


def render_index_html(index: Mapping[str, Any]) -> str:
    """The index page: two inline SVG charts and one table row per run, under the run report's policy (no
    script, nothing external). InvalidRequestError when `index` is not one build_index made."""
    if not isinstance(index, Mapping) or not isinstance(index.get("runs"), list):
        raise InvalidRequestError("the index must be a mapping with a list of runs, built by build_index", "runs")
    runs = [run for run in index["runs"] if isinstance(run, Mapping)]
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            meta_tag(REPORT_POLICY),
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>Pipeline runs</title><style>{PAGE_CSS}{_INDEX_CSS}</style></head><body><main>",
            f'<header><h1>Pipeline runs</h1><span class="note" id="run-count">{escape(len(runs))} runs</span></header>',
            _notes(index),
            _drift_chart(runs),
            _f1_chart(runs),
            _table(runs),
            f"<footer>Rebuilt {escape(index.get('generated_at'))} after each run · "
            '<a class="link-index-json" href="index.json">as JSON</a></footer>',
            "</main></body></html>\n",
        ]
    )


def _notes(index: Mapping[str, Any]) -> str:
    notes = []
    if isinstance(index.get("left_out"), int) and index["left_out"] > 0:
        notes.append(
            f"{escape(index['left_out'])} older runs are left out: the index shows the newest "
            f"{escape(index.get('limit'))}; their reports stay in the bucket under reports/&lt;run id&gt;/."
        )
    if isinstance(index.get("unreadable"), int) and index["unreadable"] > 0:
        notes.append(f"{escape(index['unreadable'])} report.json objects could not be read and are not listed.")
    if not notes:
        return ""
    return '<section id="notes">' + "".join(f'<p class="note">{note}</p>' for note in notes) + "</section>"


def _points(runs: Sequence[Mapping[str, Any]], key: str) -> list[TimePoint]:
    points = []
    for run in runs:
        at = _timestamp(run.get("timestamp"))
        value = run.get(key)
        if at is not None and is_finite(value) and 0 <= value <= 1:
            label = f"{run.get('run_id')} ({run.get('status')})"
            points.append(TimePoint(at, float(value), label, marked=run.get("promoted") is True))
    return points


def _drift_chart(runs: Sequence[Mapping[str, Any]]) -> str:
    head = '<section id="drift-history"><h2>Share of drifted columns</h2>'
    points = _points(runs, "drift_share")
    if not points:
        return f'{head}<p class="not-run">No run has a drift result yet.</p></section>'
    threshold = next((r.get("drift_threshold") for r in runs if is_finite(r.get("drift_threshold"))), None)
    chart = render_time_svg(
        points,
        css_class="drift-history-chart",
        title="Share of drifted columns per run",
        y_label="share of drifted columns",
        threshold=threshold if threshold is not None and 0 <= threshold <= 1 else None,
        marked_label="run that promoted a model",
    )
    note = f" Dashed line: dataset drift at ≥ {escape(format_share(threshold))}." if threshold is not None else ""
    return f'{head}{chart}<p class="note">One point per run with a drift result.{note}</p></section>'


def _f1_chart(runs: Sequence[Mapping[str, Any]]) -> str:
    head = '<section id="f1-history"><h2>Production\'s held-out F1 (macro)</h2>'
    points = _points(runs, "production_f1")
    if not points:
        return f'{head}<p class="not-run">No run has measured a Production model on held-out rows yet.</p></section>'
    chart = render_time_svg(
        points,
        css_class="f1-history-chart",
        title="Production's held-out F1-macro per run",
        y_label="F1-macro on the run's held-out rows",
        marked_label="promotion: the new Production model's F1",
    )
    return (
        f'{head}{chart}<p class="note">Each run\'s held-out rows; where a run promoted its candidate, the point '
        "is the candidate's F1, which became Production's. Runs that measured no model are not drawn.</p></section>"
    )


def _table(runs: Sequence[Mapping[str, Any]]) -> str:
    head = '<section id="runs"><h2>Runs, newest first</h2>'
    if not runs:
        return f'{head}<p class="not-run">No run reports yet.</p></section>'
    rows = []
    for run in runs:
        status = run.get("status")
        status_class = status if status in STATUS_LABELS else "unknown"
        html_url, json_url = safe_url(run.get("html_url")), safe_url(run.get("json_url"))
        name = escape(run.get("run_id"))
        run_cell = f'<a class="link-run" href="{escape(html_url)}">{name}</a>' if html_url else name
        json_cell = f'<a class="link-run-json" href="{escape(json_url)}">JSON</a>' if json_url else "—"
        f1 = format_number(run.get("production_f1"))
        if run.get("production_version") is not None:
            f1 += f" ({version_label(run['production_version'])})"
        promotion = f"{version_label(run.get('promoted_version'))} promoted" if run.get("promoted") else ""
        rows.append(
            f'<tr class="{"promoted" if run.get("promoted") else "run"}"><td>{run_cell}</td>'
            f"<td>{escape(run.get('timestamp'))}</td>"
            f'<td><span class="badge status-{status_class}">{escape(STATUS_LABELS.get(status, status))}</span></td>'
            f"<td>{escape(run.get('dataset'))}</td>"
            f'<td class="num">{escape(format_share(run.get("drift_share")))}</td>'
            f'<td class="num">{escape(f1)}</td><td class="promotion">{escape(promotion)}</td>'
            f"<td>{json_cell}</td></tr>"
        )
    return (
        f'{head}<table class="runs-table"><thead><tr><th>Run</th><th>Finished</th><th>Status</th><th>Dataset</th>'
        '<th class="num">Drift share</th><th class="num">Production F1 (held-out)</th><th>Promotion</th>'
        f"<th>Report</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at.astimezone(UTC) if at.tzinfo is not None else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _number(value: Any) -> float | None:
    return float(value) if is_finite(value) else None


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, Mapping | list) else str(value)
