"""ModelRegistry over MLflow's tracking server and registry (MLFLOW_TRACKING_URI from the environment).

The MLflow client is built on first use: importing MLflow costs a second that the steps which never touch
the registry (check_data_drift, generate_report) should not pay at cold start.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from mlops_core.variants import PRODUCTION

if TYPE_CHECKING:
    from mlops_core.registry import LoadedModel, ModelRegistry, PromotionRecord
    from mlops_core.training import Registration, TrainedModel


class MlflowModelRegistry:
    def __init__(self, model_name: str, *, experiment_name: str) -> None:
        self._model_name = model_name
        self.experiment_name = experiment_name  # where training runs are logged

    @property
    def model_name(self) -> str:
        return self._model_name

    @functools.cached_property
    def _registry(self) -> ModelRegistry:
        from mlops_core.registry import ModelRegistry

        return ModelRegistry(model_name=self._model_name)

    def production_version(self) -> str | None:
        info = self._registry.version_for(PRODUCTION)
        return None if info is None else str(info.version)

    def load_version(self, version: str) -> LoadedModel:
        return self._registry.load_version(version)

    def find_registration(self, idempotency_key: str) -> Registration | None:
        from mlops_core.training import reuse_registration

        return reuse_registration(self._registry.client, self._model_name, idempotency_key)

    def register(self, trained: TrainedModel, **evidence: Any) -> Registration:
        """`evidence` as in the ModelRegistry port: train_uris, holdout_uri, drift_summary, idempotency_key,
        params."""
        from mlops_core.training import register_candidate

        return register_candidate(
            trained, model_name=self._model_name, experiment_name=self.experiment_name, **evidence
        )

    def promote(self, version: str, *, actor: str, reason: str, evidence: dict[str, Any]) -> PromotionRecord:
        return self._registry.promote(version, actor=actor, reason=reason, evidence=evidence)

    def record_evidence(self, version: str, *, metrics: dict[str, float], tags: dict[str, str]) -> None:
        self._registry.record_evidence(version, metrics=metrics, tags=tags)

    def staged_version(self) -> dict[str, Any] | None:
        return self._registry.staged_version()

    def retire(self, version: str, *, actor: str, reason: str) -> None:
        self._registry.retire(version, actor=actor, reason=reason)
