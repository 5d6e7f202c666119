"""Evidently's own DataDriftPreset HTML, for people to read. The verdict never comes from here.

Evidently is imported inside these functions only: its import alone takes seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_core.drift.kinds import resolve_column_kinds
from mlops_core.exceptions import DataValidationError, InvalidRequestError

if TYPE_CHECKING:
    import pandas as pd
    from evidently import DataDefinition


@dataclass(frozen=True)
class DriftReportHtml:
    html: str
    sampled: bool
    rows_used: dict[str, int]  # {"reference": ..., "current": ...}


def evidently_data_definition(
    reference: pd.DataFrame,
    *,
    target: str | None,
    numerical: list[str] | None = None,
    categorical: list[str] | None = None,
) -> DataDefinition:
    """The DataDefinition that types every column exactly as `build_profile` does from the same inputs.

    Every other list is set empty so Evidently infers nothing of its own (it would add text columns, say).
    The target goes in as a plain column: Evidently's DataDriftPreset gives it no special test anyway.
    """
    from evidently import DataDefinition

    kinds = resolve_column_kinds(reference, target=target, numerical=numerical, categorical=categorical)
    return DataDefinition(
        numerical_columns=list(kinds.numerical),
        categorical_columns=list(kinds.categorical),
        text_columns=[],
        datetime_columns=[],
        unknown_columns=[],
        list_columns=[],
    )


def _bounded(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    return frame.sample(n=max_rows, random_state=seed) if len(frame) > max_rows else frame


def _sample_note(reference_rows: tuple[int, int], current_rows: tuple[int, int]) -> str:
    return (
        '<div style="margin:8px;padding:10px 14px;border:1px solid #d9a400;background:#fff6d6;'
        'font-family:sans-serif;font-size:14px">'
        "<strong>Sampled report.</strong> This report was computed on a random sample of "
        f"{reference_rows[0]:,} of {reference_rows[1]:,} reference rows and "
        f"{current_rows[0]:,} of {current_rows[1]:,} current rows. "
        "The drift verdict of the pipeline comes from the full data, not from this sample."
        "</div>"
    )


def _inject_at_top(html: str, note: str) -> str:
    body = html.find("<body")
    if body == -1:
        return note + html
    end = html.find(">", body) + 1
    return html[:end] + note + html[end:]


def render_drift_report_html(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    target: str | None,
    numerical: list[str] | None = None,
    categorical: list[str] | None = None,
    max_rows: int = 20000,
    seed: int = 0,
    drift_share: float = 0.5,
) -> DriftReportHtml:
    """Evidently's DataDriftPreset report on at most `max_rows` randomly sampled rows of each side."""
    if max_rows < 1:
        raise InvalidRequestError(f"max_rows must be at least 1, got {max_rows!r}", "max_rows")
    if len(reference) == 0 or len(current) == 0:
        raise DataValidationError("reference data and current batch must both have rows")
    definition = evidently_data_definition(reference, target=target, numerical=numerical, categorical=categorical)
    missing = [c for c in [*definition.numerical_columns, *definition.categorical_columns] if c not in current]
    if missing:
        raise DataValidationError(f"current batch lacks monitored column(s) {missing}")
    ref_sample = _bounded(reference, max_rows, seed)
    cur_sample = _bounded(current, max_rows, seed)

    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    try:
        snapshot = Report([DataDriftPreset(drift_share=drift_share)]).run(
            Dataset.from_pandas(cur_sample, data_definition=definition),
            Dataset.from_pandas(ref_sample, data_definition=definition),
        )
    except ValueError as error:  # Evidently's way of refusing, e.g. a column with no value in the sample
        raise DataValidationError(f"Evidently could not build the drift report: {error}") from error
    html = snapshot.get_html_str(as_iframe=False)
    sampled = len(ref_sample) < len(reference) or len(cur_sample) < len(current)
    if sampled:
        html = _inject_at_top(html, _sample_note((len(ref_sample), len(reference)), (len(cur_sample), len(current))))
    return DriftReportHtml(html, sampled, {"reference": len(ref_sample), "current": len(cur_sample)})
