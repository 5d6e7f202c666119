"""evaluate_candidate: Offline gate: paired bootstrap of delta F1-macro, Staging vs Production, on held-out rows."""

from __future__ import annotations

from typing import Any

from mlops_core.pipeline import evaluate
from mlops_core.pipeline.bootstrap import deps
from mlops_core.pipeline.handler import step_handler


@step_handler("evaluate_candidate")
def lambda_handler(state: dict[str, Any], context: Any) -> dict[str, Any]:
    return evaluate.run(state, deps())
