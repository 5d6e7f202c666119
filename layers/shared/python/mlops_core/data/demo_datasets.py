"""Demo datasets, built from data that ships inside installed packages (no download), and their seeding.

- `iris`: scikit-learn's Iris, string labels.
- `penguins`: Palmer penguins, categorical island and sex, missing values, string labels.
- `synthetic`: scikit-learn's make_classification, 60,000 rows, 5 classes, a categorical column and missing
  values: shows that nothing in the pipeline is specific to the small demos.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_core.data.config import DatasetConfig, Format
from mlops_core.data.publish import baseline_key, publish_dataset
from mlops_core.exceptions import InvalidRequestError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.ports import ObjectStore

DEMO_DATASETS = ("iris", "penguins", "synthetic")
SYNTHETIC_ROWS = 60_000


def iris() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    # Plain names: they become API fields and MLflow signature columns.
    df = bunch.data.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    df["species"] = [str(bunch.target_names[i]) for i in bunch.target]
    return df


def penguins() -> pd.DataFrame:
    import palmerpenguins

    df = palmerpenguins.load_penguins()
    # The study year is when a bird was measured, not a trait of the bird; as a feature it would only teach
    # the model the sampling campaign.
    return df.drop(columns=["year"]).reset_index(drop=True)


def synthetic(rows: int = SYNTHETIC_ROWS, *, seed: int = 7) -> pd.DataFrame:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=rows,
        n_features=8,
        n_informative=5,
        n_redundant=1,
        n_classes=5,
        n_clusters_per_class=1,
        class_sep=1.2,
        random_state=seed,
    )
    df = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    # A categorical column that carries signal: a coarse binning of an informative feature.
    df["segment"] = pd.cut(df.pop("x7"), bins=5, labels=["a", "b", "c", "d", "e"]).astype("object")
    rng = np.random.default_rng(seed)
    for column in ("x1", "x4", "segment"):
        df.loc[rng.random(rows) < 0.02, column] = np.nan
    df["label"] = [f"class_{k}" for k in y]
    return df


def build(name: str, fmt: Format = "parquet") -> tuple[pd.DataFrame, DatasetConfig]:
    """The baseline frame of a demo dataset and its configuration."""
    if name == "iris":
        df, target, categorical = iris(), "species", []
    elif name == "penguins":
        df, target, categorical = penguins(), "species", ["island", "sex"]
    elif name == "synthetic":
        df, target, categorical = synthetic(), "label", ["segment"]
    else:
        raise InvalidRequestError(
            f"unknown demo dataset {name!r}; choose one of {', '.join(DEMO_DATASETS)}", field="dataset"
        )
    features = [c for c in df.columns if c != target]
    config = DatasetConfig(
        name=name,
        target=target,
        baseline_key=baseline_key(name, fmt),
        features=features,
        categorical=categorical,
        format=fmt,
    )
    return df, config


def seed_dataset(store: ObjectStore, name: str, *, fmt: Format = "parquet") -> DatasetConfig:
    """Upload a demo dataset's baseline and dataset.json, as `publish_dataset` does any dataset: seeding again
    is a no-op when both already hold the same content; ObjectExistsError when either holds something else."""
    df, config = build(name, fmt)
    publish_dataset(store, df, config)
    return config
