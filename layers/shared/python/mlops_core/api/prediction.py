"""The prediction service: route a request (or each row) to Production or Staging, validate it, predict, count it.

Shadow mode (SHADOW_MODE, on by default): when a Production and a Staging model are both loaded, the rows each
variant serves are also scored by the other variant's model. The caller gets the served answers only, as without
shadow mode; the shadow's version and predictions go into the signed prediction ids, so feedback on them counts
paired evidence (both models on the same rows). The shadow is best effort: when it fails, the served answer
still goes out, its ids carry no shadow, and the failure is counted against the shadow version.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from mlops_core import settings
from mlops_core.api.errors import failure_reason, http_status
from mlops_core.api.exceptions import RegistryUnavailableError
from mlops_core.api.features import FeatureSchema, to_frame, validate_records
from mlops_core.api.parsing import PredictRequest
from mlops_core.exceptions import ConfigurationError, MlopsError, NoModelError
from mlops_core.prediction_ids import make_prediction_ids
from mlops_core.routing import choose_variant
from mlops_core.variants import PRODUCTION, STAGING, VARIANTS

log = logging.getLogger(__name__)


class Model(Protocol):
    version: str
    feature_names: list[str]
    feature_types: dict[str, str]
    classes: list

    def predict(self, frame: Any) -> Any: ...

    def predict_proba(self, frame: Any) -> Any | None: ...


class Registry(Protocol):
    def load(self, alias: str) -> Model: ...


class Recorder(Protocol):
    def record(
        self, variant: str, *, rows: int, latency_ms: float, error: bool = False, version: str | None = None
    ) -> None: ...

    def record_shadow(self, version: str, *, rows: int, error: bool = False) -> None: ...


SHADOW_ON, SHADOW_OFF = "on", "off"


def shadow_mode_setting() -> bool:
    """SHADOW_MODE: "on" (the default) scores every request with both models when both are loaded; "off"
    spares the second model's cost. ConfigurationError for any other value."""
    value = (settings.get(settings.SHADOW_MODE) or SHADOW_ON).strip().lower()
    if value not in (SHADOW_ON, SHADOW_OFF):
        raise ConfigurationError(
            f"environment variable {settings.SHADOW_MODE}={value!r} is not valid: set it to 'on' or 'off'"
        )
    return value == SHADOW_ON


@dataclass
class _Pass:
    """One model's pass over the rows a variant served, as it counts: served, or in shadow (variant None)."""

    variant: str | None
    version: str
    rows: int
    latency_ms: float = 0.0
    error: bool = True  # until the pass has produced its answers


@dataclass
class _Passes:
    """Every pass of one request, counted only once the request is known not to be refused as the caller's."""

    served: list[_Pass] = field(default_factory=list)
    shadow: list[_Pass] = field(default_factory=list)


def schema_of(model: Model) -> FeatureSchema:
    """The model's input schema; columns the signature marks optional accept null (imputed by the model)."""
    types = model.feature_types
    ordered = [types[name] for name in model.feature_names] if isinstance(types, dict) else list(types)
    return FeatureSchema.of(model.feature_names, ordered, getattr(model, "optional_features", ()))


class PredictionService:
    """Serves /predict. Every collaborator is passed in, so tests drive it with real or in-memory parts."""

    def __init__(
        self,
        registry: Registry,
        production_share: Callable[[], float],
        recorder: Recorder,
        secret: str,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.perf_counter,
        absent_ttl_seconds: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
        shadow_mode: bool = True,
    ) -> None:
        self._registry = registry
        self._shadow_mode = shadow_mode
        self._production_share = production_share
        self._recorder = recorder
        self._secret = secret
        self._rng = rng or random.Random()
        self._clock = clock
        self._schemas: dict[tuple[str, str], FeatureSchema] = {}
        self._absent_ttl = absent_ttl_seconds
        self._monotonic = monotonic
        self._absent_until: dict[str, float] = {}
        self._classes: dict[str, list] = {}  # by model version, of every model this process has loaded
        self._classes_checked_until = 0.0

    def available_models(self) -> dict[str, Model]:
        """The loaded model of each alias that has one (the registry caches them by alias and version).

        An alias the registry cannot answer for (an outage with nothing cached for it) is left out while
        another serves; with none to serve, RegistryUnavailableError.
        """
        models = {}
        failure: Exception | None = None
        now = self._monotonic()
        for alias in VARIANTS:
            if now < self._absent_until.get(alias, 0.0):
                continue
            try:
                model = models[alias] = self._registry.load(alias)
            except NoModelError:
                # The registry caches what it loaded, not what is missing: without this, every request
                # after a promotion (which clears staging) would query the registry for staging.
                self._absent_until[alias] = now + self._absent_ttl
            except Exception as error:  # the registry's outage must not take down the alias that is cached
                log.warning("cannot load the %s model: %s", alias, failure_reason(error))
                failure = failure or error
            else:
                self._classes.setdefault(str(model.version), list(model.classes))
        if not models and failure is not None:
            reason = failure_reason(failure)
            raise RegistryUnavailableError(f"no model can serve: model registry {reason}") from failure
        return models

    def classes_of(self, version: str) -> list | None:
        """The classes of model `version` when this process has it loaded, else None. A version it has not seen
        makes it load the aliases' models at most once per `absent_ttl_seconds` (the registry caches them, so
        no call per feedback), and a registry failure leaves the label unchecked rather than refused."""
        classes = self._classes.get(version)
        now = self._monotonic()
        if classes is None and now >= self._classes_checked_until:
            self._classes_checked_until = now + self._absent_ttl
            try:
                self.available_models()
            except Exception as error:
                log.warning("cannot check feedback labels against the models: %s", failure_reason(error))
            classes = self._classes.get(version)
        return classes

    def predict(self, request: PredictRequest) -> dict[str, Any]:
        """The prediction(s) for a request. Each variant its rows were routed to counts one request, its rows
        and, when its model fails, an error, for the variant and for its model version; in shadow mode the
        other model's version counts a shadow request of the same rows. A request refused as the caller's error
        (HTTP 4xx) counts nothing: it is not A/B traffic."""
        started = self._clock()
        models = self.available_models()
        if not models:
            raise NoModelError("no model registered yet: run the pipeline to train and promote one")
        groups = self._route(request, models)
        frames = self._frames(request, models, groups)  # an invalid request is refused here, before any count
        prepared_ms = self._elapsed_ms(started)
        answers: dict[str, list[dict[str, Any]]] = {}
        passes = _Passes()
        failure: Exception | None = None
        for variant, rows in groups.items():
            try:
                answers[variant] = self._serve(request, variant, rows, models, frames[variant], prepared_ms, passes)
            except Exception as error:
                failure = failure or error
        if failure is None or not _refused(failure):
            self._count(passes)
        if failure is not None:
            raise failure
        if not request.batch:
            return next(iter(answers.values()))[0]
        items: list[dict[str, Any] | None] = [None] * len(request.records)
        for variant, rows in groups.items():
            for row, item in zip(rows, answers[variant], strict=True):
                items[row] = item
        if request.user_ids is not None:
            return {"predictions": items}
        (variant,) = answers
        return {"predictions": items, "variant": variant, "model_version": answers[variant][0]["model_version"]}

    def _route(self, request: PredictRequest, models: dict[str, Model]) -> dict[str, list[int]]:
        """The rows each variant answers, in request order: all to one variant, or each by its own user id."""
        share = self._production_share()
        choose = functools.partial(
            choose_variant, share, rng=self._rng, has_production=PRODUCTION in models, has_staging=STAGING in models
        )
        if request.user_ids is None or len(models) == 1:
            return {choose(key=request.user_id): list(range(len(request.records)))}
        groups: dict[str, list[int]] = {}
        for row, user_id in enumerate(request.user_ids):
            groups.setdefault(choose(key=user_id), []).append(row)
        return groups

    def _frames(
        self, request: PredictRequest, models: dict[str, Model], groups: dict[str, list[int]]
    ) -> dict[str, Any]:
        """Each variant's frame of its rows, checked against its model's signature; errors name the record as
        the request numbered it. With one signature for all (the usual case) the whole request is checked at
        once, so the error names its first bad record."""
        schemas = {variant: self._schema(variant, models[variant]) for variant in groups}
        prefixes = [request.field_prefix(index) for index in range(len(request.records))]
        if len(set(schemas.values())) == 1:
            schema = next(iter(schemas.values()))
            columns = validate_records(request.records, schema, prefixes)
            if len(groups) == 1:
                return {variant: to_frame(columns, schema) for variant in groups}
            return {
                variant: to_frame([[column[row] for row in rows] for column in columns], schema)
                for variant, rows in groups.items()
            }
        return {
            variant: to_frame(
                validate_records(
                    [request.records[row] for row in rows], schemas[variant], [prefixes[row] for row in rows]
                ),
                schemas[variant],
            )
            for variant, rows in groups.items()
        }

    def _serve(
        self,
        request: PredictRequest,
        variant: str,
        rows: list[int],
        models: dict[str, Model],
        frame: Any,
        prepared_ms: float,
        passes: _Passes,
    ) -> list[dict[str, Any]]:
        """The answers of `variant` for its rows, with the other model's shadow predictions in their ids."""
        model = models[variant]
        served = _Pass(variant, str(model.version), len(rows))
        passes.served.append(served)
        # The latency is the request's shared part plus this model's own pass: not the other variant's, not
        # the shadow's, so the two models' latencies compare.
        begun = self._clock()
        try:
            labels, probabilities = _labels_and_probabilities(model, frame)
        finally:
            served.latency_ms = prepared_ms + self._elapsed_ms(begun)
        shadow_version, shadow_labels = self._shadow(request, variant, rows, models, frame, passes)
        try:
            ids = make_prediction_ids(
                variant,
                served.version,
                labels,
                self._secret,
                shadow_version=shadow_version,
                shadow_labels=shadow_labels,
            )
        except ValueError:
            if shadow_labels is None:
                raise
            # A shadow label no id can carry is the shadow's failure: the served answer goes out without it.
            log.warning("shadow v%s predicted a label no prediction id can carry", shadow_version)
            passes.shadow[-1].error = True
            ids = make_prediction_ids(variant, served.version, labels, self._secret)
        items = self._items(model, variant, labels, probabilities, ids)
        served.error = False
        return items

    def _shadow(
        self,
        request: PredictRequest,
        variant: str,
        rows: list[int],
        models: dict[str, Model],
        frame: Any,
        passes: _Passes,
    ) -> tuple[str | None, list | None]:
        """(version, labels) of the other variant's model on `rows`, or (None, None) when shadow mode is off,
        there is no other model, it is the same version, or it failed (counted, never raised)."""
        other = STAGING if variant == PRODUCTION else PRODUCTION
        model = models.get(other)
        if not self._shadow_mode or model is None or str(model.version) == str(models[variant].version):
            return None, None
        shadow = _Pass(None, str(model.version), len(rows))
        passes.shadow.append(shadow)
        try:
            schema = self._schema(other, model)
            if schema != self._schema(variant, models[variant]):
                # Another signature: the rows must pass the shadow's own checks, which may refuse them.
                records = [request.records[row] for row in rows]
                prefixes = [request.field_prefix(row) for row in rows]
                frame = to_frame(validate_records(records, schema, prefixes), schema)
            labels, _ = _labels_and_probabilities(model, frame)
        except Exception as error:  # the shadow is best effort: the served answer must not depend on it
            log.warning("shadow v%s failed on %d rows: %s", shadow.version, len(rows), failure_reason(error))
            return None, None
        shadow.error = False
        return shadow.version, labels

    def _count(self, passes: _Passes) -> None:
        for served in passes.served:
            self._recorder.record(
                str(served.variant),
                rows=served.rows,
                latency_ms=served.latency_ms,
                error=served.error,
                version=served.version,
            )
        for shadow in passes.shadow:
            self._recorder.record_shadow(shadow.version, rows=shadow.rows, error=shadow.error)

    def _items(
        self, model: Model, variant: str, labels: list, probabilities: Any | None, ids: list[str]
    ) -> list[dict[str, Any]]:
        """One item per row: the label, the probabilities, a signed id, the variant and version."""
        version = str(model.version)
        class_names = [str(label) for label in model.classes]
        rows = [None] * len(labels) if probabilities is None else probabilities.tolist()
        return [
            {
                "prediction": label,
                "probabilities": None if row is None else dict(zip(class_names, row, strict=True)),
                "prediction_id": prediction_id,
                "variant": variant,
                "model_version": version,
            }
            for label, row, prediction_id in zip(labels, rows, ids, strict=True)
        ]

    def _schema(self, variant: str, model: Model) -> FeatureSchema:
        # Parsing the signature once per model version keeps it off the per-request path.
        key = (variant, str(model.version))
        schema = self._schemas.get(key)
        if schema is None:
            schema = self._schemas[key] = schema_of(model)
        return schema

    def _elapsed_ms(self, started: float) -> float:
        return (self._clock() - started) * 1000.0


def _refused(error: Exception) -> bool:
    """True when the request is answered as the caller's error (4xx), which is not A/B traffic."""
    return isinstance(error, MlopsError) and http_status(error) < 500


def _labels_and_probabilities(model: Model, frame: Any) -> tuple[list, Any | None]:
    """Predicted labels and, where the model has them, class probabilities, from ONE pass of the model.

    With probabilities the label is the most probable class, which is what predict() of sklearn's
    probabilistic classifiers returns, and the response can never show a label that its own probabilities
    contradict; a second pass would double the latency of a single-record prediction.
    """
    probabilities = model.predict_proba(frame)
    if probabilities is None or len(model.classes) != probabilities.shape[1]:
        # Without a class for every column the probabilities cannot be labelled: leave them out.
        return model.predict(frame).tolist(), None
    classes = model.classes
    return [classes[index] for index in probabilities.argmax(axis=1).tolist()], probabilities
