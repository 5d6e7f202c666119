"""stratified_split: disjoint, stratified, reproducible, and clear about what cannot be stratified."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
from mlops_core.data.demo_datasets import iris, synthetic
from mlops_core.exceptions import DataValidationError, InvalidRequestError
from mlops_core.training import stratified_split


def test_parts_are_disjoint_and_cover_the_batch() -> None:
    batch = iris()
    train, holdout = stratified_split(batch, "species", 0.3, seed=1)
    assert set(train.index).isdisjoint(holdout.index)
    assert sorted([*train.index, *holdout.index]) == list(batch.index)
    assert len(holdout) == 45 and holdout["species"].value_counts().tolist() == [15, 15, 15]
    assert train.index.is_monotonic_increasing and holdout.index.is_monotonic_increasing
    pd.testing.assert_frame_equal(holdout, batch.loc[holdout.index])


def test_same_seed_same_split_other_seed_other_split() -> None:
    batch = iris()
    first = stratified_split(batch, "species", 0.3, seed=4)[1].index
    assert first.equals(stratified_split(batch, "species", 0.3, seed=4)[1].index)
    assert not first.equals(stratified_split(batch, "species", 0.3, seed=5)[1].index)


def test_class_shares_are_kept_on_imbalanced_data() -> None:
    batch = synthetic(5000)
    batch = pd.concat([batch[batch["label"] != "class_0"], batch[batch["label"] == "class_0"].head(20)])
    _, holdout = stratified_split(batch, "label", 0.25, seed=0)
    shares = batch["label"].value_counts(normalize=True)
    assert holdout["label"].value_counts(normalize=True).reindex(shares.index).values == pytest.approx(
        shares.values, abs=0.005
    )
    assert (holdout["label"] == "class_0").sum() == 5


def test_tiny_classes_fall_back_clearly(caplog) -> None:
    batch = pd.DataFrame({"x": range(7), "y": ["a", "a", "a", "b", "b", "c", "d"]})
    with caplog.at_level(logging.WARNING):
        train, holdout = stratified_split(batch, "y", 0.5, seed=0)
    assert "single row cannot be stratified and go to training only: c, d" in caplog.text
    assert set(train["y"]) == {"a", "b", "c", "d"}  # every class can be learned
    assert holdout["y"].value_counts().to_dict() == {"a": 2, "b": 1}  # never a whole class held out


def test_a_small_fraction_still_holds_out_one_row_per_class() -> None:
    batch = pd.DataFrame({"x": range(6), "y": ["a", "a", "a", "b", "b", "b"]})
    _, holdout = stratified_split(batch, "y", 0.01, seed=0)
    assert holdout["y"].value_counts().to_dict() == {"a": 1, "b": 1}


@pytest.mark.parametrize(
    ("batch", "target", "fraction", "error", "message"),
    [
        (iris(), "species", 0.0, InvalidRequestError, "strictly between 0 and 1"),
        (iris(), "species", 1.0, InvalidRequestError, "strictly between 0 and 1"),
        (iris(), "label", 0.3, DataValidationError, "target column 'label' is missing"),
        (iris().assign(species=None), "species", 0.3, DataValidationError, "target 'species' has missing values"),
        (iris().head(1), "species", 0.3, DataValidationError, "batch of 1 rows"),
        (pd.DataFrame({"y": ["a", "b", "c"]}), "y", 0.3, DataValidationError, "every class of 'y' has a single row"),
        (pd.concat([iris(), iris()]), "species", 0.3, DataValidationError, "row index has duplicates"),
    ],
)
def test_bad_input(batch, target, fraction, error, message) -> None:
    with pytest.raises(error, match=message):
        stratified_split(batch, target, fraction, seed=0)
