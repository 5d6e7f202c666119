"""Errors of the training package, under the library's one base error."""

from __future__ import annotations

from mlops_core.exceptions import MlopsError


class TrainingError(MlopsError):
    """No model could be trained on the data."""
