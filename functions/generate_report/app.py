"""generate_report: Writes the run's JSON and HTML reports on every path: no drift, promoted, blocked, failed."""

from __future__ import annotations

from typing import Any

from mlops_core.pipeline import report
from mlops_core.pipeline.bootstrap import deps
from mlops_core.pipeline.handler import step_handler


@step_handler("generate_report")
def lambda_handler(state: dict[str, Any], context: Any) -> dict[str, Any]:
    return report.run(state, deps())
