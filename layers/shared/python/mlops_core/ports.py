"""The small interfaces the pipeline services take instead of building clients themselves.

Each port names only the calls a service makes. `mlops_core.adapters` implements them over S3, MLflow,
PyCaret, Evidently and HTTP; the tests implement them in memory. `mlops_core.pipeline.bootstrap` builds the
real ones once per container and hands them to every step as one `Deps`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_core.drift import DriftReportHtml
    from mlops_core.registry import PromotionRecord, Unchecked
    from mlops_core.training import Registration, TrainedModel


@dataclass(frozen=True)
class StoredObject:
    key: str
    etag: str
    last_modified: datetime
    size: int


class ObjectStore(Protocol):
    """One bucket. Writes are create-only: nothing the pipeline stores is ever replaced."""

    @property
    def bucket(self) -> str: ...

    def uri(self, key: str) -> str:
        """Where the object lives, for people and for MLflow (s3://bucket/key)."""
        ...

    def get(self, key: str) -> bytes:
        """The object's content; NotFoundError when there is none."""
        ...

    def head(self, key: str) -> StoredObject | None:
        """The object's metadata, or None when it does not exist."""
        ...

    def put_new(self, key: str, body: bytes, content_type: str | None = None) -> None:
        """Create the object; ObjectExistsError when the key is taken, even by a concurrent writer."""
        ...

    def list(self, prefix: str) -> Iterator[StoredObject]:
        """Every object whose key starts with `prefix`."""
        ...

    def put(self, key: str, body: bytes, content_type: str | None = None) -> None:
        """Create or replace the object. Only for views rebuilt from create-only objects (the reports index),
        never for a record of what a run did."""
        ...


class Predictor(Protocol):
    """A registered model version loaded for scoring: the raw feature columns in, original labels out."""

    @property
    def version(self) -> str: ...

    @property
    def feature_names(self) -> list[str]: ...

    def predict(self, df: pd.DataFrame) -> np.ndarray: ...


class ModelRegistry(Protocol):
    """The one registered model of the stack's dataset, as the pipeline uses it."""

    @property
    def model_name(self) -> str: ...

    def production_version(self) -> str | None:
        """The version under the `production` alias, or None before the first promotion."""
        ...

    def load_version(self, version: str) -> Predictor:
        """One exact version, whatever the aliases say; NotFoundError for an unknown one."""
        ...

    def find_registration(self, idempotency_key: str, *, owner: str | None = None) -> Registration | None:
        """The version registered for this key, with `staging` pointed back at it; else None, and then the
        caller holds the key's claim (for `owner`, by default this registry's own) and register() follows.
        While another execution holds the claim, waits for its version (LeaseTimeoutError past the bound)."""
        ...

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
        """Log `trained` with its evidence, register it as a new version and alias it `staging`."""
        ...

    def promote(
        self,
        version: str,
        *,
        actor: str,
        reason: str,
        evidence: dict[str, Any],
        expected_production: str | Unchecked | None = ...,  # registry.UNCHECKED: nothing expected
    ) -> PromotionRecord:
        """Move `production` to `version` in one call and record who, why and on what evidence. Given
        `expected_production` (the Production version the decision saw, None for none), only while Production
        is still that, under the model's lock: otherwise ProductionChangedError and nothing moves."""
        ...

    def record_evidence(self, version: str, *, metrics: dict[str, float], tags: dict[str, str]) -> None:
        """Log `metrics` on the run that produced `version`, and set `tags` (names in `gate_tags`) on the version
        and on that run. Values over gate_tags.MAX_TAG_VALUE_CHARS are cut with a visible marker; recording the
        same values again is harmless."""
        ...

    def staged_version(self) -> dict[str, Any] | None:
        """The version under `staging` as {"version", "tags", "run_id", "created_at" (ISO 8601)}, or None."""
        ...

    def retire(self, version: str, *, actor: str, reason: str) -> None:
        """Tag `version` gate.state=retired (gate.retired_by, gate.retired_reason) and remove `staging` only if
        it still points at `version`."""
        ...


class Trainer(Protocol):
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
        """The best classifier on `frame` by cross-validated macro F1, within the budget. TrainingBudgetError
        when the final fit is estimated to need more than `time_left_seconds` (None: no limit)."""
        ...


class DriftReporter(Protocol):
    def render(
        self,
        reference: pd.DataFrame,
        current: pd.DataFrame,
        *,
        target: str,
        numerical: list[str],
        categorical: list[str],
        max_rows: int,
        drift_share: float,
        reference_rows: int | None = None,
    ) -> DriftReportHtml:
        """A drift report for people to read; the verdict never comes from it. `reference_rows`: the whole
        reference's size when `reference` is a sample of it."""
        ...


class PairedCounts(TypedDict):
    """Labelled requests that both models of an experiment scored (the API's shadow mode), by who was right."""

    pairs: int
    both_correct: int
    staging_only: int  # only the Staging model was right
    production_only: int  # only the Production model was right
    both_wrong: int


class PredictionApi(Protocol):
    """The deployed prediction API, as the online gate calls it: in batches, each row with its own user."""

    @property
    def base_url(self) -> str: ...

    def get_traffic(self) -> float:
        """The Production share of traffic the API routes by."""
        ...

    def await_versions(self, expected: dict[str, str], timeout_seconds: float) -> bool:
        """Wait until the API serves `expected` ({variant: version}); False when it still did not at the end.
        An API re-checks the registry's aliases on its own schedule, so a candidate registered a moment ago
        may not be served yet."""
        ...

    def predict_batch(self, records: list[dict[str, Any]], user_ids: list[str]) -> list[dict[str, Any]] | None:
        """One answer per record, in order, each with `prediction`, `prediction_id`, `variant` and
        `model_version`; None when the API refused the batch or kept failing (counted, never fatal)."""
        ...

    def feedback_batch(self, items: list[tuple[str, str]]) -> list[str]:
        """Send (prediction id, true label) pairs; per item "recorded", "duplicate", "rejected", or "lost"
        when the API could not be reached for it."""
        ...

    def paired_evidence(self, production_version: str, staging_version: str) -> PairedCounts:
        """The pairs the API has counted for this experiment since its statistics were last reset, from every
        caller's feedback (this run's, earlier runs', live traffic's); zeros when there are none. Raises when
        the API cannot say."""
        ...


class ExecutionHistory(Protocol):
    """The event history of a Step Functions execution, as generate_report reads it for step durations."""

    def events(self, execution_arn: str) -> list[dict[str, Any]]:
        """Every event so far, oldest first, in GetExecutionHistory's shape (`type`, `timestamp` as an aware
        datetime, `stateEnteredEventDetails` / `stateExitedEventDetails` with the state's `name`)."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...
