"""Putting a dataset into the data bucket: its baseline and its dataset.json, for the demo sets and a user's own.

Both writes are create-only. Publishing the same content again is a no-op; anything else under a taken key is
refused with ObjectExistsError, so replacing a dataset is a deliberate step of the caller (see `mlops dataset add
--replace`), never a side effect.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from mlops_core import layout
from mlops_core.data.io import extension, frame_from_bytes, frame_to_bytes, put_once
from mlops_core.exceptions import NotFoundError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.data.config import DatasetConfig, Format
    from mlops_core.ports import ObjectStore


def baseline_key(dataset: str, fmt: Format) -> str:
    return f"datasets/{dataset}/baseline{extension(fmt)}"


def same_baseline(existing: bytes, body: bytes, config: DatasetConfig) -> bool:
    """Whether two encodings of a baseline hold the same table. Compared as parsed frames, not bytes: another
    pandas or pyarrow version may encode the same table differently."""
    categorical = config.categorical or []
    try:
        stored = frame_from_bytes(existing, config.format, categorical=categorical)
    except Exception:  # an unreadable object is simply not the same baseline
        return False
    return stored.equals(frame_from_bytes(body, config.format, categorical=categorical))


def same_config(existing: bytes, config: DatasetConfig) -> bool:
    try:
        return json.loads(existing) == config.to_dict()
    except ValueError:
        return False


def publish_dataset(store: ObjectStore, df: pd.DataFrame, config: DatasetConfig) -> bool:
    """Upload `df` as the baseline at `config.baseline_key` in `config.format`, then dataset.json (last, so a
    configured dataset always has its baseline). True when anything was written, False when both objects
    already held this content; ObjectExistsError when either holds something else (nothing is overwritten)."""
    body = frame_to_bytes(df, config.format)
    created_baseline = put_once(store, config.baseline_key, body, same=lambda old: same_baseline(old, body, config))
    created_config = put_once(
        store,
        layout.dataset_config_key(config.name),
        config.to_json().encode("utf-8"),
        same=lambda old: same_config(old, config),
        content_type="application/json",
    )
    return created_baseline or created_config


def conflicting_keys(store: ObjectStore, df: pd.DataFrame, config: DatasetConfig) -> list[str]:
    """The keys `publish_dataset` would refuse: they exist and hold other content than it would write."""
    body = frame_to_bytes(df, config.format)
    checks: list[tuple[str, Callable[[bytes], bool]]] = [
        (config.baseline_key, lambda old: same_baseline(old, body, config)),
        (layout.dataset_config_key(config.name), lambda old: same_config(old, config)),
    ]
    conflicts = []
    for key, same in checks:
        try:
            existing = store.get(key)
        except NotFoundError:
            continue
        if not same(existing):
            conflicts.append(key)
    return conflicts
