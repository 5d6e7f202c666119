"""The one place the pipeline's real adapters are built: once per container, from the environment alone
(AWS_ENDPOINT_URL, MLFLOW_TRACKING_URI and the stack's resource names). Handlers call `deps()`."""

from __future__ import annotations

import functools

from mlops_core import settings
from mlops_core.pipeline.deps import Deps, PipelineSettings


@functools.cache
def deps() -> Deps:
    import boto3

    from mlops_core.adapters import (
        AutomlTrainer,
        EvidentlyReporter,
        HttpPredictionApi,
        MlflowModelRegistry,
        S3ObjectStore,
        StepFunctionsHistory,
        SystemClock,
    )

    config = PipelineSettings.from_env()
    # A session of its own: boto3's default session keeps the region it first resolved, which need not be
    # this environment's (a regional client such as Step Functions' then has none).
    session = boto3.session.Session()
    s3 = session.client("s3")
    return Deps(
        settings=config,
        data=S3ObjectStore(s3, settings.require(settings.DATA_BUCKET)),
        reports=S3ObjectStore(s3, settings.require(settings.REPORTS_BUCKET)),
        registry=MlflowModelRegistry(config.model_name, experiment_name=f"{config.dataset}-pipeline"),
        trainer=AutomlTrainer(),
        drift_reporter=EvidentlyReporter(),
        api=HttpPredictionApi(settings.get(settings.API_URL)),
        clock=SystemClock(),
        history=StepFunctionsHistory(session.client("stepfunctions")),
    )
