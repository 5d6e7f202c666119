"""The datasets `mlops dataset add` put into a stack, recorded in the state folder, so `mlops seed` can upload
them again to a stack that no longer has them (after `mlops reset`, on an `--ephemeral` stack, on a new
LocalStack or AWS deploy).

    <state>/datasets/<name>/dataset.json            the configuration, as in the data bucket
    <state>/datasets/<name>/baseline.<csv|parquet>  the baseline exactly as uploaded

The folders are 0700 and the files 0600, as stack.json: a user's data may be private. `mlops reset` keeps this
folder: it is what the user brought, not the stack's state.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

from mlops_core.data import DatasetConfig
from mlops_core.exceptions import MlopsError

from mlops_local.exceptions import ToolError
from mlops_local.persistence import write_atomically

RECORDS_DIR = "datasets"
CONFIG_FILE = "dataset.json"


def folder(state_dir: Path, name: str) -> Path:
    return state_dir / RECORDS_DIR / name


def names(state_dir: Path) -> list[str]:
    """The datasets recorded in `state_dir`, sorted."""
    root = state_dir / RECORDS_DIR
    if not root.is_dir():
        return []
    return sorted(entry.name for entry in root.iterdir() if (entry / CONFIG_FILE).is_file())


def save(state_dir: Path, config: DatasetConfig, baseline: bytes) -> Path:
    """Record a dataset (replacing an earlier record of the same name); the configuration goes last, so a
    record with a configuration always has its baseline."""
    where = folder(state_dir, config.name)
    for directory in (state_dir, state_dir / RECORDS_DIR, where):
        directory.mkdir(mode=0o700, exist_ok=True)
    where.chmod(0o700)
    baseline_file = where / PurePosixPath(config.baseline_key).name
    for stale in where.iterdir():
        if stale.name.startswith("baseline.") and stale != baseline_file:
            stale.unlink()  # a baseline of another format, from before a --replace
    for path, body in ((baseline_file, baseline), (where / CONFIG_FILE, config.to_json().encode("utf-8"))):
        write_atomically(path, body)
        os.chmod(path, 0o600)
    return where


def load(state_dir: Path, name: str) -> tuple[DatasetConfig, bytes] | None:
    """The recorded configuration and baseline bytes, or None when `name` is not recorded."""
    where = folder(state_dir, name)
    config_file = where / CONFIG_FILE
    if not config_file.is_file():
        return None
    try:
        config = DatasetConfig.from_dict(json.loads(config_file.read_text()), source=str(config_file))
        if config.name != name:
            raise ValueError(f"it names dataset {config.name!r}")
        baseline = (where / PurePosixPath(config.baseline_key).name).read_bytes()
    except (OSError, ValueError, MlopsError) as exc:
        raise ToolError(
            f"{where} is not a readable dataset record ({type(exc).__name__}: {exc}): add the dataset again with "
            f"`mlops dataset add {name} --baseline FILE --target COLUMN --replace`"
        ) from None
    return config, baseline
