"""Trainer over PyCaret's AutoML (mlops_core.training.automl), imported on first use: it takes seconds."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.training import TrainedModel


class AutomlTrainer:
    def train(
        self,
        frame: pd.DataFrame,
        target: str,
        *,
        categorical: list[str],
        budget_seconds: float,
        seed: int,
        include: list[str] | None,
    ) -> TrainedModel:
        from mlops_core.training import train_best_model

        return train_best_model(
            frame, target, categorical=categorical, budget_seconds=budget_seconds, seed=seed, include=include
        )
