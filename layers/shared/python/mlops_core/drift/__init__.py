"""Exact, fast data-drift detection with the tests and thresholds of Evidently 0.7's DataDriftPreset."""

from mlops_core.drift.detect import ColumnDriftResult, DriftResult, detect_drift
from mlops_core.drift.evidently_report import (
    DriftReportHtml,
    EvidentlyInputs,
    evidently_data_definition,
    evidently_inputs,
    render_drift_report_html,
)
from mlops_core.drift.kinds import ColumnKinds, infer_kind, resolve_column_kinds
from mlops_core.drift.profile import NumericalProfile, ReferenceProfile, build_profile
from mlops_core.drift.schema import as_text, cast_column, category_keys

__all__ = [
    "ColumnDriftResult",
    "ColumnKinds",
    "DriftReportHtml",
    "DriftResult",
    "EvidentlyInputs",
    "NumericalProfile",
    "ReferenceProfile",
    "as_text",
    "build_profile",
    "cast_column",
    "category_keys",
    "detect_drift",
    "evidently_data_definition",
    "evidently_inputs",
    "infer_kind",
    "render_drift_report_html",
    "resolve_column_kinds",
]
