"""The drift simulator: a new batch drawn from the baseline with a random, seeded kind and amount of drift.

Each run draws its own mix from the seed: a class balance (rows resampled per class), a shift of every numeric
feature in units of its standard deviation, added noise, and new category frequencies. `strength` scales all
of it: 0 gives a plain resample of the baseline (no drift), 1 a clear drift, more a stronger one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlops_core import layout
from mlops_core.data.io import extension, write_table
from mlops_core.exceptions import InvalidRequestError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_core.data.config import Format
    from mlops_core.ports import ObjectStore

# Ranges a run draws from at strength 1; chosen so that strength 1 drifts most columns past Evidently's tests.
_SHIFT_STD = (0.25, 1.25)
_NOISE_STD = (0.0, 0.5)
_CLASS_LOG_SPREAD = 0.75
_CATEGORY_LOG_SPREAD = 1.0
_CATEGORY_REDRAW = (0.3, 0.7)


@dataclass(frozen=True)
class SimulationInfo:
    seed: int
    strength: float
    rows: int
    class_shares: dict[str, float]  # expected share of each label in the batch
    shifts: dict[str, float]  # per numeric feature, in units of its baseline std
    noise: float  # std of the added noise, in units of each column's std
    category_shares: dict[str, dict[str, float]]  # per categorical feature, the frequencies values are redrawn from
    redraw_fraction: float  # share of non-missing categorical values redrawn

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def time_seed() -> int:
    return time.time_ns() % (2**32)


def simulate_drift(
    baseline: pd.DataFrame,
    *,
    target: str,
    seed: int | None = None,
    strength: float = 1.0,
    rows: int | None = None,
    categorical: Iterable[str] | None = None,
) -> tuple[pd.DataFrame, SimulationInfo]:
    """A drifted batch with the baseline's columns and dtypes. Same seed, same batch; no seed, a time-based one
    (reported in the info). `categorical` defaults to the non-numeric feature columns."""
    import numpy as np

    if target not in baseline.columns:
        raise InvalidRequestError(f"target {target!r} is not a column of the baseline", field="target")
    if len(baseline.index) == 0:
        raise InvalidRequestError("the baseline has no rows to draw from", field="baseline")
    if not np.isfinite(strength) or strength < 0:
        raise InvalidRequestError(f"strength must be a number >= 0, got {strength!r}", field="strength")
    if rows is not None and rows < 1:
        raise InvalidRequestError(f"rows must be at least 1, got {rows!r}", field="rows")
    seed = time_seed() if seed is None else int(seed)
    rng = np.random.default_rng(seed)
    n = len(baseline.index) if rows is None else int(rows)
    features = [c for c in baseline.columns if c != target]
    if categorical is None:
        categorical = [c for c in features if not _numeric(baseline[c])]
    categorical = [c for c in categorical if c in features]
    numeric = [c for c in features if c not in categorical and _numeric(baseline[c])]

    labels = baseline[target].astype("object").where(baseline[target].notna(), "<missing>").astype(str)
    base_shares = labels.value_counts(normalize=True).sort_index()
    if strength == 0:
        shares = base_shares
    else:
        tilt = np.exp(rng.normal(0.0, _CLASS_LOG_SPREAD * strength, len(base_shares)))
        shares = base_shares * tilt / float((base_shares * tilt).sum())
    # Row weights so each class is drawn with its new share, rows within a class uniformly.
    row_weights = labels.map(shares / labels.value_counts().reindex(shares.index)).to_numpy(dtype="float64")
    picked = rng.choice(len(baseline.index), size=n, replace=True, p=row_weights / row_weights.sum())
    batch = baseline.iloc[picked].reset_index(drop=True).copy()

    shifts: dict[str, float] = {}
    noise = 0.0
    category_shares: dict[str, dict[str, float]] = {}
    redraw = 0.0
    if strength > 0:
        noise = float(rng.uniform(*_NOISE_STD) * strength)
        for column in numeric:
            size = float(rng.uniform(*_SHIFT_STD)) * strength * float(rng.choice([-1.0, 1.0]))
            shifts[column] = round(size, 6)
            batch[column] = _shifted(batch[column], baseline[column], size, noise, rng)
        if categorical:
            redraw = float(min(1.0, rng.uniform(*_CATEGORY_REDRAW) * strength))
        for column in categorical:
            category_shares[column] = _redraw_categories(batch, column, baseline[column], redraw, strength, rng)

    info = SimulationInfo(
        seed=seed,
        strength=float(strength),
        rows=n,
        class_shares={str(k): round(float(v), 6) for k, v in shares.items()},
        shifts=shifts,
        noise=round(noise, 6),
        category_shares=category_shares,
        redraw_fraction=round(redraw, 6),
    )
    return batch[list(baseline.columns)].astype(baseline.dtypes.to_dict()), info


def _numeric(column: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _shifted(values: pd.Series, reference: pd.Series, size: float, noise: float, rng: np.random.Generator) -> pd.Series:
    import numpy as np
    import pandas as pd

    std = float(reference.std(skipna=True))
    if not np.isfinite(std) or std == 0:
        return values  # a constant column has no scale to shift by
    floats = values.to_numpy(dtype="float64", na_value=np.nan)
    moved = floats + size * std + rng.normal(0.0, noise * std, len(floats)) if noise else floats + size * std
    if pd.api.types.is_integer_dtype(values):
        moved = np.round(moved)
    return pd.Series(moved, index=values.index).astype(values.dtype)


def _redraw_categories(
    batch: pd.DataFrame,
    column: str,
    reference: pd.Series,
    fraction: float,
    strength: float,
    rng: np.random.Generator,
) -> dict[str, float]:
    import numpy as np

    counts = reference.dropna().value_counts()
    if counts.empty:
        return {}
    base = (counts / counts.sum()).sort_index(key=lambda s: s.astype(str))
    tilt = np.exp(rng.normal(0.0, _CATEGORY_LOG_SPREAD * strength, len(base)))
    shares = base * tilt / float((base * tilt).sum())
    present = batch[column].notna().to_numpy()
    chosen = present & (rng.random(len(batch.index)) < fraction)
    draws = rng.choice(len(shares), size=int(chosen.sum()), p=shares.to_numpy(dtype="float64"))
    values = batch[column].to_numpy(dtype=object, copy=True)
    values[chosen] = shares.index.to_numpy(dtype=object)[draws]
    batch[column] = values
    return {str(k): round(float(v), 6) for k, v in shares.items()}


def batch_key(dataset: str, fmt: Format, *, seed: int | None = None, now: datetime | None = None) -> str:
    """`datasets/<dataset>/current/batch-<UTC time to the microsecond>[-seed<seed>].<ext>`: sorts by time."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    suffix = "" if seed is None else f"-seed{int(seed)}"
    return f"{layout.current_prefix(dataset)}batch-{stamp}{suffix}{extension(fmt)}"


def write_batch(
    store: ObjectStore,
    dataset: str,
    df: pd.DataFrame,
    fmt: Format,
    *,
    seed: int | None = None,
    now: datetime | None = None,
) -> str:
    """Store a new batch under the dataset's current/ prefix and return its key (naming the simulator's seed
    when given); never replaces an object."""
    if not layout.is_safe_id(dataset):
        raise InvalidRequestError(f"dataset name {dataset!r} is not a safe id", field="dataset")
    return write_table(store, batch_key(dataset, fmt, seed=seed, now=now), df, fmt)
