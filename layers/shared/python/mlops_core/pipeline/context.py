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
    """The dataset comes from the execution input when it names one, else from DATASET."""
    s3 = clients.s3()
    bucket = settings.require(settings.DATA_BUCKET)
    dataset = (
        (state.get("drift") or {}).get("dataset")
        or run_input(state).get("dataset")
        or settings.require(settings.DATASET)
    )
    return RunContext(
        run_id=state["run_id"],
        execution_arn=state.get("execution_arn", ""),
        data_bucket=bucket,
        reports_bucket=settings.require(settings.REPORTS_BUCKET),
        config=load_dataset_config(s3, bucket, dataset),
        s3=s3,
    )
