"""promote_if_better: Moves the production alias only when both gates pass."""

from __future__ import annotations

from typing import Any

from mlops_core.pipeline import promote
from mlops_core.pipeline.bootstrap import deps
from mlops_core.pipeline.handler import step_handler


@step_handler("promote_if_better")
def lambda_handler(state: dict[str, Any], context: Any) -> dict[str, Any]:
    return promote.run(state, deps())
