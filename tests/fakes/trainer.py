"""Trainer that fits nothing: it hands back a preset model and records what it was asked to train on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from mlops_core.training import TrainedModel

from tests.fakes.models import Rule, RuleModel, constant


@dataclass
class FakeTrainer:
    rule: Rule = field(default_factory=lambda: constant("setosa"))
    calls: list[dict[str, Any]] = field(default_factory=list)
    error: Exception | None = None  # raised by train() after recording the call, e.g. a TrainingBudgetError

    def train(
        self,
        frame: pd.DataFrame,
        target: str,
        *,
        categorical: list[str],
        budget_seconds: float,
        seed: int,
        include: list[str] | None,
        time_left_seconds: float | None = None,
    ) -> TrainedModel:
        features = [c for c in frame.columns if c != target]
        self.calls.append(
            {
                "frame": frame,
                "target": target,
                "categorical": categorical,
                "budget_seconds": budget_seconds,
                "seed": seed,
                "include": include,
                "time_left_seconds": time_left_seconds,
            }
        )
        if self.error is not None:
            raise self.error
        rows = len(frame.index)
        return TrainedModel(
            pipeline=RuleModel(self.rule, features),
            algorithm="FakeClassifier",
            cv_metrics={"accuracy": 0.9, "precision_macro": 0.9, "recall_macro": 0.9, "f1_macro": 0.9},
            target=target,
            features=features,
            categorical=categorical,
            classes=sorted(frame[target].astype(str).unique()),
            sample=frame[features].head(5),
            plan={
                "total_rows": rows,
                "sample_rows": rows,
                "probe_rows": rows,
                "folds": 5,
                "budget_seconds": budget_seconds,
                "in_worker": False,
                "models_tried": list(include or ["lr"]),
                "models_skipped": {},
                "fit_seconds": {m: 0.1 for m in include or ["lr"]},
                "final_fit_estimate_seconds": 0.1,
                "final_fit_seconds": 0.1,
            },
        )
