"""train_model: AutoML retraining on baseline + drifted training part; registers the candidate as staging."""

from __future__ import annotations

from typing import Any

from mlops_core.pipeline import train
from mlops_core.pipeline.bootstrap import deps
from mlops_core.pipeline.deps import for_invocation
from mlops_core.pipeline.handler import step_handler


@step_handler("train_model")
def lambda_handler(state: dict[str, Any], context: Any) -> dict[str, Any]:
    return train.run(state, for_invocation(deps(), context))
