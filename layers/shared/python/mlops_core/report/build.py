"""The pipeline report as JSON: a pure function of the run state that Step Functions hands to generate_report.

Each step's section is read tolerantly: a report is most needed when a run went wrong, so a partial section
still yields a report (missing figures show as null). The envelope (run id, section types) is checked
strictly because it names S3 keys and drives the status.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from mlops_core.contracts import RunState
from mlops_core.exceptions import InvalidRequestError
from mlops_core.layout import REPORT_INDEX_HTML_KEY, is_safe_id, report_html_key, report_json_key
from mlops_core.report.chart import is_finite
from mlops_core.report.redact import redact

Status = Literal["promoted", "pending", "blocked", "no_drift", "failed"]

REPORT_KEYS = (
    "run_id",
    "timestamp",
    "status",
    "execution_arn",
    "dataset",
    "drift",
    "training",
    "training_path",
    "pending",
    "evaluation",
    "offline_test",
    "promotion",
    "ab_testing_api",
    "error",
    "links",
    "previous_run",
    "steps",
    "summary",
)
_SECTIONS = ("drift", "pending", "training", "evaluation", "ab_test", "promotion", "error")

# The steps write reasons as codes; people read sentences.
REASONS = {
    "significant_improvement": "the candidate is significantly better",
    "not_significant": "the candidate's improvement is not statistically significant",
    "no_production_model": "no Production model yet",
    "insufficient_data": "too few labelled held-out rows to decide (they are pooled into the next run's test)",
    "class_regression": "a class's F1 fell by more than the class margin",
    "no_statistical_test": "the offline test did not run",
    "non_inferior": "the paired online test shows the candidate is not worse than Production by the margin",
    "inferior": "the paired online test shows the candidate is worse than Production",
    "continue": "the paired online test has not decided yet",
    "no_ab_data": "the API served no usable answers from the candidate",
    "better_offline_and_online": "significantly better offline and not worse online",
    "awaiting_online_evidence": "the candidate waits in Staging while online evidence accumulates",
    "online_undecided_too_long": "the online test was still undecided after the longest wait allowed",
    "production_changed": "Production changed after the gates compared the candidate with it",
}


@dataclass(frozen=True)
class ReportLinks:
    """Where a reader goes next; None when there is nothing to link (e.g. no MLflow run on a no-drift day)."""

    json: str | None = None
    html: str | None = None
    drift_report: str | None = None
    mlflow_run: str | None = None
    mlflow_model: str | None = None
    index: str | None = None  # the reports index: every run


def run_report_urls(run_id: str, reports_base_url: str | None, *, from_index: bool = False) -> tuple[str, str]:
    """(json, html) URLs of a run's report: absolute under the reports website when its URL is known, else
    relative to the page that links them (another run's report, or the index beside the run folders)."""
    if not is_safe_id(run_id):
        raise InvalidRequestError(f"run_id {run_id!r} is not a safe identifier", field="run_id")
    if reports_base_url:
        base = reports_base_url.rstrip("/")
        return f"{base}/{report_json_key(run_id)}", f"{base}/{report_html_key(run_id)}"
    folder = f"{run_id}/" if from_index else f"../{run_id}/"
    return f"{folder}report.json", f"{folder}report.html"


def report_links(
    state: RunState,
    *,
    reports_base_url: str | None = None,
    mlflow_ui_url: str | None = None,
    drift_report_url: str | None = None,
) -> ReportLinks:
    """Links for a run: absolute under the reports website when its URL is known, else relative to the page.

    The report JSON and HTML sit side by side under reports/<run_id>/, so the relative names always resolve.
    """
    run_id = _run_id(state)
    training = _section(state, "training") or {}
    if reports_base_url:
        base = reports_base_url.rstrip("/")
        json_url, html_url = run_report_urls(run_id, base)
        index_url = f"{base}/{REPORT_INDEX_HTML_KEY}"
    else:
        json_url, html_url, index_url = "report.json", "report.html", "../index.html"
    mlflow_run = mlflow_model = None
    if mlflow_ui_url:
        ui = mlflow_ui_url.rstrip("/")
        if training.get("mlflow_run_id"):
            mlflow_run = f"{ui}/#/runs/{training['mlflow_run_id']}"
        if training.get("model_name") and training.get("model_version"):
            mlflow_model = f"{ui}/#/models/{training['model_name']}/versions/{training['model_version']}"
    return ReportLinks(json_url, html_url, drift_report_url, mlflow_run, mlflow_model, index_url)


def derive_status(state: RunState) -> Status:
    """The one place a run's outcome is decided: failure wins, then promotion, then whether drift was found.

    A run with neither a drift result nor an error cannot have reached the report: InvalidRequestError.
    """
    if _section(state, "error") is not None:
        return "failed"
    promotion = _section(state, "promotion")
    if promotion is not None and promotion.get("promoted") is True:
        return "promoted"
    if promotion is not None and promotion.get("outcome") == "pending":
        return "pending"
    if promotion is not None:
        return "blocked"  # a reviewed waiting candidate may be retired on a batch that did not drift
    drift = _section(state, "drift")
    if drift is None:
        raise InvalidRequestError("run state has neither a drift result nor an error", field="drift")
    if not drift.get("detected"):
        return "no_drift"
    return "blocked"


def parse_error(error: Mapping[str, Any]) -> dict[str, Any]:
    """The Catch result {"Error", "Cause"}; Cause is often the Lambda error payload serialized as JSON.

    The report is public: internal URLs, hosts and credentials in any of its text are redacted (`redact`).
    """
    name = error.get("Error")
    cause = error.get("Cause")
    payload: Any = cause
    if isinstance(cause, str):
        try:
            payload = json.loads(cause)
        except ValueError:
            payload = cause
    if isinstance(payload, Mapping) and ("errorMessage" in payload or "errorType" in payload):
        trace = payload.get("stackTrace")
        return {
            "error": _public(name),
            "type": _public(payload.get("errorType")) or _public(name),
            "message": _public(payload.get("errorMessage")) or "",
            "stack_trace": [_public(line) for line in trace] if isinstance(trace, list) else None,
        }
    if isinstance(payload, Mapping) and isinstance(payload.get("Containers"), list):
        return {"error": _public(name), "type": _public(name), "message": _task_stopped(payload), "stack_trace": None}
    # States.Timeout, States.Runtime and friends carry a plain-text cause, or none.
    message = cause if isinstance(cause, str) else ("" if cause is None else json.dumps(cause, default=str))
    return {"error": _public(name), "type": _public(name), "message": redact(message), "stack_trace": None}


# Exit codes of a container a signal ended (128 + the signal), as ECS reports them.
_SIGNALLED = {137: "killed (SIGKILL): out of memory, or stopped past its grace period", 143: "stopped (SIGTERM)"}


def _task_stopped(task: Mapping[str, Any]) -> str:
    """An ECS task description (what `ecs:runTask.sync` fails with) in one sentence: which container exited
    with what code, and why the task stopped; the full description stays in the execution history."""
    arn = task.get("TaskArn")
    parts = []
    for container in task["Containers"]:
        if not isinstance(container, Mapping):
            continue
        name, code = container.get("Name"), container.get("ExitCode")
        if code is None:
            parts.append(f"container {name!r} never started")
        else:
            meaning = _SIGNALLED.get(code, "the step failed: its last log lines say why")
            parts.append(f"container {name!r} exited with code {code} ({meaning})")
    reason = task.get("StoppedReason") or "no reason given"
    return redact(f"ECS task {_task_id(arn) or '?'} stopped: {reason}; " + "; ".join(parts))


def build_report(
    state: RunState,
    *,
    now: datetime,
    links: ReportLinks,
    previous_run: Mapping[str, Any] | None = None,
    steps: list[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The report: every key of REPORT_KEYS present (null when a step did not run), JSON-safe, floats finite.
    `previous_run`: the newest earlier report's index entry (report.index.index_entry); `steps`: each Task
    state's duration (report.steps.step_durations), None when the execution history was not readable.

    Raises InvalidRequestError for a malformed run state and ValueError for a naive `now`.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    run_id = _run_id(state)
    execution_arn = state.get("execution_arn")
    if execution_arn is not None and not isinstance(execution_arn, str):
        raise InvalidRequestError("execution_arn must be a string", field="execution_arn")
    status = derive_status(state)
    drift = _section(state, "drift")
    training = _section(state, "training")
    evaluation = _section(state, "evaluation")
    ab_test = _section(state, "ab_test")
    promotion = _section(state, "promotion")
    raw_error = _section(state, "error")
    error = parse_error(raw_error) if raw_error is not None else None
    pending = _section(state, "pending")
    path = training_path(state)
    offline_test = _mapping_or_none(evaluation, "decision")
    # The test has its own top-level key; keeping it in evaluation too would ship the histogram twice.
    evaluation_only = None
    if evaluation is not None:
        evaluation_only = {k: v for k, v in evaluation.items() if k != "decision"}
    if drift is not None and not isinstance(drift.get("columns", {}), Mapping):
        raise InvalidRequestError("drift.columns must map column names to results", field="drift.columns")

    report = {
        "run_id": run_id,
        "timestamp": now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "status": status,
        "execution_arn": execution_arn,
        "dataset": _dataset(state, drift),
        "drift": drift,
        "training": training,
        "training_path": path,
        "pending": pending,
        "evaluation": evaluation_only,
        "offline_test": offline_test,
        "promotion": promotion,
        "ab_testing_api": ab_test,
        "error": error,
        "links": asdict(links),
        "previous_run": dict(previous_run) if previous_run is not None else None,
        "steps": [dict(step) for step in steps] if steps is not None else None,
        "summary": summary_lines(status, drift, training, evaluation, offline_test, ab_test, promotion, error, path),
    }
    return _json_safe(report, "report")


def summary_lines(
    status: Status,
    drift: Mapping[str, Any] | None,
    training: Mapping[str, Any] | None,
    evaluation: Mapping[str, Any] | None,
    offline_test: Mapping[str, Any] | None,
    ab_test: Mapping[str, Any] | None,
    promotion: Mapping[str, Any] | None,
    error: Mapping[str, Any] | None,
    path: Mapping[str, Any] | None = None,
) -> list[str]:
    """One human line per step that ran, then the decision on Production."""
    lines = []
    if drift is not None:
        lines.append(_drift_line(drift))
    if path is not None:
        lines.append(path_line(path))
    if training is not None or evaluation is not None:
        lines.append(_candidate_line(training or {}, evaluation))
    plan = (training or {}).get("plan")
    if isinstance(plan, Mapping) and plan:
        lines.append(plan_line(plan))
    if offline_test is not None:
        lines.extend(offline_lines(offline_test, (evaluation or {}).get("rows")))
    elif evaluation is not None:
        lines.append(f"Offline test skipped: {reason_text(evaluation.get('reason'))}")
    if ab_test is not None:
        lines.append(_ab_line(ab_test))
    if error is not None:
        lines.append(f"Run failed: {error['type'] or 'error'}: {error['message'] or 'no message'}")
    if status == "promoted" and promotion is not None:
        line = f"Promoted {version_label(promotion.get('new_version'))} to Production"
        if promotion.get("previous_version"):
            line += f" (replacing {version_label(promotion['previous_version'])})"
        if promotion.get("reason"):
            line += f": {reason_text(promotion['reason'])}"
        lines.append(line)
    elif status == "pending" and promotion is not None:
        lines.append(
            f"Candidate {version_label(promotion.get('candidate_version'))} waits in Staging: "
            f"{reason_text(promotion.get('reason'))}; Production untouched"
        )
    else:
        lines.append(f"Production untouched: {_untouched_reason(status, evaluation, promotion)}")
    return lines


def training_path(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """Where TrainModel ran, as the state machine chose it: `SizeTraining` put baseline + batch rows and the
    template's TrainingJobThresholdRows under $.training_size, and `TrainingPath` sent more rows than that to
    the ECS task (the job path), the rest to the Lambda function. The task's id (its log stream ends with it)
    and stop reason once it stopped. None when the run never reached the choice (no drift, or a review of a
    waiting candidate)."""
    size = state.get("training_size")
    if not isinstance(size, Mapping):
        return None
    rows, threshold = size.get("rows"), size.get("threshold_rows")
    if not (_is_count(rows) and _is_count(threshold)):
        return None
    path: dict[str, Any] = {"path": "job" if rows > threshold else "lambda", "rows": rows, "threshold_rows": threshold}
    if path["path"] == "job":
        job = state.get("training_job")
        job = job if isinstance(job, Mapping) else {}
        arn = job.get("task_arn")
        path.update(
            timeout_seconds=size.get("timeout_seconds"),
            task_id=_task_id(arn),
            stopped_reason=_public(job.get("stopped_reason")),
        )
    return path


def _task_id(arn: Any) -> str | None:
    """An ECS task's id, the last part of its ARN (its log stream ends with it)."""
    return arn.rsplit("/", 1)[-1] if isinstance(arn, str) else None


def _is_count(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def path_line(path: Mapping[str, Any]) -> str:
    rows, threshold = _count(path.get("rows")), _count(path.get("threshold_rows"))
    if path.get("path") == "job":
        return (
            f"Trained as an ECS task (the job path): {rows} rows of baseline + batch, over the threshold of "
            f"{threshold} (TrainingJobThresholdRows)"
        )
    return (
        f"Trained in the TrainModel Lambda function: {rows} rows of baseline + batch, within the threshold of "
        f"{threshold}"
    )


def plan_line(plan: Mapping[str, Any]) -> str:
    """How the training budget was spent: the comparison's sample, the models, the final fit on all rows."""
    skipped = plan.get("models_skipped")
    return (
        f"Model selection on {_count(plan.get('sample_rows'))} of {_count(plan.get('total_rows'))} training rows "
        f"within {format_number(plan.get('budget_seconds'), 0)} s: {len(plan.get('models_tried') or [])} models "
        f"tried, {len(skipped) if isinstance(skipped, Mapping) else 0} skipped; final fit on all rows "
        f"{format_number(plan.get('final_fit_seconds'), 0)} s (estimated "
        f"{format_number(plan.get('final_fit_estimate_seconds'), 0)} s)"
    )


def _count(value: Any) -> str:
    return f"{value:,.0f}" if _is_count(value) else "n/a"


def reason_text(reason: Any) -> str:
    if reason is None or reason == "":
        return "no reason given"
    return REASONS.get(str(reason), str(reason))


def format_number(value: Any, digits: int = 3, *, signed: bool = False) -> str:
    """A metric for people; "n/a" for missing or non-finite values."""
    if not is_finite(value):
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def format_share(share: Any) -> str:
    """A share as a percent, with a decimal only when rounding would hide the difference (49.9% vs 50%)."""
    if not is_finite(share):
        return "n/a"
    percent = share * 100
    return f"{percent:.0f}%" if abs(percent - round(percent)) < 1e-9 else f"{percent:.1f}%"


def confidence_label(confidence: Any) -> str:
    """ "95%" for 0.95; the contract's default level when the figure is missing."""
    return format_share(confidence) if is_finite(confidence) else "95%"


def _drift_line(drift: Mapping[str, Any]) -> str:
    columns = drift.get("columns")
    total = drift.get("number_of_columns")
    if total is None and isinstance(columns, Mapping):
        total = len(columns)
    head, comparison = ("Drift detected", "≥") if drift.get("detected") else ("No drift", "<")
    return (
        f"{head}: {drift.get('number_of_drifted_columns', 'n/a')} of {total if total is not None else 'n/a'} "
        f"columns ({format_share(drift.get('share_of_drifted_columns'))}) {comparison} "
        f"{format_share(drift.get('drift_share'))}"
    )


def _candidate_line(training: Mapping[str, Any], evaluation: Mapping[str, Any] | None) -> str:
    version = training.get("model_version") or (evaluation or {}).get("staging_version")
    name = f"Candidate {version_label(version)}"
    if training.get("algorithm"):
        name += f" ({training['algorithm']})"
    if evaluation is None:
        cv = (training.get("metrics") or {}).get("f1_macro")
        return f"{name} cross-validated F1-macro {format_number(cv)}; not evaluated on held-out rows"
    staging_f1 = (evaluation.get("staging_metrics") or {}).get("f1_macro")
    if evaluation.get("production_version") is None:
        return f"{name} F1-macro {format_number(staging_f1)}; no Production model to compare"
    production_f1 = (evaluation.get("production_metrics") or {}).get("f1_macro")
    return (
        f"{name} F1-macro {format_number(staging_f1)} vs Production "
        f"{version_label(evaluation['production_version'])} {format_number(production_f1)}"
    )


def offline_lines(test: Mapping[str, Any], rows: Mapping[str, Any] | None) -> list[str]:
    """The offline verdict with the condition that decided it, the plan, and the level this run spent."""
    rows = rows or {}
    pooled = rows.get("pooled") or 0
    runs = rows.get("pooled_runs")
    earlier = f"{runs} earlier run" + ("" if runs == 1 else "s")
    on = f"{_count(test.get('n'))} rows" + (f" ({pooled} pooled from {earlier})" if pooled else "")
    interval = test.get("interval") or {}
    lines = [
        f"Offline test ({str(test.get('test') or 'n/a').replace('_', ' ')}) on {on}: ΔF1 "
        f"{format_number(test.get('observed_delta'), signed=True)}, {confidence_label(interval.get('level'))} BCa "
        f"interval [{format_number(interval.get('low'))}, {format_number(interval.get('high'))}]: "
        f"{test.get('verdict')}, because {test.get('decided_by')}",
        f"Plan: minimum detectable effect {format_number(test.get('mde'))} at {_count(test.get('n'))} rows; "
        f"{_count(test.get('required_n'))} rows needed for "
        f"{format_share(test.get('power'))} power at ΔF1 "
        f"{format_number(_sum(test.get('delta_min'), test.get('margin')), signed=True)}; α spent by this test "
        f"{_score(test.get('alpha_t'))} (test {rows.get('test_number') or 'n/a'} of the stream at α "
        f"{_score(test.get('alpha'))})",
    ]
    failed = [c for c in test.get("classes") or [] if isinstance(c, Mapping) and not c.get("passed")]
    if failed:
        lines.append(
            "Class guardrails failed: "
            + ", ".join(f"{c.get('label')} ΔF1 {format_number(c.get('delta'), signed=True)}" for c in failed)
        )
    return lines


def _sum(a: Any, b: Any) -> float | None:
    return a + b if is_finite(a) and is_finite(b) else None


def _score(value: Any) -> str:
    return f"{value:.4g}" if is_finite(value) else "n/a"


def _ab_line(ab_test: Mapping[str, Any]) -> str:
    requests = ab_test.get("requests") or {}
    errors = sum(v for v in (ab_test.get("errors") or {}).values() if isinstance(v, int))
    line = (
        f"Online via API: {ab_test.get('sample_size', 0)} rows sent (staging answered {requests.get('staging', 0)}, "
        f"production {requests.get('production', 0)})"
    )
    if errors:
        line += f", {errors} failed requests"
    evidence = ab_test.get("evidence")
    if isinstance(evidence, Mapping):
        test = evidence.get("test") or {}
        line += (
            f"; paired on {evidence.get('pairs')} labelled requests both models answered: candidate alone right "
            f"{evidence.get('staging_only')}, Production alone right {evidence.get('production_only')}, ties "
            f"{(evidence.get('both_correct') or 0) + (evidence.get('both_wrong') or 0)} (not evidence): "
            f"{test.get('verdict')}, because {test.get('decided_by')}"
        )
    else:
        line += f": {reason_text(ab_test.get('reason'))}"
    return line


def _untouched_reason(status: Status, evaluation: Mapping[str, Any] | None, promotion: Mapping[str, Any] | None) -> str:
    if status == "failed":
        return "the run failed"
    if status == "no_drift":
        return "no drift detected"
    if promotion is not None:
        return reason_text(promotion.get("reason"))
    if evaluation is not None and not evaluation.get("passed"):
        return reason_text(evaluation.get("reason"))
    return "the promotion step did not run"


def _dataset(state: RunState, drift: Mapping[str, Any] | None) -> dict[str, Any] | None:
    given = state.get("input") if isinstance(state.get("input"), Mapping) else {}
    drift = drift or {}
    dataset = {
        "name": drift.get("dataset") or given.get("dataset"),
        "batch_key": drift.get("batch_key") or given.get("batch_key"),
        "batch_rows": drift.get("batch_rows"),
        "reference_key": drift.get("reference_key"),
        "reference_rows": drift.get("reference_rows"),
    }
    return dataset if any(v is not None for v in dataset.values()) else None


def _run_id(state: RunState) -> str:
    if not isinstance(state, Mapping):
        raise InvalidRequestError("the run state must be a JSON object")
    run_id = state.get("run_id")
    if not isinstance(run_id, str) or not is_safe_id(run_id):
        raise InvalidRequestError(f"run_id {run_id!r} is not a safe identifier", field="run_id")
    return run_id


def _section(state: RunState, key: str) -> dict[str, Any] | None:
    if key not in _SECTIONS:
        raise KeyError(key)
    value = state.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidRequestError(f"run state section {key!r} must be an object", field=key)
    return dict(value)


def _mapping_or_none(section: Mapping[str, Any] | None, key: str) -> dict[str, Any] | None:
    value = (section or {}).get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidRequestError(f"{key} must be an object", field=key)
    return dict(value)


def _json_safe(value: Any, where: str) -> Any:
    """A deep copy fit for json.dumps(allow_nan=False): non-finite floats become null."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise InvalidRequestError(f"{where} holds a {type(value).__name__}, which JSON cannot carry", field=where)


def _public(value: Any) -> str | None:
    return None if value is None else redact(str(value))


def version_label(version: Any) -> str:
    """ "v4" for version "4"."""
    return f"v{version}" if version not in (None, "") else "unknown version"
