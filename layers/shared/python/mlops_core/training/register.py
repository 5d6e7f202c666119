"""Registers a trained candidate in MLflow: one run (params, CV metrics, data URIs, drift result, the model),
a new model version tagged with the run's idempotency key, and the alias `staging` on it.

The MLflow client comes from the environment (MLFLOW_TRACKING_URI). Re-running the same execution input finds
the version by its `idempotency_key` tag and returns it instead of registering a second one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from mlops_core.contracts import Metrics
from mlops_core.exceptions import InvalidRequestError
from mlops_core.registry import STAGING

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.models import ModelSignature

    from mlops_core.training.automl import TrainedModel

IDEMPOTENCY_TAG = "idempotency_key"
# The key ends up inside an MLflow search filter: no quotes or backslashes can reach it.
_KEY = re.compile(r"^[A-Za-z0-9_.:/=+@-]{1,250}$")
# What loading the pipeline needs besides its estimator's own package.
_BASE_REQUIREMENTS = ("pycaret", "scikit-learn", "cloudpickle", "pandas", "numpy")


class Registration(TypedDict):
    """The TrainingOutput fields that registration decides."""

    model_name: str
    model_version: str
    mlflow_run_id: str
    algorithm: str
    metrics: Metrics
    reused: bool


def register_candidate(
    trained: TrainedModel,
    *,
    model_name: str,
    train_uris: Sequence[str],
    holdout_uri: str,
    drift_summary: Mapping[str, Any],
    idempotency_key: str,
    params: Mapping[str, Any],
    experiment_name: str | None = None,
) -> Registration:
    """Log and register `trained` as a new version of `model_name` with alias `staging`, or, when a version
    already carries `idempotency_key`, point `staging` at that version and return it with reused=True.
    Everything goes to the tracking server of the environment: MLflow's fluent logging, which log_model needs,
    cannot be handed a client, so none is taken."""
    import mlflow

    if not isinstance(idempotency_key, str) or not _KEY.match(idempotency_key):
        raise InvalidRequestError(
            f"idempotency key {idempotency_key!r} must be 1-250 letters, digits or _.:/=+@-", "idempotency_key"
        )
    if not model_name or not isinstance(model_name, str) or "'" in model_name:
        raise InvalidRequestError(f"model name {model_name!r} is not usable", "model_name")
    client = mlflow.MlflowClient()

    existing = reuse_registration(client, model_name, idempotency_key)
    if existing is not None:
        return existing

    # An explicit experiment id, not mlflow.set_experiment: that sets a process-wide default which a warm
    # worker would carry into the next run, whatever dataset or tracking server that one uses.
    experiment_id = _experiment_id(client, experiment_name) if experiment_name else None
    tags = {
        IDEMPOTENCY_TAG: idempotency_key,
        "algorithm": trained.algorithm,
        "data.train_uris": json.dumps(list(train_uris)),
        "data.holdout_uri": holdout_uri,
        "drift.detected": str(bool(drift_summary.get("detected"))).lower(),
        "drift.share_of_drifted_columns": str(drift_summary.get("share_of_drifted_columns", "")),
    }
    with mlflow.start_run(run_name=f"train-{idempotency_key}"[:250], tags=tags, experiment_id=experiment_id) as run:
        mlflow.log_params(
            {
                **{k: _param(v) for k, v in params.items()},
                "algorithm": trained.algorithm,
                "features": _param(trained.features),
                "categorical": _param(trained.categorical),
                "classes": _param(trained.classes),
            }
        )
        mlflow.log_metrics(dict(trained.cv_metrics))
        mlflow.log_dict(dict(drift_summary), "drift/drift_summary.json")
        mlflow.log_dict({"leaderboard": trained.leaderboard, "timings": trained.timings}, "automl/compare.json")
        info = mlflow.sklearn.log_model(
            trained.pipeline,
            name="model",
            signature=model_signature(trained),
            input_example=trained.sample.head(5),
            serialization_format="cloudpickle",
            pip_requirements=requirements(trained.pipeline),
        )
    # Not log_model(registered_model_name=...): register_model writes the idempotency tag in the call that
    # creates the version, so no version exists without it, even if this process dies right after.
    version = mlflow.register_model(
        info.model_uri,
        model_name,
        tags={IDEMPOTENCY_TAG: idempotency_key, "algorithm": trained.algorithm, "mlflow_run_id": run.info.run_id},
    )
    client.set_registered_model_alias(model_name, STAGING, version.version)
    return Registration(
        model_name=model_name,
        model_version=str(version.version),
        mlflow_run_id=run.info.run_id,
        algorithm=trained.algorithm,
        metrics=trained.cv_metrics,
        reused=False,
    )


def reuse_registration(client: MlflowClient, model_name: str, idempotency_key: str) -> Registration | None:
    """The version already registered for `idempotency_key`, with `staging` pointed back at it; else None.

    Callers check this before training, so a re-run of the same input costs no training at all.
    """
    existing = find_version(client, model_name, idempotency_key)
    if existing is None:
        return None
    # Staging is set again: a run that stopped between registering and aliasing is finished this way.
    client.set_registered_model_alias(model_name, STAGING, existing.version)
    run = client.get_run(existing.run_id)
    return Registration(
        model_name=model_name,
        model_version=str(existing.version),
        mlflow_run_id=existing.run_id,
        algorithm=existing.tags.get("algorithm", run.data.tags.get("algorithm", "")),
        metrics={k: float(run.data.metrics.get(k, float("nan"))) for k in Metrics.__annotations__},  # type: ignore[misc]
        reused=True,
    )


def _experiment_id(client: MlflowClient, name: str) -> str:
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException:
        # Another run created it between our look-up and create.
        return client.get_experiment_by_name(name).experiment_id


def find_version(client: MlflowClient, model_name: str, idempotency_key: str) -> ModelVersion | None:
    """The earliest version of `model_name` tagged with `idempotency_key`, if any."""
    found = client.search_model_versions(f"name = '{model_name}' and tags.{IDEMPOTENCY_TAG} = '{idempotency_key}'")
    return min(found, key=lambda v: int(v.version)) if found else None


def model_signature(trained: TrainedModel) -> ModelSignature:
    """Categorical features as strings, numeric ones as doubles, the original label out as a string. Built from
    the known column kinds: inferring it from a sample would type a categorical column that happens to be all
    missing there as double. Every feature is present in a request but may be null (`required=False`): the
    pipeline imputes missing values, as it did for the rows it was trained on, so the API accepts them."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema(
        [ColSpec("string" if c in trained.categorical else "double", c, required=False) for c in trained.features]
    )
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("string", trained.target)]))


def requirements(pipeline: Any) -> list[str]:
    """Pinned pip requirements of the pipeline, given rather than inferred: MLflow infers them by loading the
    model in a subprocess, which costs seconds with PyCaret."""
    from importlib import metadata

    estimator_module = type(pipeline.steps[-1][1]).__module__.split(".")[0]
    names = set(_BASE_REQUIREMENTS)
    names.update(metadata.packages_distributions().get(estimator_module, []))
    return sorted(f"{name}=={metadata.version(name)}" for name in names)


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:6000]  # MLflow's limit for a param value
