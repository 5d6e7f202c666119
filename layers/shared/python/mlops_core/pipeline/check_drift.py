"""check_data_drift: the batch against the baseline's stored reference profile, plus Evidently's HTML report."""

from __future__ import annotations

from typing import Any

from mlops_core import layout, settings
from mlops_core.contracts import DriftOutput
from mlops_core.data import put_once, read_table, resolve_batch_key, validate_batch
from mlops_core.exceptions import InvalidRequestError
from mlops_core.pipeline import reference as references
from mlops_core.pipeline.context import run_context, run_input


def run(state: dict[str, Any]) -> DriftOutput:
    from mlops_core.drift import detect_drift, render_drift_report_html

    ctx = run_context(state)
    config = ctx.config
    max_rows = settings.get_int(settings.DRIFT_REPORT_MAX_ROWS)
    requested = run_input(state).get("batch_key")
    if requested is not None and not isinstance(requested, str):
        raise InvalidRequestError(f"batch_key must be a string, got {type(requested).__name__}", field="batch_key")
    batch_key = resolve_batch_key(ctx.s3, ctx.data_bucket, ctx.dataset, requested)
    reference = references.load_or_build(ctx.s3, ctx.data_bucket, config, sample_rows=max_rows)

    batch = read_table(ctx.s3, ctx.data_bucket, batch_key, categorical=reference.categorical)
    validate_batch(
        batch,
        config,
        reference.dtypes,
        reference_labels=reference.labels,
        source=f"batch s3://{ctx.data_bucket}/{batch_key}",
    )
    columns = list(reference.kinds)
    result = detect_drift(reference.profile, batch[columns], drift_share=settings.get_float(settings.DRIFT_SHARE))

    report = render_drift_report_html(
        reference.sample,
        batch[columns],
        target=config.target,
        numerical=reference.numerical,
        categorical=[c for c in reference.categorical if c != config.target],
        max_rows=max_rows,
    )
    report_key = layout.drift_report_key(ctx.run_id)
    # A retried step renders the same run again; the first rendering stands.
    put_once(
        ctx.s3, ctx.reports_bucket, report_key, report.html.encode(), same=lambda _: True, content_type="text/html"
    )

    verdict = result.to_dict()
    return DriftOutput(
        dataset=ctx.dataset,
        batch_key=batch_key,
        batch_rows=len(batch),
        reference_key=config.baseline_key,
        reference_rows=reference.rows,
        profile_prefix=reference.prefix,
        detected=verdict["detected"],
        share_of_drifted_columns=verdict["share_of_drifted_columns"],
        number_of_drifted_columns=verdict["number_of_drifted_columns"],
        number_of_columns=verdict["number_of_columns"],
        drift_share=verdict["drift_share"],
        columns=verdict["columns"],
        report_key=report_key,
        report_sampled=report.sampled,
        report_rows=report.rows_used,
    )
