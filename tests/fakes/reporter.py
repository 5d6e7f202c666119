"""DriftReporter and Clock stand-ins: a fixed page and a fixed time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from mlops_core.drift import DriftReportHtml


@dataclass
class FakeDriftReporter:
    calls: list[dict[str, Any]] = field(default_factory=list)

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
        reference_rows: int | None = None,
    ) -> DriftReportHtml:
        self.calls.append(
            {
                "target": target,
                "numerical": numerical,
                "categorical": categorical,
                "drift_share": drift_share,
                "reference_rows": reference_rows,
                "columns": list(current.columns),
            }
        )
        rows = {"reference": min(len(reference), max_rows), "current": min(len(current), max_rows)}
        sampled = max(len(reference), reference_rows or 0) > rows["reference"] or len(current) > max_rows
        return DriftReportHtml(f"<html><body>drift report {len(self.calls)}</body></html>", sampled, rows)


@dataclass
class FixedClock:
    at: datetime = datetime(2026, 11, 28, 6, 0, 5, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at
