"""The pipeline report as one self-contained HTML page: inline CSS and SVG, no script, no external resource.

Everything that comes from data or input passes through `_e` (html.escape, quotes included) and every link
through `safe_url`, so a column named `<script>` shows as text and a `javascript:` URL never becomes a link.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from mlops_core.exceptions import InvalidRequestError
from mlops_core.report.build import (
    REPORT_KEYS,
    confidence_label,
    format_number,
    format_share,
    path_line,
    plan_line,
    reason_text,
    version_label,
)
from mlops_core.report.chart import is_finite, render_bootstrap_svg
from mlops_core.report.csp import REPORT_POLICY, meta_tag

METRIC_LABELS = {
    "accuracy": "Accuracy",
    "precision_macro": "Precision (macro)",
    "recall_macro": "Recall (macro)",
    "f1_macro": "F1 (macro)",
}
_NOT_PROMOTING = {"no_drift": "no drift, so no candidate", "failed": "the run failed"}
STATUS_LABELS = {
    "promoted": "Promoted",
    "pending": "Waiting for online evidence",
    "blocked": "Blocked",
    "no_drift": "No drift",
    "failed": "Failed",
}

PAGE_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f5f7; color: #1f2328;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 24px; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px 20px; margin-bottom: 16px; }
h1 { font-size: 22px; margin: 0; }
h2 { font-size: 17px; margin: 0 0 10px; }
section { background: #fff; border: 1px solid #d8dee4; border-radius: 8px; padding: 16px 20px;
  margin: 14px 0; }
.badge { display: inline-block; padding: 3px 12px; border-radius: 999px; font-weight: 600; color: #fff;
  letter-spacing: .02em; }
.status-promoted { background: #1a7f37; } .status-blocked { background: #bf8700; }
.status-no_drift { background: #0969da; } .status-failed { background: #cf222e; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; color: #57606a; }
.meta dt { font-weight: 600; } .meta dd { margin: 0; overflow-wrap: anywhere; }
ul.summary { margin: 0; padding-left: 20px; font-size: 15px; } ul.summary li { margin: 3px 0; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid #eaeef2; overflow-wrap: anywhere; }
th { background: #f6f8fa; font-weight: 600; }
td.num, th.num { text-align: right; }
tr.drifted td { background: #fff1e5; }
tr.untested td.verdict { color: #57606a; font-style: italic; }
tr.drifted td.verdict { color: #bc4c00; font-weight: 600; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #cf222e; font-weight: 600; }
.pending { color: #9a6700; font-weight: 600; }
.not-run { color: #57606a; font-style: italic; margin: 0; }
.note { color: #57606a; font-size: 13px; }
.error-box { border-color: #cf222e; background: #ffebe9; }
.error-box pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 6px 0; font-size: 13px; }
.chart { width: 100%; max-width: 880px; height: auto; display: block; margin-top: 8px; }
footer { color: #57606a; font-size: 12px; text-align: center; margin: 20px 0; }
"""


def render_report_html(report: Mapping[str, Any]) -> str:
    """The page for a report from build_report; InvalidRequestError when `report` is not such a report."""
    if not isinstance(report, Mapping):
        raise InvalidRequestError("the report must be a mapping built by build_report")
    missing = [key for key in REPORT_KEYS if key not in report]
    if missing:
        raise InvalidRequestError(f"the report lacks {', '.join(missing)}", field=missing[0])
    run_id = _e(report["run_id"])
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            # No script may run on this page, whatever a value smuggles in.
            meta_tag(REPORT_POLICY),
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>Pipeline report {run_id}</title><style>{PAGE_CSS}</style></head><body><main>",
            _header(report),
            _summary(report.get("summary")),
            _error(report.get("error")),
            _drift(report.get("drift")),
            _models(report.get("training"), report.get("evaluation")),
            _training(report.get("training"), report.get("training_path")),
            _leaderboard(report.get("training")),
            _offline_test(report.get("offline_test"), report.get("evaluation")),
            _ab_test(report.get("ab_testing_api")),
            _promotion(report.get("promotion"), report.get("status")),
            _steps(report.get("steps")),
            _links(report.get("links"), report.get("previous_run")),
            f"<footer>Report {run_id} · generated {_e(report.get('timestamp'))}</footer>",
            "</main></body></html>\n",
        ]
    )


def safe_url(url: Any) -> str | None:
    """The URL if it is http(s) or relative to the page, else None: no javascript:, data: or other schemes."""
    if not isinstance(url, str) or not url.strip() or "\\" in url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme in ("http", "https"):
        return url.strip() if parts.netloc else None
    # Protocol-relative URLs (//host) leave the page's origin, so only plain relative paths pass.
    if parts.scheme == "" and parts.netloc == "" and not url.strip().startswith("//"):
        return url.strip()
    return None


def _header(report: Mapping[str, Any]) -> str:
    status = report.get("status")
    label = STATUS_LABELS.get(status, str(status))
    status_class = status if status in STATUS_LABELS else "unknown"
    dataset = report.get("dataset") or {}
    rows = [
        ("Run", report.get("run_id")),
        ("Finished", report.get("timestamp")),
        ("Execution", report.get("execution_arn")),
        ("Dataset", dataset.get("name")),
        ("Batch", _rows_of(dataset.get("batch_key"), dataset.get("batch_rows"))),
        ("Reference", _rows_of(dataset.get("reference_key"), dataset.get("reference_rows"))),
    ]
    meta = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows if v not in (None, ""))
    return (
        f'<header><h1>Pipeline report</h1><span class="badge status-{status_class}" id="status">'
        f'{_e(label)}</span></header><section id="overview"><dl class="meta">{meta}</dl></section>'
    )


def _summary(lines: Any) -> str:
    items = "".join(f"<li>{_e(line)}</li>" for line in (lines or []))
    return f'<section id="summary"><h2>Summary</h2><ul class="summary">{items}</ul></section>'


def _error(error: Mapping[str, Any] | None) -> str:
    if not error:
        return ""
    trace = error.get("stack_trace")
    details = ""
    if trace:
        lines = _e("".join(map(str, trace)))
        details = f"<details><summary>Stack trace</summary><pre>{lines}</pre></details>"
    state_error = ""
    if error.get("error") and error.get("error") != error.get("type"):
        state_error = f'<p class="note">Step Functions error: {_e(error["error"])}</p>'
    return (
        '<section class="error-box" id="error"><h2>Run failed</h2>'
        f'<p><strong class="error-type">{_e(error.get("type") or "Error")}</strong></p>'
        f'<pre class="error-message">{_e(error.get("message") or "no message")}</pre>'
        f"{state_error}{details}<p>Production untouched.</p></section>"
    )


def _drift(drift: Mapping[str, Any] | None) -> str:
    head = '<section id="drift"><h2>Data drift</h2>'
    if drift is None:
        return f'{head}<p class="not-run">Drift check not run.</p></section>'
    verdict = (
        '<span class="fail">dataset drift detected</span>'
        if drift.get("detected")
        else '<span class="pass">no dataset drift</span>'
    )
    intro = (
        f"<p>{verdict}: {_e(drift.get('number_of_drifted_columns'))} of "
        f"{_e(drift.get('number_of_columns'))} columns drifted "
        f"({_e(format_share(drift.get('share_of_drifted_columns')))}; dataset drift at ≥ "
        f"{_e(format_share(drift.get('drift_share')))}).</p>"
    )
    rows = []
    for column, result in (drift.get("columns") or {}).items():
        result = result if isinstance(result, Mapping) else {}
        drifted = result.get("drifted") is True
        untested = result.get("status") == "all_missing"
        verdict, row_class = ("drifted", "drifted") if drifted else ("stable", "stable")
        if untested:
            verdict, row_class = f"not tested: {_missing_in(result.get('missing_in'))}", "untested"
        rows.append(
            f'<tr class="{row_class}"><td class="column">{_e(column)}</td>'
            f"<td>{_e(result.get('column_type'))}</td><td>{_e(result.get('method'))}</td>"
            f'<td class="num">{_e(_score(result.get("score")))}</td>'
            f'<td class="num">{_e(_score(result.get("threshold")))}</td>'
            f'<td class="verdict">{_e(verdict)}</td></tr>'
        )
    table = (
        '<table class="drift-table"><thead><tr><th>Column</th><th>Type</th><th>Method</th>'
        '<th class="num">Score</th><th class="num">Threshold</th><th>Verdict</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        if rows
        else '<p class="not-run">No per-column results.</p>'
    )
    note = ""
    if drift.get("report_sampled"):
        note = (
            '<p class="note">The Evidently report was rendered on a sample of '
            f"{_e(drift.get('report_rows'))} rows; the verdicts above use every row.</p>"
        )
    return f"{head}{intro}{table}{_target_drift(drift.get('target_drift'))}{_untested(drift)}{note}</section>"


_MISSING_IN = {
    "current": "no value in the batch",
    "reference": "no value in the baseline",
    "both": "no value in the batch or the baseline",
}


def _missing_in(side: Any) -> str:
    return _MISSING_IN.get(side, "no value on one side")


def _target_drift(target: Any) -> str:
    if not isinstance(target, Mapping):
        return ""
    if target.get("status") == "all_missing":
        verdict = f"not tested ({_missing_in(target.get('missing_in'))})"
    else:
        verdict = "drifted" if target.get("drifted") is True else "stable"
        verdict += (
            f" ({target.get('method')}: {_score(target.get('score'))}, threshold {_score(target.get('threshold'))})"
        )
    counted = (
        "counts toward the drifted share"
        if target.get("counted_in_share") is True
        else "does not count toward the drifted share (only the features decide)"
    )
    return (
        f'<p id="target-drift">Target <code>{_e(target.get("column"))}</code>: '
        f'<span class="verdict">{_e(verdict)}</span>; it {_e(counted)}.</p>'
    )


def _untested(drift: Mapping[str, Any]) -> str:
    """Columns left out of the share, each with its reason: no values on a side, or excluded as text."""
    items = []
    for column, result in (drift.get("columns") or {}).items():
        if isinstance(result, Mapping) and result.get("status") == "all_missing":
            items.append(
                f'<li class="all-missing"><code>{_e(column)}</code>: {_e(_missing_in(result.get("missing_in")))}</li>'
            )
    excluded = drift.get("excluded_columns")
    for column, reason in excluded.items() if isinstance(excluded, Mapping) else []:
        items.append(f'<li class="excluded"><code>{_e(column)}</code>: {_e(reason)}</li>')
    if not items:
        return ""
    return f'<h3>Not tested, not in the drifted share</h3><ul class="untested-columns">{"".join(items)}</ul>'


def _leaderboard(training: Mapping[str, Any] | None) -> str:
    if not isinstance(training, Mapping) or "leaderboard" not in training:
        return ""
    head = '<section id="leaderboard"><h2>AutoML leaderboard</h2>'
    board = [row for row in training.get("leaderboard") or [] if isinstance(row, Mapping)]
    if not board:
        why = "the version was reused; its full grid is in the MLflow run" if training.get("reused") else "empty"
        return f'{head}<p class="not-run">No leaderboard: {_e(why)}.</p></section>'
    rows = "".join(
        f'<tr><td class="num">{rank}</td><td class="model">{_e(row.get("name"))} '
        f"<code>{_e(row.get('model'))}</code></td>"
        f'<td class="num">{_e(format_number(row.get("f1_macro")))}</td>'
        f'<td class="num">{_e(format_number(row.get("accuracy")))}</td>'
        f'<td class="num">{_e(format_number(row.get("fit_seconds"), 2))}</td></tr>'
        for rank, row in enumerate(board, start=1)
    )
    return (
        f'{head}<table class="leaderboard-table"><thead><tr><th class="num">#</th><th>Model</th>'
        '<th class="num">CV F1 (macro)</th><th class="num">CV accuracy</th><th class="num">Fit time (s)</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
        '<p class="note">Cross-validated on the training rows, best first; the first is the candidate. Fit time: '
        "the seconds its cross-validation took, all folds.</p></section>"
    )


def _training(training: Mapping[str, Any] | None, path: Mapping[str, Any] | None) -> str:
    """Where training ran and how its budget was spent: the comparison's sample, the models tried and skipped
    (with the reason), the final fit on all rows against its estimate."""
    plan = (training or {}).get("plan") if isinstance(training, Mapping) else None
    plan = plan if isinstance(plan, Mapping) and plan else None
    if not isinstance(path, Mapping) and plan is None:
        return ""
    items = []
    if isinstance(path, Mapping):
        where = path_line(path)
        if path.get("path") == "job" and path.get("task_id"):
            where += f"; task {path['task_id']}"
            if path.get("stopped_reason"):
                where += f" ({path['stopped_reason']})"
        items.append(f'<p class="training-path">{_e(where)}.</p>')
    if plan is not None:
        items.append(f'<p class="training-plan">{_e(plan_line(plan))}.</p>')
        seconds = plan.get("fit_seconds") if isinstance(plan.get("fit_seconds"), Mapping) else {}
        tried = "".join(
            f"<li><code>{_e(model)}</code> {_e(format_number(seconds.get(model), 1))} s</li>"
            for model in plan.get("models_tried") or []
        )
        if tried:
            items.append(f'<h3>Models tried (cross-validation time)</h3><ul class="models-tried">{tried}</ul>')
        skipped = plan.get("models_skipped")
        skipped_items = "".join(
            f"<li><code>{_e(model)}</code>: {_e(reason)}</li>"
            for model, reason in (skipped.items() if isinstance(skipped, Mapping) else [])
        )
        if skipped_items:
            items.append(f'<h3>Models skipped</h3><ul class="models-skipped">{skipped_items}</ul>')
    return f'<section id="training"><h2>Training</h2>{"".join(items)}</section>'


def _steps(steps: Any) -> str:
    head = '<section id="steps"><h2>Steps</h2>'
    if not isinstance(steps, list):
        why = "the execution history was not readable"
        return f'{head}<p class="not-run">Step durations unavailable: {why}.</p></section>'
    rows = []
    for step in steps:
        if not isinstance(step, Mapping):
            continue
        seconds = step.get("seconds")
        duration = f"{format_number(seconds, 1)} s" if is_finite(seconds) else "running (this report)"
        rows.append(
            f'<tr><td class="step">{_e(step.get("step"))}</td><td>{_e(step.get("started"))}</td>'
            f'<td class="num duration">{_e(duration)}</td><td class="num">{_e(step.get("attempts"))}</td>'
            f'<td class="outcome">{_e(step.get("outcome"))}</td></tr>'
        )
    return (
        f'{head}<table class="steps-table"><thead><tr><th>Step</th><th>Started</th><th class="num">Duration</th>'
        f'<th class="num">Attempts</th><th>Outcome</th></tr></thead><tbody>{"".join(rows)}</tbody></table></section>'
    )


def _models(training: Mapping[str, Any] | None, evaluation: Mapping[str, Any] | None) -> str:
    head = '<section id="models"><h2>Models</h2>'
    if training is None and evaluation is None:
        return f'{head}<p class="not-run">Training not run: no candidate model.</p></section>'
    evaluation = evaluation or {}
    training = training or {}
    production = evaluation.get("production_metrics") or {}
    staging = evaluation.get("staging_metrics") or {}
    cv = training.get("metrics") or {}
    production_version = evaluation.get("production_version")
    has_production = production_version is not None
    columns = []
    if has_production:
        columns.append((f"Production {version_label(production_version)} (held-out)", production))
    if evaluation:
        columns.append((f"Staging {version_label(evaluation.get('staging_version'))} (held-out)", staging))
    if training:
        columns.append((f"Candidate {version_label(training.get('model_version'))} (cross-validated)", cv))
    show_delta = has_production and bool(evaluation)
    header = "".join(f'<th class="num">{_e(title)}</th>' for title, _ in columns)
    header += '<th class="num">Δ held-out</th>' if show_delta else ""
    keys = [k for k in METRIC_LABELS if any(k in m for _, m in columns)]
    rows = []
    for key in keys:
        cells = "".join(f'<td class="num">{_e(format_number(m.get(key)))}</td>' for _, m in columns)
        if show_delta:
            delta = _difference(staging.get(key), production.get(key))
            cells += f'<td class="num">{_e(format_number(delta, signed=True))}</td>'
        rows.append(f"<tr><th>{_e(METRIC_LABELS[key])}</th>{cells}</tr>")
    facts = []
    if training:
        facts.append(
            f"Candidate: {_e(training.get('algorithm'))}, registered as {_e(training.get('model_name'))} "
            f"{_e(version_label(training.get('model_version')))}; trained on "
            f"{_e(training.get('baseline_rows'))} baseline + {_e(training.get('train_rows'))} new rows, "
            f"judged on {_e(training.get('holdout_rows'))} held-out rows."
        )
        if training.get("reused"):
            facts.append("This execution input had already registered the version: it was reused.")
    if not has_production and evaluation:
        facts.append("No Production model yet: nothing to compare against.")
    if not evaluation:
        facts.append("Evaluation not run: no held-out comparison.")
    notes = "".join(f'<p class="note">{fact}</p>' for fact in facts)
    table = (
        f'<table class="metrics-table"><thead><tr><th>Metric</th>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return f"{head}{table}{notes}</section>"


def _offline_test(test: Mapping[str, Any] | None, evaluation: Mapping[str, Any] | None) -> str:
    head = '<section id="statistical-test"><h2>Offline gate: pre-registered test of ΔF1-macro</h2>'
    if test is None:
        why = reason_text(evaluation.get("reason")) if evaluation else "evaluation did not run"
        return f'{head}<p class="not-run">Not run: {_e(why)}.</p></section>'
    passed = test.get("verdict") == "significant_improvement"
    verdict = f'<span class="{"pass" if passed else "fail"}">{_e(test.get("verdict"))}</span>'
    rows = (evaluation or {}).get("rows") or {}
    interval = test.get("interval") or {}
    level = interval.get("level")
    figures = [
        ("Hypotheses", f"H0: ΔF1 ≤ {format_number(test.get('delta_min'), 4, signed=True)} vs H1: ΔF1 > it, one-sided"),
        ("Test", f"{test.get('test')}: {test.get('test_reason')}"),
        ("Observed ΔF1", format_number(test.get("observed_delta"), 4, signed=True)),
        (
            f"{confidence_label(level)} BCa interval",
            f"[{format_number(interval.get('low'), 4)}, {format_number(interval.get('high'), 4)}]",
        ),
        ("p-value (one-sided)", _score(test.get("p_value"))),
        ("α of the stream / α spent by this test", f"{_score(test.get('alpha'))} / {_score(test.get('alpha_t'))}"),
        ("Test number in the stream (LORD++)", rows.get("test_number")),
        (
            "Rows (this run + pooled)",
            f"{test.get('n')} ({rows.get('own')} + {rows.get('pooled')} from {rows.get('pooled_runs')} runs)",
        ),
        ("Rows where the models disagree", test.get("n_disagreements")),
        ("Minimum detectable effect", format_number(test.get("mde"), 4)),
        (
            f"Rows needed for {format_share(test.get('power'))} power at ΔF1 "
            f"{format_number(_sum(test.get('delta_min'), test.get('margin')), 4, signed=True)}",
            f"{test.get('required_n')} (missing: {test.get('missing_rows')})",
        ),
        ("Resamples", f"{test.get('n_resamples')} (seed {test.get('seed')})"),
    ]
    table = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in figures)
    histogram = test.get("histogram") if isinstance(test.get("histogram"), Mapping) else {}
    try:
        chart = render_bootstrap_svg(
            histogram.get("edges") or [],
            histogram.get("counts") or [],
            ci_low=interval.get("low"),
            ci_high=interval.get("high"),
            observed=test.get("observed_delta"),
            confidence=level if isinstance(level, float) else 0.9,
        )
    except ValueError as error:
        chart = f'<p class="not-run">Bootstrap chart unavailable: {_e(error)}.</p>'
    return (
        f'{head}<p>Verdict: {verdict}, because {_e(test.get("decided_by"))}.</p><dl class="meta">{table}</dl>'
        f"{chart}{_classes(test)}{_confusion(test.get('confusion'))}</section>"
    )


def _classes(test: Mapping[str, Any]) -> str:
    checks = [c for c in test.get("classes") or [] if isinstance(c, Mapping)]
    if not checks:
        return ""
    rows = "".join(
        f'<tr><th>{_e(c.get("label"))}</th><td class="num">{_e(c.get("support"))}</td>'
        f'<td class="num">{_e(format_number(c.get("f1_production")))}</td>'
        f'<td class="num">{_e(format_number(c.get("f1_candidate")))}</td>'
        f'<td class="num">{_e(format_number(c.get("delta"), signed=True))}</td>'
        f'<td class="num">{_e(_score(c.get("p_adjusted")))}</td>'
        + (
            '<td><span class="pass">holds</span></td></tr>'
            if c.get("passed")
            else '<td><span class="fail">falls</span></td></tr>'
        )
        for c in checks
    )
    return (
        f"<h3>Per-class guardrails: no class's F1 may fall by more than {_e(format_number(test.get('class_margin')))} "
        f"(Holm-adjusted at {_e(_score(test.get('class_alpha')))})</h3>"
        '<table class="classes-table"><thead><tr><th>Class</th><th class="num">Rows</th>'
        '<th class="num">F1 Production</th><th class="num">F1 candidate</th><th class="num">Δ</th>'
        f'<th class="num">p (Holm)</th><th>Guardrail</th></tr></thead><tbody>{rows}</tbody></table>'
    )


def _confusion(confusion: Any) -> str:
    if not isinstance(confusion, Mapping) or not confusion.get("labels"):
        return ""
    labels = list(confusion["labels"])
    tables = []
    for side, title in (("production", "Production"), ("candidate", "Candidate")):
        matrix = confusion.get(side) or []
        body = "".join(
            f"<tr><th>{_e(label)}</th>" + "".join(f'<td class="num">{_e(v)}</td>' for v in row) + "</tr>"
            for label, row in zip(labels, matrix, strict=False)
        )
        header = "".join(f'<th class="num">{_e(label)}</th>' for label in labels)
        tables.append(
            f'<table class="confusion-table"><caption>{title}: true (rows) × predicted (columns)</caption>'
            f"<thead><tr><th></th>{header}</tr></thead><tbody>{body}</tbody></table>"
        )
    return f"<h3>Confusion matrices on the test's rows</h3>{''.join(tables)}"


def _sum(a: Any, b: Any) -> float | None:
    return a + b if is_finite(a) and is_finite(b) else None


def _ab_test(ab: Mapping[str, Any] | None) -> str:
    head = '<section id="ab-test"><h2>Online gate: paired test through the API</h2>'
    if ab is None:
        return f'{head}<p class="not-run">Online stage not run.</p></section>'
    requests = ab.get("requests") or {}
    errors = ab.get("errors") or {}
    f1 = ab.get("f1_macro") or {}
    accuracy = ab.get("accuracy") or {}
    variants = sorted({*requests, *errors, *f1, *accuracy}, key=lambda v: (v != "production", v != "staging", str(v)))
    rows = "".join(
        f'<tr><th class="variant">{_e(v)}</th><td class="num">{_e(requests.get(v, 0))}</td>'
        f'<td class="num">{_e(errors.get(v, 0))}</td><td class="num">{_e(format_number(f1.get(v)))}</td>'
        f'<td class="num">{_e(format_number(accuracy.get(v)))}</td></tr>'
        for v in variants
    )
    passed = ab.get("passed")
    verdict = f'<span class="{"pass" if passed else "fail"}">{_e(ab.get("reason"))}</span>'
    mode = "a candidate waiting in Staging" if ab.get("mode") == "pending_candidate" else "this run's new candidate"
    evidence = ab.get("evidence")
    paired = '<p class="not-run">No paired test: no Production model to compare with.</p>'
    if isinstance(evidence, Mapping):
        test = evidence.get("test") or {}
        interval = test.get("interval") or [None, None]
        figures = [
            ("Pairs (labelled requests both models answered)", evidence.get("pairs")),
            ("Candidate alone right", evidence.get("staging_only")),
            ("Production alone right", evidence.get("production_only")),
            (
                "Ties (both right, both wrong): not evidence",
                f"{evidence.get('both_correct')}, {evidence.get('both_wrong')}",
            ),
            ("Non-inferiority margin", format_number(test.get("margin"))),
            ("Always-valid p (H0: worse by the margin)", _score(test.get("p_non_inferior"))),
            ("Always-valid p (H0: within the margin)", _score(test.get("p_inferior"))),
            ("Confidence sequence", f"[{format_number(interval[0])}, {format_number(interval[1])}]"),
        ]
        table = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in figures)
        paired = (
            f"<p>Paired sequential test ({_e(test.get('verdict'))}): {_e(test.get('decided_by'))}.</p>"
            f'<dl class="meta">{table}</dl>'
        )
    return (
        f"{head}<p>Verdict: {verdict} ({_e(reason_text(ab.get('reason')))}), for {_e(mode)} "
        f"{_e(version_label(ab.get('staging_version')))}. Traffic to production: "
        f"{_e(format_share(ab.get('production_share')))}; API: <code>{_e(ab.get('api_url'))}</code></p>"
        f"{paired}<h3>This run's requests (each variant scored on the requests it served)</h3>"
        '<table class="ab-table"><thead><tr><th>Variant</th><th class="num">Requests</th>'
        '<th class="num">Errors</th><th class="num">F1 (macro)</th><th class="num">Accuracy</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></section>"
    )


def _promotion(promotion: Mapping[str, Any] | None, status: Any) -> str:
    head = '<section id="promotion"><h2>Promotion</h2>'
    if promotion is None:
        why = _NOT_PROMOTING.get(status, "the step did not run")
        return f'{head}<p class="not-run">Not run: {_e(why)}. Production untouched.</p></section>'
    previous = promotion.get("previous_version")
    if promotion.get("outcome") == "pending":
        decision = (
            f'<p><span class="pending">Waiting</span>: candidate '
            f"{_e(version_label(promotion.get('candidate_version')))} stays in Staging while online evidence "
            "accumulates; Production untouched</p>"
        )
    elif promotion.get("promoted"):
        decision = (
            f'<p><span class="pass">Promoted</span> {_e(promotion.get("model_name"))} '
            f"{_e(version_label(promotion.get('new_version')))} to Production"
            + (f" (previous: {_e(version_label(previous))})" if previous else "")
            + "</p>"
        )
    else:
        decision = (
            '<p><span class="fail">Not promoted</span>: Production untouched'
            + (f" (stays {_e(version_label(previous))})" if previous else "")
            + "</p>"
        )
    return f"{head}{decision}<p>Reason: {_e(reason_text(promotion.get('reason')))}</p></section>"


def _links(links: Mapping[str, Any] | None, previous: Any = None) -> str:
    links = links or {}
    previous = previous if isinstance(previous, Mapping) else {}
    items = []
    previous_url = safe_url(previous.get("html_url"))
    if previous_url is None:
        items.append('<li>Previous run: <span class="not-run">none before this one</span></li>')
    else:
        items.append(
            f'<li><a class="link-previous" href="{_e(previous_url)}">Previous run: {_e(previous.get("run_id"))}</a> '
            f"({_e(STATUS_LABELS.get(previous.get('status'), previous.get('status')))}, "
            f"{_e(previous.get('timestamp'))})</li>"
        )
    for key, label in (
        ("index", "Every run"),
        ("drift_report", "Evidently drift report"),
        ("mlflow_run", "MLflow run"),
        ("mlflow_model", "MLflow model version"),
        ("json", "This report as JSON"),
    ):
        url = safe_url(links.get(key))
        if url is None:
            items.append(f'<li>{_e(label)}: <span class="not-run">not available</span></li>')
        else:
            items.append(f'<li><a class="link-{key}" href="{_e(url)}">{_e(label)}</a></li>')
    return f'<section id="links"><h2>Links</h2><ul>{"".join(items)}</ul></section>'


def escape(value: Any) -> str:
    """Any value as HTML text, quotes included; None as a dash."""
    return "—" if value is None else html.escape(str(value), quote=True)


_e = escape


def _difference(a: Any, b: Any) -> float | None:
    return a - b if is_finite(a) and is_finite(b) else None


def _score(value: Any) -> str:
    # p-values span many magnitudes: 1.2e-07 must not read as 0.0000.
    return f"{value:.4g}" if is_finite(value) else "n/a"


def _rows_of(key: Any, rows: Any) -> str | None:
    if rows is None:
        return key
    return f"{key or '—'} ({rows} rows)"
