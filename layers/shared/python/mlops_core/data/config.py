"""A dataset's configuration: where its baseline lives, which column is the target, which features to use.

Stored as JSON at `layout.dataset_config_key(name)` in the data bucket, written once when the dataset is seeded.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mlops_core import layout
from mlops_core.exceptions import ConfigurationError, InvalidRequestError, NotFoundError

if TYPE_CHECKING:
    from mlops_core.ports import ObjectStore

Format = Literal["csv", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "parquet")


@dataclass(frozen=True)
class DatasetConfig:
    """`features` None means every column but the target; `categorical` None means every non-numeric feature
    of the baseline. `format` is the format the library writes (baseline, simulated batches); reading goes by
    each object's own extension."""

    name: str
    target: str
    baseline_key: str
    features: list[str] | None = None
    categorical: list[str] | None = field(default=None)
    format: Format = "parquet"

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ConfigurationError(f"dataset configuration {self.name!r} is invalid: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "dataset configuration") -> DatasetConfig:
        if not isinstance(data, dict):
            raise ConfigurationError(f"{source} must be a JSON object, got {type(data).__name__}")
        known = {"name", "target", "baseline_key", "features", "categorical", "format"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigurationError(f"{source} has unknown fields: {', '.join(unknown)}")
        missing = sorted({"name", "target", "baseline_key"} - set(data))
        if missing:
            raise ConfigurationError(f"{source} lacks required fields: {', '.join(missing)}")
        return cls(**data)


def _is_name_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def _problems(config: DatasetConfig) -> list[str]:
    problems: list[str] = []
    if not isinstance(config.name, str) or not layout.is_safe_id(config.name):
        problems.append(f"name {config.name!r} must be a safe id (letters, digits, '_', '.', '-')")
    if not isinstance(config.target, str) or not config.target:
        problems.append("target must be a non-empty column name")
    if not isinstance(config.baseline_key, str) or not config.baseline_key or ".." in config.baseline_key:
        problems.append(f"baseline_key {config.baseline_key!r} must be an S3 key")
    if config.format not in FORMATS:
        problems.append(f"format {config.format!r} must be one of {', '.join(FORMATS)}")
    for label, names in (("features", config.features), ("categorical", config.categorical)):
        if names is None:
            continue
        if not _is_name_list(names):
            problems.append(f"{label} must be a list of column names")
        elif len(set(names)) != len(names):
            problems.append(f"{label} lists a column twice")
        elif config.target in names:
            problems.append(f"{label} must not include the target {config.target!r}")
    if _is_name_list(config.features) and _is_name_list(config.categorical):
        stray = sorted(set(config.categorical) - set(config.features))  # type: ignore[arg-type]
        if stray:
            problems.append(f"categorical columns not among the features: {', '.join(stray)}")
    return problems


def load_dataset_config(store: ObjectStore, name: str) -> DatasetConfig:
    """Read `datasets/<name>/dataset.json`; NotFoundError names the key, ConfigurationError says what is wrong."""
    if not isinstance(name, str) or not layout.is_safe_id(name):
        raise InvalidRequestError(f"dataset name {name!r} is not a safe id", field="dataset")
    key = layout.dataset_config_key(name)
    source = store.uri(key)
    try:
        body = store.get(key)
    except NotFoundError:
        raise NotFoundError(f"dataset {name!r} is not configured: {source} does not exist") from None
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"{source} is not valid JSON: {exc}") from None
    config = DatasetConfig.from_dict(data, source=source)
    if config.name != name:
        raise ConfigurationError(f"{source} names dataset {config.name!r}, expected {name!r}")
    return config
