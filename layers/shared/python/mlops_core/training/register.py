"""Registers a trained candidate in MLflow: one run (params, CV metrics, data URIs, drift result, the model),
a new model version tagged with the run's idempotency key, and the alias `staging` on it.

The MLflow client comes from the environment (MLFLOW_TRACKING_URI). Re-running the same execution input finds
the version by its `idempotency_key` tag and returns it instead of registering a second one.

Two executions with the same key at the same time are kept apart by a claim on the key: a lease
(mlops_core.leases) the first takes before training and gives up once its version is registered. The second
waits for that version and reuses it instead of training; a claim left by a crashed execution frees itself
after its lease (REGISTRATION_LEASE_SECONDS unless the caller sets one to fit a longer training), and the next
execution then trains.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from mlops_core.contracts import Metrics
from mlops_core.exceptions import InvalidRequestError
from mlops_core.leases import LeaseStore, Waiting, claim, renew
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
DEFAULT_EXPERIMENT = "Default"  # MLflow's own, present on every tracking server
# A claim outlives any attempt that holds it: the train function's timeout (900 s in template.yaml) plus a minute
# to log and register. Once it has run out no attempt can still be working on the key, so another may train. A
# training that may run longer (the ECS job path) needs a lease of its own timeout plus that minute.
REGISTRATION_LEASE_SECONDS = 960.0
# A second execution waits this long for the first one's version: training within its budget takes less.
REGISTRATION_WAITING = Waiting(seconds=600.0, poll_seconds=2.0)


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
    leases: LeaseStore | None = None,
    owner: str | None = None,
    waiting: Waiting = REGISTRATION_WAITING,
    lease_seconds: float = REGISTRATION_LEASE_SECONDS,
    started_at: float | None = None,
) -> Registration:
    """Log and register `trained` as a new version of `model_name` with alias `staging`, or, when a version
    already carries `idempotency_key`, point `staging` at that version and return it with reused=True.
    Everything goes to the tracking server of the environment: MLflow's fluent logging, which log_model needs,
    cannot be handed a client, so none is taken.

    The run spans the training: it starts at `started_at` (epoch seconds), by default now minus the training's
    measured timings, and ends once the model is logged. Its inputs are the training and held-out data as
    MLflow datasets (their S3 URIs and column schema; see log_datasets). Without `experiment_name`, the
    run goes to MLflow's Default experiment.

    With `leases`, registration holds the key's claim for `owner` (see claim_registration; the claim taken
    before training when the caller did so) and gives it up at the end, however it ends; LeaseLostError when
    the claim ran out and another execution took it before the version was registered."""
    import mlflow

    _check_key(idempotency_key)
    if not model_name or not isinstance(model_name, str) or "'" in model_name:
        raise InvalidRequestError(f"model name {model_name!r} is not usable", "model_name")
    client = mlflow.MlflowClient()

    def log_and_register(confirm: Callable[[], None]) -> Registration:
        return _log_and_register(
            client,
            trained,
            model_name,
            train_uris,
            holdout_uri,
            drift_summary,
            idempotency_key,
            params,
            experiment_name,
            confirm=confirm,
            started_at=started_at,
        )

    if leases is None:
        return reuse_registration(client, model_name, idempotency_key) or log_and_register(lambda: None)
    owner = owner or f"register#{uuid.uuid4().hex}"
    existing = claim_registration(
        client, model_name, idempotency_key, leases=leases, owner=owner, waiting=waiting, lease_seconds=lease_seconds
    )
    if existing is not None:
        return existing
    name = registration_lease(model_name, idempotency_key)
    try:
        return log_and_register(lambda: renew(leases, name, owner, lease_seconds))
    finally:
        leases.release(name, owner)


def training_seconds(trained: TrainedModel) -> float:
    """How long training took, as AutoML measured it (import, setup, compare, finalize)."""
    return float(sum(value for value in trained.timings.values() if value > 0))


def log_datasets(trained: TrainedModel, train_uris: Sequence[str], holdout_uri: str) -> None:
    """Each data file as an MLflow dataset input of the active run: the training files (context "training")
    and the held-out rows the offline gate scores (context "evaluation"), each named by its key, with its S3
    URI as source and the columns as the model sees them (the features, then the target). Only their
    description is logged: the data stays where it is."""
    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.types import Schema

    signature = model_signature(trained)
    schema = Schema([*signature.inputs.inputs, *signature.outputs.inputs])
    for uri, context in [*((u, "training") for u in train_uris), (holdout_uri, "evaluation")]:
        name = uri.split("://", 1)[-1].split("/", 1)[-1][:500]
        dataset = MetaDataset(source=resolve_dataset_source(uri), name=name, schema=schema)
        mlflow.log_input(dataset, context=context)


def claim_registration(
    client: MlflowClient,
    model_name: str,
    idempotency_key: str,
    *,
    leases: LeaseStore,
    owner: str,
    waiting: Waiting = REGISTRATION_WAITING,
    lease_seconds: float = REGISTRATION_LEASE_SECONDS,
) -> Registration | None:
    """The version registered for `idempotency_key` (as reuse_registration), or None once `owner` holds the
    key's claim and is to train and register it. While another execution holds the claim this waits for its
    version, up to `waiting.seconds` (then LeaseTimeoutError), and takes the claim over if that execution
    gave it up without registering or its claim ran out. Claiming again as the same owner renews the claim."""
    _check_key(idempotency_key)
    return claim(
        leases,
        registration_lease(model_name, idempotency_key),
        owner,
        lease_seconds=lease_seconds,
        waiting=waiting,
        done=lambda: reuse_registration(client, model_name, idempotency_key),
        busy_hint="Another execution is training a candidate for the same batch: a later run reuses its version.",
    )


def registration_lease(model_name: str, idempotency_key: str) -> str:
    """The name of the claim on one idempotency key of one model."""
    return f"{model_name}/registration/{idempotency_key}"


def _log_and_register(
    client: MlflowClient,
    trained: TrainedModel,
    model_name: str,
    train_uris: Sequence[str],
    holdout_uri: str,
    drift_summary: Mapping[str, Any],
    idempotency_key: str,
    params: Mapping[str, Any],
    experiment_name: str | None,
    *,
    confirm: Callable[[], None],
    started_at: float | None,
) -> Registration:
    """One run with everything about the candidate, then the version; `confirm()` runs right before the version
    is created (a run without a version is only a run; a second version would be a second candidate)."""
    import mlflow

    # An explicit experiment id, not mlflow.set_experiment: that sets a process-wide default which a warm
    # worker would carry into the next run, whatever dataset or tracking server that one uses.
    experiment_id = _experiment_id(client, experiment_name or DEFAULT_EXPERIMENT)
    tags = {
        IDEMPOTENCY_TAG: idempotency_key,
        "algorithm": trained.algorithm,
        "data.train_uris": json.dumps(list(train_uris)),
        "data.holdout_uri": holdout_uri,
        "drift.detected": str(bool(drift_summary.get("detected"))).lower(),
        "drift.share_of_drifted_columns": str(drift_summary.get("share_of_drifted_columns", "")),
    }
    # The run is created with the time training began, then opened to log: its duration in the MLflow UI is
    # the training's, not the few seconds logging takes afterwards.
    begun = started_at if started_at is not None else time.time() - training_seconds(trained)
    created = client.create_run(
        experiment_id, start_time=int(begun * 1000), tags=tags, run_name=f"train-{idempotency_key}"[:250]
    )
    with mlflow.start_run(run_id=created.info.run_id) as run:
        log_datasets(trained, train_uris, holdout_uri)
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
        if trained.plan:
            mlflow.log_dict(trained.plan, "automl/plan.json")  # sample size, models tried and skipped, fit times
            mlflow.log_params(_plan_params(trained.plan))
        info = mlflow.sklearn.log_model(
            trained.pipeline,
            name="model",
            signature=model_signature(trained),
            input_example=trained.sample.head(5),
            serialization_format="cloudpickle",
            pip_requirements=requirements(trained.pipeline),
        )
    confirm()
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


def _check_key(idempotency_key: object) -> None:
    if not isinstance(idempotency_key, str) or not _KEY.match(idempotency_key):
        raise InvalidRequestError(
            f"idempotency key {idempotency_key!r} must be 1-250 letters, digits or _.:/=+@-", "idempotency_key"
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


def _plan_params(plan: Mapping[str, Any]) -> dict[str, str]:
    """The training plan's headline figures as run params, to compare runs on in MLflow's UI; the whole plan,
    each fit's seconds included, is the run's automl/plan.json."""
    return {
        "automl.total_rows": _param(plan.get("total_rows")),
        "automl.sample_rows": _param(plan.get("sample_rows")),
        "automl.models_tried": _param(plan.get("models_tried", [])),
        "automl.models_skipped": _param(sorted(plan.get("models_skipped") or {})),
        "automl.final_fit_seconds": _param(plan.get("final_fit_seconds")),
    }


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:6000]  # MLflow's limit for a param value
