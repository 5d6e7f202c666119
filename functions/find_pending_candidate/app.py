"""find_pending_candidate: Names the candidate waiting in Staging for online evidence, if any."""

from __future__ import annotations

from typing import Any

from mlops_core.pipeline import pending
from mlops_core.pipeline.bootstrap import deps
from mlops_core.pipeline.handler import step_handler


@step_handler("find_pending_candidate")
def lambda_handler(state: dict[str, Any], context: Any) -> dict[str, Any]:
    return pending.run(state, deps())
