"""TrainModel as a job: `python3 -m mlops_core.jobs.train_model`, the train step that TrainModelFunction runs.

Exits 0 when the TrainingOutput is in S3, 1 when the step failed (its error is the last log line), 2 when the
task was started without its input and output keys.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

from mlops_core.jobs.step_job import JobConfigError, run_step_job
from mlops_core.pipeline.handler import log_event, step_handler


@step_handler("train_model")
def _train(state: dict[str, Any], context: Any) -> dict[str, Any]:
    from mlops_core.pipeline import train
    from mlops_core.pipeline.bootstrap import deps

    return dict(train.run(state, deps()))


def main() -> int:
    from mlops_core.pipeline.bootstrap import deps

    try:
        run_step_job(os.environ, deps().data, _train)
    except JobConfigError as exc:
        log_event(step="train_model", phase="config_error", error=type(exc).__name__, message=str(exc))
        return 2
    except Exception:
        # step_handler already logged the error as a JSON line; the traceback helps whoever reads the task's log.
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
