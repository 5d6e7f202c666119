"""What every step needs to know about its run: resources from the environment, the dataset's configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops_core import settings
from mlops_core.data import DatasetConfig, load_dataset_config
from mlops_core.exceptions import InvalidRequestError
from mlops_core.pipeline import clients


@dataclass(frozen=True)
class RunContext:
    run_id: str
    execution_arn: str
    data_bucket: str
    reports_bucket: str
    config: DatasetConfig
    s3: Any

    @property
    def dataset(self) -> str:
        return self.config.name

    @property
    def model_name(self) -> str:
        return settings.model_name(self.dataset)


def run_input(state: dict[str, Any]) -> dict[str, Any]:
    """The execution input; the handler has checked that it is an object when present."""
    return state.get("input") or {}


def step_output(state: dict[str, Any], key: str) -> dict[str, Any]:
    """A prior step's result, e.g. `drift`; a state without it names the missing result instead of a KeyError."""
    value = state.get(key)
    if not isinstance(value, dict):
        raise InvalidRequestError(
            f"the run state has no {key!r} result: this step runs after the step that writes $.{key}", field=key
        )
    return value


def run_context(state: dict[str, Any]) -> RunContext:
    """A stack watches one dataset, DATASET (template parameter DatasetName): its API serves that dataset's
    model, so a run on another dataset could not pass the A/B gate. An input naming another one is refused."""
    s3 = clients.s3()
    bucket = settings.require(settings.DATA_BUCKET)
    dataset = settings.require(settings.DATASET)
    named = run_input(state).get("dataset")
    if named is not None and named != dataset:
        raise InvalidRequestError(
            f"this stack watches dataset {dataset!r}, not {named!r}: deploy it with DatasetName={named} "
            "(mlops up --dataset NAME) to run the pipeline on that dataset",
            field="dataset",
        )
    return RunContext(
        run_id=state["run_id"],
        execution_arn=state.get("execution_arn", ""),
        data_bucket=bucket,
        reports_bucket=settings.require(settings.REPORTS_BUCKET),
        config=load_dataset_config(s3, bucket, dataset),
        s3=s3,
    )
