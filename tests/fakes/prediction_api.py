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
    refuse: Callable[[str], bool] = lambda user_id: False  # a batch holding this user is refused whole
    serve_version: dict[str, str] = field(default_factory=dict)  # variant -> version, as a stale cache would
    feedback_status: Callable[[str], str] = lambda prediction_id: "recorded"
    predictions: dict[str, dict[str, Any]] = field(default_factory=dict)  # prediction id -> answer
    labels: dict[str, str] = field(default_factory=dict)  # prediction id -> feedback label
    batches: list[int] = field(default_factory=list)  # rows per predict call
    feedback_batches: list[int] = field(default_factory=list)  # items per feedback call
    awaited: list[dict[str, str]] = field(default_factory=list)  # versions the step waited for

    def get_traffic(self) -> float:
        return self.production_share

    def await_versions(self, expected: dict[str, str], timeout_seconds: float) -> bool:
        self.awaited.append(dict(expected))
        serving = {
            variant: self.serve_version.get(variant, version) for variant, version in self.registry.aliases.items()
        }
        return serving == expected

    def predict_batch(self, records: list[dict[str, Any]], user_ids: list[str]) -> list[dict[str, Any]] | None:
        self.batches.append(len(records))
        if any(self.refuse(user_id) for user_id in user_ids):
            return None
        return [self._predict(record, user_id) for record, user_id in zip(records, user_ids, strict=True)]

    def _predict(self, features: dict[str, Any], user_id: str) -> dict[str, Any]:
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

    def feedback_batch(self, items: list[tuple[str, str]]) -> list[str]:
        self.feedback_batches.append(len(items))
        statuses = []
        for prediction_id, label in items:
            status = self.feedback_status(prediction_id) if prediction_id in self.predictions else "rejected"
            if status == "recorded":
                self.labels[prediction_id] = label
            statuses.append(status)
        return statuses
