"""ModelRegistry in memory: versions, the two aliases, idempotency keys and a promotion log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mlops_core.exceptions import NotFoundError
from mlops_core.registry import PromotionRecord
from mlops_core.training import Registration, TrainedModel

from tests.fakes.models import RuleModel


@dataclass
class Registered:
    model: RuleModel
    idempotency_key: str | None = None
    registration: Registration | None = None
    evidence: dict[str, Any] | None = None  # what register() was given besides the model


class FakeModelRegistry:
    def __init__(self, model_name: str = "iris-classifier") -> None:
        self._model_name = model_name
        self.versions: dict[str, Registered] = {}
        self.aliases: dict[str, str] = {}
        self.promotions: list[PromotionRecord] = []
        self.loaded: list[str] = []

    @property
    def model_name(self) -> str:
        return self._model_name

    # set-up helpers for tests
    def add(self, model: RuleModel, *, alias: str | None = None) -> str:
        version = str(len(self.versions) + 1)
        model.version = version
        self.versions[version] = Registered(model)
        if alias:
            self.aliases[alias] = version
        return version

    # the port
    def production_version(self) -> str | None:
        return self.aliases.get("production")

    def load_version(self, version: str) -> RuleModel:
        if version not in self.versions:
            raise NotFoundError(f"model {self._model_name} has no version {version!r}")
        self.loaded.append(version)
        return self.versions[version].model

    def find_registration(self, idempotency_key: str) -> Registration | None:
        for version, registered in self.versions.items():
            if registered.idempotency_key == idempotency_key and registered.registration is not None:
                self.aliases["staging"] = version
                return Registration(**{**registered.registration, "reused": True})
        return None

    def register(
        self,
        trained: TrainedModel,
        *,
        train_uris: Sequence[str],
        holdout_uri: str,
        drift_summary: Mapping[str, Any],
        idempotency_key: str,
        params: Mapping[str, Any],
    ) -> Registration:
        version = self.add(trained.pipeline, alias="staging")
        registration = Registration(
            model_name=self._model_name,
            model_version=version,
            mlflow_run_id=f"run-{version}",
            algorithm=trained.algorithm,
            metrics=trained.cv_metrics,
            reused=False,
        )
        self.versions[version] = replace(
            self.versions[version],
            idempotency_key=idempotency_key,
            registration=registration,
            evidence={
                "train_uris": list(train_uris),
                "holdout_uri": holdout_uri,
                "drift_summary": dict(drift_summary),
                "params": dict(params),
            },
        )
        return registration

    def promote(self, version: str, *, actor: str, reason: str, evidence: dict[str, Any]) -> PromotionRecord:
        if version not in self.versions:
            raise NotFoundError(f"model {self._model_name} has no version {version!r}")
        previous = self.aliases.get("production")
        self.aliases["production"] = version
        if self.aliases.get("staging") == version:
            del self.aliases["staging"]
        record = PromotionRecord(
            self._model_name, "promote", version, previous, "2026-01-01T00:00:00.000Z", actor, reason, evidence
        )
        self.promotions.append(record)
        return record
