"""check_data_drift: Per-column drift of the run's batch against the baseline's stored reference profile."""

from __future__ import annotations

from typing import Any

from mlops_core.pipeline import check_drift
from mlops_core.pipeline.bootstrap import deps
from mlops_core.pipeline.handler import step_handler


@step_handler("check_data_drift")
def lambda_handler(state: dict[str, Any], context: Any) -> dict[str, Any]:
    return check_drift.run(state, deps())
