"""run_ab_test: Online gate: the held-out rows through the running API's /predict, scored per variant."""

from __future__ import annotations

from typing import Any

from mlops_core.pipeline import ab_test
from mlops_core.pipeline.bootstrap import deps
from mlops_core.pipeline.handler import step_handler


@step_handler("run_ab_test")
def lambda_handler(state: dict[str, Any], context: Any) -> dict[str, Any]:
    return ab_test.run(state, deps())
