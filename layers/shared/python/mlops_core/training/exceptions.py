"""Errors of the training package, under the library's one base error."""

from __future__ import annotations

from mlops_core.exceptions import MlopsError


class TrainingError(MlopsError):
    """No model could be trained on the data."""


# Where training that cannot finish inside a Lambda invocation goes instead.
JOB_PATH = "the job path (template parameter TrainingJobThresholdRows)"


class TrainingBudgetError(TrainingError):
    """Training would not finish in the time the step has left; the message names the figures and the job path."""
