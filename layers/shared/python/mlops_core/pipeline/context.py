"""What every step needs to know about its run: resources from the environment, the dataset's configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops_core import settings
from mlops_core.data import DatasetConfig, load_dataset_config
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


def run_context(state: dict[str, Any]) -> RunContext:
    """The dataset comes from the execution input when it names one, else from DATASET."""
    s3 = clients.s3()
    bucket = settings.require(settings.DATA_BUCKET)
    dataset = (
        state.get("drift", {}).get("dataset") or state["input"].get("dataset") or settings.require(settings.DATASET)
    )
    return RunContext(
        run_id=state["run_id"],
        execution_arn=state.get("execution_arn", ""),
        data_bucket=bucket,
        reports_bucket=settings.require(settings.REPORTS_BUCKET),
        config=load_dataset_config(s3, bucket, dataset),
        s3=s3,
    )
