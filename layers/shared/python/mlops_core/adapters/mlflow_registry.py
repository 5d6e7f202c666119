"""ModelRegistry over MLflow's tracking server and registry (MLFLOW_TRACKING_URI from the environment).

The MLflow client is built on first use: importing MLflow costs a second that the steps which never touch
the registry (check_data_drift, generate_report) should not pay at cold start.

Registration claims and promotions hold leases (mlops_core.leases) in `leases`: by default the A/B table's,
when the environment names one (AB_TABLE); without any, registration and promotion are not serialised between
processes. One instance is one claimant (a Lambda container runs one invocation at a time): the claim that
find_registration takes is the one register then uses, unless the caller names its own `owner`, such as its
execution, so that a retry of a crashed step takes its own claim back at once.
"""

from __future__ import annotations

import functools
import uuid
from typing import TYPE_CHECKING, Any

from mlops_core.registry import UNCHECKED, Unchecked
from mlops_core.variants import PRODUCTION

if TYPE_CHECKING:
    from mlops_core.leases import LeaseStore
    from mlops_core.registry import LoadedModel, ModelRegistry, PromotionRecord
    from mlops_core.training import Registration, TrainedModel


class MlflowModelRegistry:
    def __init__(
        self,
        model_name: str,
        *,
        experiment_name: str,
        leases: LeaseStore | None = None,
        owner: str | None = None,
        registration_lease_seconds: float | None = None,
    ) -> None:
        """`registration_lease_seconds`: how long a registration claim lasts without its holder (by default
        training.register.REGISTRATION_LEASE_SECONDS, which fits the train function); set it above the
        longest training when training runs elsewhere for longer."""
        self._model_name = model_name
        self._lease_options = (
            {} if registration_lease_seconds is None else {"lease_seconds": registration_lease_seconds}
        )
        self.experiment_name = experiment_name  # where training runs are logged
        self._given_leases = leases
        self._owner = owner or f"registry#{uuid.uuid4().hex[:16]}"
        self._claims: dict[str, str] = {}  # idempotency key -> the owner that claimed it here

    @property
    def model_name(self) -> str:
        return self._model_name

    @functools.cached_property
    def leases(self) -> LeaseStore | None:
        if self._given_leases is not None:
            return self._given_leases
        from mlops_core.adapters.dynamodb_leases import leases_from_environment

        return leases_from_environment()

    @functools.cached_property
    def _registry(self) -> ModelRegistry:
        from mlops_core.registry import ModelRegistry

        return ModelRegistry(model_name=self._model_name, leases=self.leases)

    def production_version(self) -> str | None:
        info = self._registry.version_for(PRODUCTION)
        return None if info is None else str(info.version)

    def load_version(self, version: str) -> LoadedModel:
        return self._registry.load_version(version)

    def find_registration(self, idempotency_key: str, *, owner: str | None = None) -> Registration | None:
        from mlops_core.training.register import claim_registration, reuse_registration

        client = self._registry.client
        if self.leases is None:
            return reuse_registration(client, self._model_name, idempotency_key)
        owner = self._claims[idempotency_key] = owner or self._owner
        return claim_registration(
            client, self._model_name, idempotency_key, leases=self.leases, owner=owner, **self._lease_options
        )

    def register(self, trained: TrainedModel, **evidence: Any) -> Registration:
        """`evidence` as in the ModelRegistry port: train_uris, holdout_uri, drift_summary, idempotency_key,
        params."""
        from mlops_core.training import register_candidate

        owner = self._claims.pop(evidence.get("idempotency_key", ""), self._owner)
        return register_candidate(
            trained,
            model_name=self._model_name,
            experiment_name=self.experiment_name,
            leases=self.leases,
            owner=owner,
            **self._lease_options,
            **evidence,
        )

    def promote(
        self,
        version: str,
        *,
        actor: str,
        reason: str,
        evidence: dict[str, Any],
        expected_production: str | Unchecked | None = UNCHECKED,
    ) -> PromotionRecord:
        return self._registry.promote(
            version, actor=actor, reason=reason, evidence=evidence, expected_production=expected_production
        )

    def record_evidence(self, version: str, *, metrics: dict[str, float], tags: dict[str, str]) -> None:
        self._registry.record_evidence(version, metrics=metrics, tags=tags)

    def staged_version(self) -> dict[str, Any] | None:
        return self._registry.staged_version()

    def retire(self, version: str, *, actor: str, reason: str) -> None:
        self._registry.retire(version, actor=actor, reason=reason)
