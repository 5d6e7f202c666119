"""The prediction service: route a request (or each row) to Production or Staging, validate it, predict, count it."""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

from mlops_core.api.errors import failure_reason
from mlops_core.api.exceptions import RegistryUnavailableError
from mlops_core.api.features import FeatureSchema, to_frame, validate_records
from mlops_core.api.parsing import PredictRequest
from mlops_core.exceptions import NoModelError
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
    def record(self, variant: str, *, rows: int, latency_ms: float, error: bool = False) -> None: ...


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
    ) -> None:
        self._registry = registry
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
        and, when its model fails, an error; a request refused as invalid counts nothing."""
        started = self._clock()
        models = self.available_models()
        if not models:
            raise NoModelError("no model registered yet: run the pipeline to train and promote one")
        groups = self._route(request, models)
        frames = self._frames(request, models, groups)  # an invalid request is refused here, before any count
        prepared_ms = self._elapsed_ms(started)
        answers: dict[str, list[dict[str, Any]]] = {}
        failure: Exception | None = None
        for variant in groups:
            # Each variant's latency is the request's shared part plus its own model's work, not the other's.
            begun = self._clock()
            try:
                answers[variant] = self._answer(models[variant], variant, frames[variant])
            except Exception as error:
                failure = failure or error
            latency_ms = prepared_ms + self._elapsed_ms(begun)
            self._recorder.record(
                variant, rows=len(groups[variant]), latency_ms=latency_ms, error=variant not in answers
            )
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

    def _answer(self, model: Model, variant: str, frame: Any) -> list[dict[str, Any]]:
        """One item per row of `frame`: the label, the probabilities, a signed id, the variant and version."""
        labels, probabilities = _labels_and_probabilities(model, frame)
        version = str(model.version)
        ids = make_prediction_ids(variant, version, labels, self._secret)
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
