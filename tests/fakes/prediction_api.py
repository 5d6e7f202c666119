"""PredictionApi in memory: routes like the deployed API (the same sticky hash, the registry's aliases) and
answers from the fake registry's models, with switches for the failures the online gate must survive."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from mlops_core.routing import choose_variant

from tests.fakes.registry import FakeModelRegistry


@dataclass
class FakePredictionApi:
    registry: FakeModelRegistry
    production_share: float = 0.5
    base_url: str = "http://api.test"
    refuse: Callable[[str], bool] = lambda user_id: False  # answer this user's request with an error
    serve_version: dict[str, str] = field(default_factory=dict)  # variant -> version, as a stale cache would
    feedback_accepted: Callable[[str], bool] = lambda prediction_id: True
    predictions: dict[str, dict[str, Any]] = field(default_factory=dict)  # prediction id -> answer
    labels: dict[str, str] = field(default_factory=dict)  # prediction id -> feedback label

    def get_traffic(self) -> float:
        return self.production_share

    def predict(self, features: dict[str, Any], user_id: str) -> dict[str, Any] | None:
        if self.refuse(user_id):
            return None
        aliases = self.registry.aliases
        variant = choose_variant(
            self.production_share,
            key=user_id,
            has_production="production" in aliases,
            has_staging="staging" in aliases,
        )
        version = self.serve_version.get(variant, aliases[variant])
        model = self.registry.versions[version].model
        label = model.predict(pd.DataFrame([features])[model.feature_names])[0]
        prediction_id = f"{variant}-{version}-{len(self.predictions)}"
        answer = {"prediction": label, "variant": variant, "model_version": version, "prediction_id": prediction_id}
        self.predictions[prediction_id] = answer
        return answer

    def feedback(self, prediction_id: str, label: str) -> bool:
        if prediction_id not in self.predictions or not self.feedback_accepted(prediction_id):
            return False
        self.labels[prediction_id] = label
        return True
