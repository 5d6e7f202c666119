"""DriftReporter over Evidently's DataDriftPreset HTML (mlops_core.drift.evidently_report)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.drift import DriftReportHtml


class EvidentlyReporter:
    def render(
        self,
        reference: pd.DataFrame,
        current: pd.DataFrame,
        *,
        target: str,
        numerical: list[str],
        categorical: list[str],
        max_rows: int,
        drift_share: float,
    ) -> DriftReportHtml:
        from mlops_core.drift import render_drift_report_html

        return render_drift_report_html(
            reference,
            current,
            target=target,
            numerical=numerical,
            categorical=categorical,
            max_rows=max_rows,
            drift_share=drift_share,
        )
