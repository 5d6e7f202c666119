"""PredictionApi in memory: routes like the deployed API (the same sticky hash, the registry's aliases) and
answers from the fake registry's models, with switches for the failures the online gate must survive.

Like the deployed API in shadow mode, it scores every row with the other alias's model too, keeps that shadow
prediction with the answer, and counts each labelled answer that has one as a pair of its experiment (the same
pair_outcome the A/B store counts with), once per prediction id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
from mlops_core.ab_store import PAIR_OUTCOMES, pair_outcome
from mlops_core.routing import choose_variant
from mlops_core.variants import PRODUCTION, STAGING

from tests.fakes.registry import FakeModelRegistry

if TYPE_CHECKING:
    from mlops_core.ports import PairedCounts


@dataclass
class FakePredictionApi:
    registry: FakeModelRegistry
    production_share: float = 0.5
    base_url: str = "http://api.test"
    shadow_mode: bool = True  # as the API's SHADOW_MODE
    refuse: Callable[[str], bool] = lambda user_id: False  # a batch holding this user is refused whole
    serve_version: dict[str, str] = field(default_factory=dict)  # variant -> version, as a stale cache would
    feedback_status: Callable[[str], str] = lambda prediction_id: "recorded"
    predictions: dict[str, dict[str, Any]] = field(default_factory=dict)  # prediction id -> answer
    shadows: dict[str, tuple[str, Any]] = field(default_factory=dict)  # prediction id -> (version, prediction)
    labels: dict[str, str] = field(default_factory=dict)  # prediction id -> feedback label
    pairs: dict[tuple[str, str], PairedCounts] = field(default_factory=dict)  # (production, staging) versions
    batches: list[int] = field(default_factory=list)  # rows per predict call
    feedback_batches: list[int] = field(default_factory=list)  # items per feedback call
    awaited: list[dict[str, str]] = field(default_factory=list)  # versions the step waited for

    def get_traffic(self) -> float:
        return self.production_share

    def await_versions(self, expected: dict[str, str], timeout_seconds: float) -> bool:
        self.awaited.append(dict(expected))
        return self._serving() == expected

    def predict_batch(self, records: list[dict[str, Any]], user_ids: list[str]) -> list[dict[str, Any]] | None:
        self.batches.append(len(records))
        if any(self.refuse(user_id) for user_id in user_ids):
            return None
        serving = self._serving()
        frame = pd.DataFrame(records)
        # Each model once over the whole batch: in shadow mode every row is scored by both.
        scored = {version: self._predict(version, frame) for version in serving.values()}
        answers = []
        for row, user_id in enumerate(user_ids):
            variant = choose_variant(
                self.production_share,
                key=user_id,
                has_production=PRODUCTION in serving,
                has_staging=STAGING in serving,
            )
            version = serving[variant]
            prediction_id = f"{variant}-{version}-{len(self.predictions)}"
            answer = {
                "prediction": scored[version][row],
                "variant": variant,
                "model_version": version,
                "prediction_id": prediction_id,
            }
            self.predictions[prediction_id] = answer
            shadow = serving.get(STAGING if variant == PRODUCTION else PRODUCTION)
            if self.shadow_mode and shadow is not None and shadow != version:
                self.shadows[prediction_id] = (shadow, scored[shadow][row])
            answers.append(answer)
        return answers

    def feedback_batch(self, items: list[tuple[str, str]]) -> list[str]:
        self.feedback_batches.append(len(items))
        statuses = []
        for prediction_id, label in items:
            if prediction_id not in self.predictions:
                status = "rejected"
            elif prediction_id in self.labels:
                status = "duplicate"  # each prediction is labelled once, as the A/B store's markers ensure
            else:
                status = self.feedback_status(prediction_id)
            if status == "recorded":
                self.labels[prediction_id] = label
                self._count_pair(prediction_id, label)
            statuses.append(status)
        return statuses

    def paired_evidence(self, production_version: str, staging_version: str) -> PairedCounts:
        found = self.pairs.get((str(production_version), str(staging_version)))
        return dict(found) if found else _zeros()  # type: ignore[return-value]

    def _serving(self) -> dict[str, str]:
        return {variant: self.serve_version.get(variant, version) for variant, version in self.registry.aliases.items()}

    def _predict(self, version: str, frame: pd.DataFrame) -> list[Any]:
        model = self.registry.versions[version].model
        return list(model.predict(frame[model.feature_names]))

    def _count_pair(self, prediction_id: str, label: str) -> None:
        if prediction_id not in self.shadows:
            return  # answered without a shadow: labelled, but not a pair
        answer = self.predictions[prediction_id]
        shadow_version, shadow_prediction = self.shadows[prediction_id]
        served_right = str(answer["prediction"]) == str(label)
        shadow_right = str(shadow_prediction) == str(label)
        if answer["variant"] == PRODUCTION:
            experiment, outcome = (answer["model_version"], shadow_version), pair_outcome(served_right, shadow_right)
        else:
            experiment, outcome = (shadow_version, answer["model_version"]), pair_outcome(shadow_right, served_right)
        counts = self.pairs.setdefault(experiment, _zeros())
        counts["pairs"] += 1
        counts[outcome] += 1  # type: ignore[literal-required]


def _zeros() -> PairedCounts:
    return {"pairs": 0, **dict.fromkeys(PAIR_OUTCOMES, 0)}  # type: ignore[return-value]
