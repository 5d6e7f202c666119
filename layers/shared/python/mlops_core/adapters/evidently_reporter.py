"""DriftReporter over Evidently's DataDriftPreset HTML (mlops_core.drift.evidently_report)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.drift import DriftReportHtml


class EvidentlyReporter:
    def render(self, reference: pd.DataFrame, current: pd.DataFrame, **options: Any) -> DriftReportHtml:
        """`options` as in the DriftReporter port: target, numerical, categorical, max_rows, drift_share."""
        from mlops_core.drift import render_drift_report_html

        return render_drift_report_html(reference, current, **options)
