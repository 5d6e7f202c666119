"""What every step needs to know about its run: its ids, its input, and the dataset's configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_core.data import DatasetConfig, load_dataset_config
from mlops_core.exceptions import InvalidRequestError

if TYPE_CHECKING:
    from mlops_core.pipeline.deps import Deps


@dataclass(frozen=True)
class RunContext:
    run_id: str
    execution_arn: str
    config: DatasetConfig

    @property
    def dataset(self) -> str:
        return self.config.name


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


def run_context(state: dict[str, Any], deps: Deps) -> RunContext:
    """A stack watches one dataset (template parameter DatasetName): its API serves that dataset's model, so a
    run on another dataset could not pass the A/B gate. An input naming another one is refused."""
    dataset = deps.settings.dataset
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
        config=load_dataset_config(deps.data, dataset),
    )


def training_output(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """$.training, checked to be about the stack's own registered model: the later steps judge and promote a
    version of that model, and a version number means nothing under another name."""
    training = step_output(state, "training")
    if training.get("model_name") != deps.registry.model_name:
        raise InvalidRequestError(
            f"$.training names model {training.get('model_name')!r}, but this stack's model is "
            f"{deps.registry.model_name!r}",
            field="training.model_name",
        )
    return training
