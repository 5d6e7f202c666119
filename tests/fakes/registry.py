"""ModelRegistry in memory: versions, the two aliases, idempotency keys, gate evidence and a promotion log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mlops_core import gate_tags
from mlops_core.exceptions import InvalidRequestError, NotFoundError, ProductionChangedError
from mlops_core.registry import UNCHECKED, PromotionRecord, Unchecked
from mlops_core.training import Registration, TrainedModel

from tests.fakes.models import RuleModel


@dataclass
class Registered:
    model: RuleModel
    idempotency_key: str | None = None
    registration: Registration | None = None
    evidence: dict[str, Any] | None = None  # what register() was given besides the model
    tags: dict[str, str] = field(default_factory=dict)  # the version's tags
    run_metrics: dict[str, float] = field(default_factory=dict)  # the metrics of the run that produced it
    run_tags: dict[str, str] = field(default_factory=dict)
    created_at: str = "2026-01-01T00:00:00.000Z"


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
        model = self._registered(version).model
        self.loaded.append(version)
        return model

    def find_registration(self, idempotency_key: str, *, owner: str | None = None) -> Registration | None:
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

    def promote(
        self,
        version: str,
        *,
        actor: str,
        reason: str,
        evidence: dict[str, Any],
        expected_production: str | Unchecked | None = UNCHECKED,
    ) -> PromotionRecord:
        self._registered(version)
        previous = self.aliases.get("production")
        if expected_production is not UNCHECKED and previous not in (expected_production, version):
            raise ProductionChangedError(
                f"model {self._model_name}: Production is {previous}, not {expected_production}; nothing was promoted"
            )
        self.aliases["production"] = version
        if self.aliases.get("staging") == version:
            del self.aliases["staging"]
        record = PromotionRecord(
            self._model_name, "promote", version, previous, "2026-01-01T00:00:00.000Z", actor, reason, evidence
        )
        self.promotions.append(record)
        return record

    def record_evidence(self, version: str, *, metrics: dict[str, float], tags: dict[str, str]) -> None:
        registered = self._registered(version)
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in metrics.values()):
            raise InvalidRequestError(f"every metric must be a number, got {metrics!r}", field="metrics")
        registered.run_metrics.update({k: float(v) for k, v in metrics.items()})
        values = {k: gate_tags.tag_value(v) for k, v in tags.items()}
        registered.tags.update(values)
        registered.run_tags.update(values)

    def staged_version(self) -> dict[str, Any] | None:
        version = self.aliases.get("staging")
        if version is None:
            return None
        registered = self.versions[version]
        return {
            "version": version,
            "tags": dict(registered.tags),
            "run_id": f"run-{version}",
            "created_at": registered.created_at,
        }

    def retire(self, version: str, *, actor: str, reason: str) -> None:
        if not actor.strip() or not reason.strip():
            raise InvalidRequestError("actor and reason must be non-empty strings")
        self._registered(version).tags.update(
            {gate_tags.STATE: gate_tags.RETIRED, gate_tags.RETIRED_BY: actor, gate_tags.RETIRED_REASON: reason}
        )
        if self.aliases.get("staging") == version:
            del self.aliases["staging"]

    def _registered(self, version: str) -> Registered:
        if version not in self.versions:
            raise NotFoundError(f"model {self._model_name} has no version {version!r}")
        return self.versions[version]
