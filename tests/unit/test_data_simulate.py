"""The drift simulator: deterministic per seed, different across seeds, no drift at strength 0."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import numpy as np
import pandas as pd
import pytest
from mlops_core.adapters import S3ObjectStore
from mlops_core.data import ObjectExistsError, latest_batch_key, read_table, simulate_drift, write_batch
from mlops_core.data.demo_datasets import iris, penguins
from mlops_core.exceptions import InvalidRequestError
from scipy import stats

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@pytest.fixture(scope="module")
def baseline() -> pd.DataFrame:
    df = penguins()
    df["rings"] = np.arange(len(df)) % 7  # an integer column must stay integer
    return df


def _ks_drifted(reference: pd.Series, batch: pd.Series) -> bool:
    return stats.ks_2samp(reference.dropna(), batch.dropna()).pvalue < 0.05


def test_same_seed_same_batch(baseline) -> None:
    first, info = simulate_drift(baseline, target="species", seed=11)
    again, info_again = simulate_drift(baseline, target="species", seed=11)
    pd.testing.assert_frame_equal(first, again)
    assert info == info_again and info.seed == 11


def test_batches_keep_columns_dtypes_and_missingness(baseline) -> None:
    batch, info = simulate_drift(baseline, target="species", seed=3, rows=2000)
    assert list(batch.columns) == list(baseline.columns)
    assert batch.dtypes.to_dict() == baseline.dtypes.to_dict()
    assert len(batch) == info.rows == 2000
    assert set(batch["species"]) <= set(baseline["species"])
    assert set(batch["island"].dropna()) <= set(baseline["island"].dropna())
    # Missing values stay missing at about the baseline's rate.
    assert batch["sex"].isna().mean() == pytest.approx(baseline["sex"].isna().mean(), abs=0.03)
    assert batch["bill_length_mm"].isna().any()


def test_seeds_vary_shift_noise_and_balance(baseline) -> None:
    infos = [simulate_drift(baseline, target="species", seed=s)[1] for s in range(6)]
    assert len({tuple(i.shifts.values()) for i in infos}) == 6
    assert len({i.noise for i in infos}) == 6
    assert len({tuple(i.class_shares.values()) for i in infos}) == 6
    assert len({tuple(i.category_shares["island"].values()) for i in infos}) == 6
    signs = {np.sign(v) for i in infos for v in i.shifts.values()}
    assert signs == {-1.0, 1.0}
    for info in infos:
        assert all(0.25 <= abs(v) <= 1.25 for v in info.shifts.values())
        assert sum(info.class_shares.values()) == pytest.approx(1)


def test_default_seed_is_time_based_and_reported(baseline) -> None:
    _, first = simulate_drift(baseline, target="species")
    _, second = simulate_drift(baseline, target="species")
    assert first.seed != second.seed
    _, again = simulate_drift(baseline, target="species", seed=first.seed)
    assert again == first


def test_strength_zero_is_a_plain_resample(baseline) -> None:
    batch, info = simulate_drift(baseline, target="species", seed=5, strength=0, rows=3000)
    assert (info.shifts, info.noise, info.category_shares, info.redraw_fraction) == ({}, 0.0, {}, 0.0)
    # Every row is a baseline row, and class shares are the baseline's.
    assert len(batch.merge(baseline.drop_duplicates(), how="left", indicator=True).query("_merge == 'both'")) == 3000
    base_shares = baseline["species"].value_counts(normalize=True)
    assert info.class_shares == pytest.approx(base_shares.round(6).to_dict())
    assert not any(_ks_drifted(baseline[c], batch[c]) for c in NUMERIC)
    island = pd.crosstab(
        pd.concat([baseline["island"], batch["island"]]), np.r_[np.zeros(len(baseline)), np.ones(len(batch))]
    )
    assert stats.chi2_contingency(island).pvalue > 0.05


def test_strong_drift_moves_every_numeric_and_categorical_column(baseline) -> None:
    for seed in range(3):
        batch, info = simulate_drift(baseline, target="species", seed=seed, strength=2, rows=1000)
        assert all(_ks_drifted(baseline[c], batch[c]) for c in NUMERIC), (seed, info.shifts)
        for column in NUMERIC:
            moved = (batch[column].mean() - baseline[column].mean()) / baseline[column].std()
            assert np.sign(moved) == np.sign(info.shifts[column])
        assert info.redraw_fraction > 0.5


def test_columns_without_spread_are_left_alone() -> None:
    df = iris().assign(constant=1.0)
    batch, info = simulate_drift(df, target="species", seed=1)
    assert "constant" in info.shifts and (batch["constant"] == 1.0).all()
    assert info.category_shares == {} and info.redraw_fraction == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "label"}, "target 'label' is not a column"),
        ({"strength": -1}, "strength must be a number >= 0"),
        ({"strength": float("nan")}, "strength must be a number >= 0"),
        ({"rows": 0}, "rows must be at least 1"),
    ],
)
def test_bad_arguments(baseline, kwargs, message) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        simulate_drift(baseline, **{"target": "species", "seed": 1, **kwargs})


def test_empty_baseline_is_refused(baseline) -> None:
    with pytest.raises(InvalidRequestError, match="no rows"):
        simulate_drift(baseline.head(0), target="species", seed=1)


@pytest.fixture
def store(aws):
    client = boto3.client("s3")
    client.create_bucket(Bucket="data")
    return S3ObjectStore(client, "data")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_batch_names_time_and_seed_and_never_overwrites(store, baseline, fmt) -> None:
    batch, info = simulate_drift(baseline, target="species", seed=42, rows=50)
    now = datetime(2001, 3, 1, 6, 0, 0, 123456, tzinfo=UTC)
    key = write_batch(store, "penguins", batch, fmt, seed=info.seed, now=now)
    assert key == f"datasets/penguins/current/batch-20010301T060000123456Z-seed42.{fmt}"
    assert latest_batch_key(store, "penguins") == key
    back = read_table(store, key, categorical=["island", "sex"])
    assert back.shape == batch.shape and back["species"].tolist() == batch["species"].tolist()
    with pytest.raises(ObjectExistsError):
        write_batch(store, "penguins", batch.head(1), fmt, seed=info.seed, now=now)
    assert len(read_table(store, key)) == 50
    later = write_batch(store, "penguins", batch, fmt)
    assert later.startswith("datasets/penguins/current/batch-") and "-seed" not in later and later > key


def test_write_batch_refuses_unsafe_dataset_names(store, baseline) -> None:
    with pytest.raises(InvalidRequestError, match="not a safe id"):
        write_batch(store, "../iris", baseline, "csv", seed=1)
