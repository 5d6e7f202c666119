"""The model registry adapter: MLflow aliases for Production and Staging, promotion history in version tags.

Conventions (MLflow stages are deprecated, so aliases and tags carry everything):
- one registered model per dataset (settings.model_name()); its aliases are the A/B variants, PRODUCTION and
  STAGING (mlops_core.variants; re-exported here for the modules that import them with the registry).
- a promotion or rollback moves the `production` alias in one registry call, then records on the version it
  made Production:
  - an event tag `promotion_event.<n>` (n = 1, 2, ... per version, so a version promoted twice keeps both
    events) holding compact JSON {"sequence", "action", "version", "previous_version", "at", "by", "reason",
    "evidence"}; `sequence` grows across the whole model and orders the history;
  - flat tags describing its latest event, for people browsing the MLflow UI: promoted_at (UTC ISO 8601),
    promoted_by (an execution ARN or "api"), promotion_action, promotion_reason, previous_production_version
    ("" when there was none) and promotion_evidence (compact JSON).
- promoting the version that is already Production records nothing and reports `changed=False`, so a retried
  pipeline step is harmless; in both cases `staging` is cleared when it points at that version.
- a move is a compare-and-set: it holds the model's production lease while it reads Production and moves the
  alias, and a promotion given `expected_production` moves nothing unless Production is still that version.
- a rollback undoes promotions like a stack: replaying the history gives the sequence of Production versions,
  and a rollback goes to the one before the current (skipping versions deleted since).
"""

from __future__ import annotations

import enum
import json
import logging
import math
import numbers
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from mlops_core import gate_tags, settings
from mlops_core.exceptions import (
    ConfigurationError,
    InvalidRequestError,
    NoModelError,
    NotFoundError,
    ProductionChangedError,
    RegistryError,
)
from mlops_core.gate_tags import tag_value
from mlops_core.leases import LeaseStore, Waiting, held
from mlops_core.pycaret_env import quiet_pycaret_logging
from mlops_core.variants import PRODUCTION, STAGING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

EVENT_TAG_PREFIX = "promotion_event."
# A promotion is a few registry calls: a minute covers a slow registry many times over, and a lock left by a
# crashed process frees itself after it. Waiting longer than the lease lets a caller outlast such a lock.
PRODUCTION_LEASE_SECONDS = 60.0
PRODUCTION_WAITING = Waiting(seconds=90.0, poll_seconds=0.5)
DEFAULT_CACHE_TTL_SECONDS = 5.0
MAX_EVIDENCE_CHARS = 50_000  # registry tag values allow 100,000; evidence is figures, not data

log = logging.getLogger(__name__)
_EVENT_TAG = re.compile(re.escape(EVENT_TAG_PREFIX) + r"([0-9]+)$")
_NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})


class Unchecked(enum.Enum):
    """The type of UNCHECKED: promote() without an expected Production version."""

    UNCHECKED = "unchecked"


UNCHECKED: Final = Unchecked.UNCHECKED


@dataclass(frozen=True)
class VersionInfo:
    """One registered version with the metrics of the run that produced it."""

    version: str
    run_id: str | None
    created_at: str  # UTC ISO 8601
    tags: dict[str, str]  # without the promotion_event.* tags: history() parses those
    metrics: dict[str, float]
    aliases: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PromotionRecord:
    """One move of the `production` alias (or a no-op promotion when `changed` is False)."""

    model_name: str
    action: Literal["promote", "rollback"]
    version: str
    previous_version: str | None
    at: str  # UTC ISO 8601
    by: str
    reason: str
    evidence: dict[str, Any]
    changed: bool = True
    sequence: int | None = None  # None for a no-op, which is not recorded

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A registered version ready to predict. `feature_names` and `feature_types` (MLflow type names such as
    "double", "long", "string", "boolean") come from the logged signature; `classes` are the labels in the
    column order of predict_proba, as JSON-safe Python values."""

    version: str
    alias: str
    feature_names: list[str]
    feature_types: dict[str, str]
    classes: list[Any]
    model: Any = field(repr=False)
    optional_features: list[str] = field(default_factory=list)  # the signature marks them not required

    @property
    def has_proba(self) -> bool:
        return hasattr(self.model, "predict_proba")

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        import numpy as np

        return np.asarray(self.model.predict(df))

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray | None:
        """Class probabilities (columns in `classes` order), or None when the model has no predict_proba."""
        if not self.has_proba:
            return None
        import numpy as np

        return np.asarray(self.model.predict_proba(df))


@dataclass(frozen=True)
class _CacheEntry:
    model: LoadedModel | None  # None: the alias was not set at the last check
    check_after: float
    generation: int  # invalidate() starts a new generation: entries of an older one are due for a check


@dataclass(frozen=True)
class _Check:
    """One alias check in flight, of the generation it began in; `done` is set when it ends, however it ends."""

    generation: int
    done: threading.Event = field(default_factory=threading.Event)


class ModelRegistry:
    """Reads and moves the aliases of one registered model.

    `load(alias)` serves a cached model and re-checks the alias at most every `cache_ttl_seconds`, so a
    running process picks up a promotion or rollback within that delay without a restart. An unset alias is
    cached the same way (NoModelError without a registry call until the next check); promote() and
    rollback() on this instance drop the cache, so their effect is immediate here. If the registry cannot be
    reached during a re-check, the cached model keeps serving and the check is retried after the next TTL.

    Thread-safe, and no lock is held across a registry call: one check per alias runs at a time, and while it
    runs the other threads asking for that alias get the cached answer instead of waiting. They wait only when
    nothing is cached for the alias yet, or when the cache predates a promote() or rollback() on this instance.

    promote() and rollback() read Production, decide and move the alias under the model's production lease in
    `leases` (by default the A/B table's, when AB_TABLE names one; see mlops_core.leases), so two processes
    moving it at once take turns, and a promotion decided against a Production that has changed since fails.
    """

    def __init__(
        self,
        client: MlflowClient | None = None,
        model_name: str | None = None,
        *,
        cache_ttl_seconds: float = DEFAULT_CACHE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        leases: LeaseStore | None = None,
        production_waiting: Waiting = PRODUCTION_WAITING,
    ) -> None:
        if client is None:
            from mlflow import MlflowClient

            client = MlflowClient()
        self.client = client
        self.model_name = model_name or settings.model_name()
        if "'" in self.model_name or not self.model_name.strip():
            raise ConfigurationError(f"model name {self.model_name!r} is empty or contains a quote")
        if not cache_ttl_seconds >= 0:
            raise ConfigurationError(f"cache_ttl_seconds must be >= 0, got {cache_ttl_seconds!r}")
        self._ttl = cache_ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()  # guards the three below; never held across a registry call
        self._by_alias: dict[str, _CacheEntry] = {}
        self._checks: dict[str, _Check] = {}
        self._generation = 0
        self._leases = leases
        self._leases_resolved = leases is not None
        self._production_waiting = production_waiting

    # reading
    def version_for(self, alias: str) -> VersionInfo | None:
        """The version under `alias`, or None when the alias (or the registered model) does not exist."""
        found = self._alias_version(alias)
        return None if found is None else self._version_info(found)

    def load(self, alias: str) -> LoadedModel:
        """The model under `alias`, cached by (alias, version). NoModelError when the alias is not set."""
        entry = self._by_alias.get(alias)
        if entry is None or not self._is_fresh(entry):
            entry = self._refresh(alias)
        if entry.model is None:
            raise NoModelError(f"no model registered under alias '{alias}' for model {self.model_name}")
        return entry.model

    def load_version(self, version: str | int) -> LoadedModel:
        """One exact version, uncached: the pipeline judges the version it trained, whatever the aliases say."""
        version = str(version)
        self._existing_version(version)
        return self._cached_version(version) or self._load_version(version)

    def loaded_versions(self) -> dict[str, str]:
        """{alias: version} of the models in the cache, without a registry call (for health checks)."""
        return {alias: e.model.version for alias, e in list(self._by_alias.items()) if e.model is not None}

    def invalidate(self) -> None:
        """Forget every alias check: the next load() asks the registry (models stay cached by version)."""
        with self._lock:
            self._generation += 1

    def history(self) -> list[PromotionRecord]:
        """Every recorded promotion and rollback, newest first."""
        records = [record for mv in self._all_versions() for record in _events_of(self.model_name, mv.tags or {})]
        return sorted(records, key=lambda r: (r.sequence or 0, r.at), reverse=True)

    def status(self) -> dict[str, Any]:
        """JSON-safe overview: {"model_name", "registered", "aliases" {alias: version}, "versions" (newest
        first, VersionInfo.to_dict()), "history" (newest first, PromotionRecord.to_dict())}."""
        aliases = self._aliases()
        if aliases is None:
            return {
                "model_name": self.model_name,
                "registered": False,
                "aliases": {},
                "versions": [],
                "history": [],
            }
        versions = sorted(self._all_versions(), key=lambda mv: int(mv.version), reverse=True)
        by_version: dict[str, list[str]] = {}
        for alias, version in aliases.items():
            by_version.setdefault(version, []).append(alias)
        return {
            "model_name": self.model_name,
            "registered": True,
            "aliases": aliases,
            "versions": [self._version_info(mv, by_version.get(str(mv.version), [])).to_dict() for mv in versions],
            "history": [record.to_dict() for record in self.history()],
        }

    # moving the production alias
    def promote(
        self,
        version: str | int,
        *,
        actor: str,
        reason: str,
        evidence: dict[str, Any],
        expected_production: str | Unchecked | None = UNCHECKED,
    ) -> PromotionRecord:
        """Make `version` Production. With `expected_production` (the Production version the decision was made
        against, None for none), only if Production is still that: otherwise ProductionChangedError and
        nothing moves. Promoting the version that is Production already changes nothing (`changed=False`),
        whatever was expected: a retried step finds its own promotion done. Raises NotFoundError for an unknown
        version and InvalidRequestError for an empty actor or reason or evidence that is not a JSON-able dict;
        LeaseTimeoutError while another promotion or rollback of this model holds the lock too long."""
        version = str(version)
        evidence = _checked_evidence(evidence)
        actor, reason = _checked_text("actor", actor), _checked_text("reason", reason)
        self._existing_version(version)
        with self._production_lock(actor) as confirm:
            current = self._alias_version(PRODUCTION)
            previous = None if current is None else str(current.version)
            if previous == version:
                self._clear_staging_if(version)
                return PromotionRecord(
                    self.model_name, "promote", version, previous, _now(), actor, reason, evidence, changed=False
                )
            if expected_production is not UNCHECKED and previous != _version_or_none(expected_production):
                raise ProductionChangedError(
                    f"model {self.model_name}: Production is {_named(previous)}, not "
                    f"{_named(_version_or_none(expected_production))} as the decision to promote v{version} saw "
                    "(another promotion or rollback ran meanwhile); nothing was promoted: decide again against "
                    "the current Production"
                )
            confirm()
            return self._move_production("promote", version, previous, actor, reason, evidence)

    def promote_staging(self, *, actor: str, reason: str, evidence: dict[str, Any]) -> PromotionRecord:
        """Promote the version under `staging`; NoModelError when there is none."""
        staging = self._alias_version(STAGING)
        if staging is None:
            raise NoModelError(f"no model registered under alias '{STAGING}' for model {self.model_name}")
        return self.promote(str(staging.version), actor=actor, reason=reason, evidence=evidence)

    def rollback(self, *, actor: str, reason: str) -> PromotionRecord:
        """Move Production back to the version it replaced (see the module docstring). Raises NoModelError
        when there is no Production model, NotFoundError when there is nothing earlier to go back to."""
        actor, reason = _checked_text("actor", actor), _checked_text("reason", reason)
        with self._production_lock(actor) as confirm:
            current = self._alias_version(PRODUCTION)
            if current is None:
                raise NoModelError(f"no model registered under alias '{PRODUCTION}' for model {self.model_name}")
            current_version = str(current.version)
            stack = production_stack(reversed(self.history()), current_version)
            existing = {str(mv.version) for mv in self._all_versions()}
            target = next((v for v in reversed(stack[:-1]) if v != current_version and v in existing), None)
            if target is None:
                raise NotFoundError(
                    f"model {self.model_name} has no production version before v{current_version} to roll back to"
                )
            confirm()
            return self._move_production(
                "rollback", target, current_version, actor, reason, {"rolled_back_from": current_version}
            )

    # the candidate's gate evidence
    def record_evidence(self, version: str | int, *, metrics: Mapping[str, float], tags: Mapping[str, str]) -> None:
        """Log `metrics` on the run that produced `version` (one log_batch, together with the tags) and set
        `tags` on the version and on that run. Tag values longer than gate_tags.MAX_TAG_VALUE_CHARS are cut with
        a visible marker. Recording the same values again changes nothing a reader sees (a metric gets one more
        point of the same value). NotFoundError for an unknown version, InvalidRequestError for a metric that
        is not a number or a key that is not a non-empty string."""
        from mlflow.entities import Metric, RunTag

        version = str(version)
        checked_metrics = _checked_metrics(metrics)
        checked_tags = {_checked_key("tags", key): tag_value(value) for key, value in dict(tags).items()}
        mv = self._existing_version(version)
        if mv.run_id and (checked_metrics or checked_tags):
            stamp = int(time.time() * 1000)
            self.client.log_batch(
                mv.run_id,
                metrics=[Metric(key, value, stamp, 0) for key, value in checked_metrics.items()],
                tags=[RunTag(key, value) for key, value in checked_tags.items()],
            )
        for key, value in checked_tags.items():
            self.client.set_model_version_tag(self.model_name, version, key, value)

    def staged_version(self) -> dict[str, Any] | None:
        """The version under `staging` as {"version", "tags", "run_id", "created_at" (UTC ISO 8601)}, without
        the promotion_event.* tags; None when nothing is staged."""
        mv = self._alias_version(STAGING)
        if mv is None:
            return None
        return {
            "version": str(mv.version),
            "tags": {k: v for k, v in (mv.tags or {}).items() if not k.startswith(EVENT_TAG_PREFIX)},
            "run_id": mv.run_id,
            "created_at": _iso(mv.creation_timestamp / 1000),
        }

    def retire(self, version: str | int, *, actor: str, reason: str) -> None:
        """Take `version` out of the running: tag it gate.state=retired with who and why, then remove `staging`
        if it still points at it (a newer candidate staged meanwhile keeps its alias). Tags first: a retry
        after a crash in between finds the alias still set and removes it. NotFoundError for an unknown
        version, InvalidRequestError for an empty actor or reason."""
        version = str(version)
        actor, reason = _checked_text("actor", actor), _checked_text("reason", reason)
        self._existing_version(version)
        for key, value in {
            gate_tags.STATE: gate_tags.RETIRED,
            gate_tags.RETIRED_BY: tag_value(actor),
            gate_tags.RETIRED_REASON: tag_value(reason),
        }.items():
            self.client.set_model_version_tag(self.model_name, version, key, value)
        self._clear_staging_if(version)

    # internals
    @contextmanager
    def _production_lock(self, actor: str) -> Iterator[Callable[[], None]]:
        """The model's production lease for a read-decide-move of the alias; without a lease store, no lock
        (the expected_production check then narrows the race to a moment but cannot close it)."""
        leases = self._lease_store()
        if leases is None:
            yield lambda: None
            return
        owner = f"{actor[:200]}#{uuid.uuid4().hex[:12]}"
        with held(
            leases,
            f"{self.model_name}/production",
            owner,
            lease_seconds=PRODUCTION_LEASE_SECONDS,
            waiting=self._production_waiting,
            busy_hint="Another promotion or rollback of this model is under way: retry once it has ended.",
        ) as confirm:
            yield confirm

    def _lease_store(self) -> LeaseStore | None:
        if not self._leases_resolved:
            from mlops_core.adapters.dynamodb_leases import leases_from_environment

            self._leases, self._leases_resolved = leases_from_environment(), True
        return self._leases

    def _is_fresh(self, entry: _CacheEntry) -> bool:
        return entry.generation == self._generation and self._clock() < entry.check_after

    def _refresh(self, alias: str) -> _CacheEntry:
        """The alias's entry after a check; at most one check per alias and generation is in flight."""
        while True:
            with self._lock:
                entry = self._by_alias.get(alias)
                if entry is not None and self._is_fresh(entry):
                    return entry  # another thread checked it meanwhile
                check = self._checks.get(alias)
                if check is None or check.generation != self._generation:
                    check = self._checks[alias] = _Check(self._generation)
                    break
            if entry is not None and entry.generation == check.generation:
                return entry  # only the TTL ran out: serve it while the check under way replaces it
            check.done.wait()  # nothing current to serve: take the result of the check under way
        try:
            return self._check(alias, entry, check.generation)
        finally:
            with self._lock:
                if self._checks.get(alias) is check:
                    del self._checks[alias]
            check.done.set()

    def _check(self, alias: str, cached: _CacheEntry | None, generation: int) -> _CacheEntry:
        """Ask the registry which version `alias` names and load it: the network calls, made without the lock."""
        try:
            found = self._alias_version(alias)
        except Exception:
            if cached is None or cached.model is None:
                raise
            log.warning("registry unreachable: serving cached %s v%s", alias, cached.model.version, exc_info=True)
            return self._store(alias, replace(cached, check_after=self._clock() + self._ttl, generation=generation))
        model = None
        if found is not None:
            version = str(found.version)
            model = self._cached_version(version) or self._load_version(version)
            model = replace(model, alias=alias)
        return self._store(alias, _CacheEntry(model, self._clock() + self._ttl, generation))

    def _store(self, alias: str, entry: _CacheEntry) -> _CacheEntry:
        with self._lock:
            # A promote() or rollback() here since the check began makes its answer stale: it answers this
            # request only, and the next load() checks again.
            if entry.generation == self._generation:
                self._by_alias[alias] = entry
        return entry

    def _move_production(
        self,
        action: Literal["promote", "rollback"],
        version: str,
        previous: str | None,
        actor: str,
        reason: str,
        evidence: dict[str, Any],
    ) -> PromotionRecord:
        versions = self._all_versions()
        sequence = 1 + max(
            (r.sequence or 0 for mv in versions for r in _events_of(self.model_name, mv.tags)), default=0
        )
        tags = next((mv.tags or {} for mv in versions if str(mv.version) == version), {})
        slot = 1 + max((int(m.group(1)) for key in tags if (m := _EVENT_TAG.match(key))), default=0)
        record = PromotionRecord(
            self.model_name, action, version, previous, _now(), actor, reason, evidence, True, sequence
        )
        # The alias move is the decision, in one call; the tags after it only describe it.
        self.client.set_registered_model_alias(self.model_name, PRODUCTION, version)
        event = {k: v for k, v in record.to_dict().items() if k not in ("model_name", "changed")}
        for key, value in {
            f"{EVENT_TAG_PREFIX}{slot}": _compact(event),
            "promoted_at": record.at,
            "promoted_by": actor,
            "promotion_action": action,
            "promotion_reason": reason,
            "previous_production_version": previous or "",
            "promotion_evidence": _compact(evidence),
        }.items():
            self.client.set_model_version_tag(self.model_name, version, key, value)
        self._clear_staging_if(version)
        self.invalidate()
        return record

    def _clear_staging_if(self, version: str) -> None:
        staging = self._alias_version(STAGING)
        if staging is not None and str(staging.version) == version:
            self.client.delete_registered_model_alias(self.model_name, STAGING)
            self.invalidate()

    def _alias_version(self, alias: str) -> ModelVersion | None:
        try:
            return self.client.get_model_version_by_alias(self.model_name, alias)
        except Exception as exc:
            if _is_not_found(exc):
                return None
            raise

    def _aliases(self) -> dict[str, str] | None:
        try:
            registered = self.client.get_registered_model(self.model_name)
        except Exception as exc:
            if _is_not_found(exc):
                return None
            raise
        return {alias: str(version) for alias, version in sorted((registered.aliases or {}).items())}

    def _existing_version(self, version: str) -> ModelVersion:
        try:
            return self.client.get_model_version(self.model_name, version)
        except Exception as exc:
            if _is_not_found(exc):
                raise NotFoundError(f"model {self.model_name} has no version {version!r}") from None
            raise

    def _all_versions(self) -> list[ModelVersion]:
        versions: list[ModelVersion] = []
        page_token = None
        while True:
            page = self.client.search_model_versions(f"name = '{self.model_name}'", page_token=page_token)
            versions.extend(page)
            page_token = page.token
            if not page_token:
                return versions

    def _version_info(self, mv: ModelVersion, aliases: list[str] | None = None) -> VersionInfo:
        metrics: dict[str, float] = {}
        if mv.run_id:
            try:
                metrics = dict(self.client.get_run(mv.run_id).data.metrics)
            except Exception as exc:
                if not _is_not_found(exc):
                    raise
        tags = {k: v for k, v in (mv.tags or {}).items() if not k.startswith(EVENT_TAG_PREFIX)}
        return VersionInfo(
            version=str(mv.version),
            run_id=mv.run_id,
            created_at=_iso(mv.creation_timestamp / 1000),
            tags=tags,
            metrics=metrics,
            aliases=sorted(aliases if aliases is not None else (mv.aliases or [])),
        )

    def _cached_version(self, version: str) -> LoadedModel | None:
        # After a promotion Production usually serves the version Staging already loaded.
        with self._lock:
            entries = list(self._by_alias.values())
        return next((e.model for e in entries if e.model and e.model.version == version), None)

    def _load_version(self, version: str) -> LoadedModel:
        import mlflow.sklearn
        from mlflow.models import get_model_info

        quiet_pycaret_logging()  # unpickling a PyCaret pipeline imports PyCaret
        uri = f"models:/{self.model_name}/{version}"
        signature = get_model_info(uri).signature
        if signature is None or not signature.inputs.has_input_names():
            raise RegistryError(f"{uri} was logged without a column signature: requests cannot be validated")
        model = mlflow.sklearn.load_model(uri)
        inputs = signature.inputs.inputs
        return LoadedModel(
            version=version,
            alias="",
            feature_names=[spec.name for spec in inputs],
            feature_types={spec.name: _type_name(spec.type) for spec in inputs},
            classes=_classes_of(model),
            model=model,
            optional_features=[spec.name for spec in inputs if not spec.required],
        )


def production_stack(events_oldest_first: Any, current: str | None) -> list[str]:
    """The succession of Production versions the history implies, oldest first, ending with `current`: a
    promotion pushes, a rollback pops. Moves made outside this module are inferred from `previous_version`."""
    stack: list[str] = []
    for event in events_oldest_first:
        if event.action == "rollback":
            if stack and stack[-1] == event.previous_version:
                stack.pop()
        elif event.previous_version and (not stack or stack[-1] != event.previous_version):
            stack.append(event.previous_version)
        if not stack or stack[-1] != event.version:
            stack.append(event.version)
    if current is not None and (not stack or stack[-1] != current):
        stack.append(current)
    return stack


def _events_of(model_name: str, tags: dict[str, str]) -> list[PromotionRecord]:
    records = []
    for key, value in tags.items():
        if not _EVENT_TAG.match(key):
            continue
        try:
            event = json.loads(value)
            records.append(PromotionRecord(model_name=model_name, changed=True, **event))
        except (ValueError, TypeError):
            log.warning("ignoring unreadable promotion event tag %s=%r", key, value)
    return records


def _classes_of(model: Any) -> list[Any]:
    classes = getattr(model, "classes_", None)
    if classes is None:
        return []
    # PyCaret's pipeline label-encodes the target and decodes in predict(); its classes_ are the codes.
    if type(model).__module__.startswith("pycaret.") and hasattr(model, "inverse_transform"):
        classes = model.inverse_transform(classes)
    return [c.item() if hasattr(c, "item") else c for c in list(classes)]


def _type_name(data_type: Any) -> str:
    return getattr(data_type, "name", None) or str(data_type)


def _is_not_found(exc: Exception) -> bool:
    return getattr(exc, "error_code", None) in _NOT_FOUND_CODES


def _checked_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"{name} must be a non-empty string", field=name)
    return value.strip()


def _version_or_none(version: str | int | None) -> str | None:
    return None if version is None else str(version)


def _named(version: str | None) -> str:
    return "unset" if version is None else f"v{version}"


def _checked_key(name: str, key: object) -> str:
    if not isinstance(key, str) or not key.strip():
        raise InvalidRequestError(f"every key of {name} must be a non-empty string, got {key!r}", field=name)
    return key


def _checked_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    checked = {}
    for key, value in dict(metrics).items():
        key = _checked_key("metrics", key)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InvalidRequestError(f"metric {key!r} must be a number, got {value!r}", field="metrics")
        checked[key] = float(value)
    return checked


def _checked_evidence(evidence: object) -> dict[str, Any]:
    if not isinstance(evidence, dict):
        raise InvalidRequestError("evidence must be a JSON object", field="evidence")
    try:
        safe = json.loads(_compact(evidence))
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"evidence is not JSON-serialisable: {exc}", field="evidence") from None
    if len(_compact(safe)) > MAX_EVIDENCE_CHARS:
        raise InvalidRequestError(f"evidence exceeds {MAX_EVIDENCE_CHARS} characters as JSON", field="evidence")
    return safe


def _compact(value: Any) -> str:
    return json.dumps(_json_safe(value), separators=(",", ":"), sort_keys=True, allow_nan=False)


def _json_safe(value: Any) -> Any:
    """numpy values to Python, NaN and infinities to None (JSON has neither), tuples to lists."""
    if hasattr(value, "tolist") and not isinstance(value, str | bytes | dict | list | tuple):
        value = value.tolist()  # numpy scalars and arrays
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> str:
    return _iso(time.time())
