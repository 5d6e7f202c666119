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
        features = [c for c in frame.columns if c != target]
        self.calls.append(
            {
                "frame": frame,
                "target": target,
                "categorical": categorical,
                "budget_seconds": budget_seconds,
                "seed": seed,
                "include": include,
            }
        )
        return TrainedModel(
            pipeline=RuleModel(self.rule, features),
            algorithm="FakeClassifier",
            cv_metrics={"accuracy": 0.9, "precision_macro": 0.9, "recall_macro": 0.9, "f1_macro": 0.9},
            target=target,
            features=features,
            categorical=categorical,
            classes=sorted(frame[target].astype(str).unique()),
            sample=frame[features].head(5),
        )
