"""check_data_drift: the batch against the baseline's stored reference profile, plus a drift report to read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_core import layout
from mlops_core.contracts import DriftOutput
from mlops_core.data import put_if_absent, read_table, resolve_batch_key, validate_batch
from mlops_core.exceptions import InvalidRequestError
from mlops_core.pipeline import reference as references
from mlops_core.pipeline.context import run_context, run_input

if TYPE_CHECKING:
    from mlops_core.pipeline.deps import Deps


def run(state: dict[str, Any], deps: Deps) -> DriftOutput:
    from mlops_core.drift import detect_drift

    ctx = run_context(state, deps)
    config, settings = ctx.config, deps.settings
    requested = run_input(state).get("batch_key")
    if requested is not None and not isinstance(requested, str):
        raise InvalidRequestError(f"batch_key must be a string, got {type(requested).__name__}", field="batch_key")
    batch_key = resolve_batch_key(deps.data, ctx.dataset, requested)
    reference = references.load_or_build(deps.data, config, sample_rows=settings.drift_report_max_rows)

    batch = read_table(deps.data, batch_key, categorical=reference.categorical)
    source = f"batch {deps.data.uri(batch_key)}"
    validate_batch(batch, config, reference.dtypes, reference_labels=reference.labels, source=source)
    profile = reference.profile
    # Cast inside to the baseline's types, so 1, 1.0 and "1" are one class whatever the file format.
    result = detect_drift(
        profile,
        batch[profile.columns],
        drift_share=settings.drift_share,
        target_in_share=settings.target_in_drift_share,
        source=source,
        exact_column=reference.exact_column,
    )

    report = deps.drift_reporter.render(
        reference.sample,
        batch[profile.columns],
        target=config.target,
        numerical=[c for c in profile.columns if profile.kind(c) == "num"],
        categorical=[c for c in profile.columns if profile.kind(c) == "cat" and c != config.target],
        max_rows=settings.drift_report_max_rows,
        drift_share=settings.drift_share,
        reference_rows=reference.rows,
    )
    report_key = layout.drift_report_key(ctx.run_id)
    # A retried step renders the same run again; the first rendering stands.
    put_if_absent(deps.reports, report_key, report.html.encode(), content_type="text/html")

    verdict = result.to_dict()
    return DriftOutput(
        dataset=ctx.dataset,
        batch_key=batch_key,
        batch_rows=len(batch),
        reference_key=config.baseline_key,
        reference_rows=reference.rows,
        profile_prefix=reference.prefix,
        column_kinds=dict(reference.kinds),
        detected=verdict["detected"],
        share_of_drifted_columns=verdict["share_of_drifted_columns"],
        number_of_drifted_columns=verdict["number_of_drifted_columns"],
        number_of_columns=verdict["number_of_columns"],
        drift_share=verdict["drift_share"],
        columns=verdict["columns"],
        excluded_columns=verdict["excluded_columns"],
        target_drift=verdict["target_drift"],
        report_key=report_key,
        # The stored reference sample is itself bounded, so the report's own flag can miss that side.
        report_sampled=report.sampled
        or report.rows_used["reference"] < reference.rows
        or report.rows_used["current"] < len(batch),
        report_rows=report.rows_used,
    )
