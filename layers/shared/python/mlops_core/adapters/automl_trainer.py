"""Trainer over PyCaret's AutoML (mlops_core.training.automl), imported on first use: it takes seconds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.training import TrainedModel


class AutomlTrainer:
    def train(self, frame: pd.DataFrame, target: str, **options: Any) -> TrainedModel:
        """`options` as in the Trainer port: categorical, budget_seconds, seed, include, time_left_seconds."""
        from mlops_core.training import train_best_model

        return train_best_model(frame, target, **options)
