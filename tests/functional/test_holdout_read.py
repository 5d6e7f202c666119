"""Held-out rows read back from S3 in the form the models were trained on."""

from __future__ import annotations

import numpy as np
import pandas as pd
from mlops_core.data.io import write_table
from mlops_core.drift.schema import as_text
from mlops_core.pipeline.holdout import load_holdout, load_holdouts
from sklearn.impute import SimpleImputer

from tests.fakes.object_store import InMemoryObjectStore


def written(store: InMemoryObjectStore, key: str, frame: pd.DataFrame) -> str:
    write_table(store, key, frame)
    return key


def test_a_text_column_missing_values_come_back_as_nan_not_none() -> None:
    store = InMemoryObjectStore()
    cabin = as_text(pd.Series(["C85", None, "B42", np.nan]))
    frame = pd.DataFrame({"cabin": cabin, "age": [22.0, np.nan, 30.0, 41.0], "y": [0, 1, 1, 0]})
    features, labels = load_holdout(store, written(store, "splits/r/holdout.parquet", frame), "y")

    cabin = features["cabin"].tolist()
    assert cabin[0] == "C85" and cabin[2] == "B42"
    assert all(isinstance(value, float) and np.isnan(value) for value in (cabin[1], cabin[3]))
    assert features["age"].isna().tolist() == [False, True, False, False]
    assert labels == ["0", "1", "1", "0"]


def test_the_imputer_a_model_was_trained_with_fills_the_read_back_rows() -> None:
    """The failure this guards against: a None is a value to SimpleImputer, so it passed through unimputed."""
    store = InMemoryObjectStore()
    training = pd.DataFrame({"cabin": as_text(pd.Series(["A1", "A1", None, "B2"]))})
    imputer = SimpleImputer(strategy="most_frequent").fit(training)
    held = pd.DataFrame({"cabin": as_text(pd.Series([None, "B2"])), "y": ["a", "b"]})
    features, _ = load_holdout(store, written(store, "splits/r/holdout.parquet", held), "y")

    assert imputer.transform(features).tolist() == [["A1"], ["B2"]]


def test_pooled_sets_are_read_the_same_way() -> None:
    store = InMemoryObjectStore()
    first = written(store, "splits/a/holdout.parquet", pd.DataFrame({"c": ["x", None], "y": [1, 0]}))
    second = written(store, "splits/b/holdout.parquet", pd.DataFrame({"c": [None, "z"], "y": [0, 1]}))
    features, _, used = load_holdouts(store, [first, second], "y", max_rows=10)

    assert features["c"].isna().tolist() == [False, True, True, False]
    assert all(value is not None for value in features["c"])
    assert used == [(first, 2), (second, 2)]
