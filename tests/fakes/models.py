"""Predictors for the fakes: a rule over the feature frame stands in for a trained model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

Rule = Callable[[pd.DataFrame], Any]


@dataclass
class RuleModel:
    """Labels from `rule(frame)`; it sees only `feature_names`, in that order, as a real model's signature would."""

    rule: Rule
    feature_names: list[str]
    version: str = ""
    calls: list[int] = field(default_factory=list)  # rows per predict call

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        if list(df.columns) != self.feature_names:
            raise AssertionError(f"model expects columns {self.feature_names}, got {list(df.columns)}")
        self.calls.append(len(df))
        return np.asarray(self.rule(df), dtype=object)


def truth(features: pd.DataFrame, labels: list[str], *, wrong_every: int = 0, wrong: str = "wrong") -> Rule:
    """Knows the true label of each given row by its feature values, whatever order or batch it is asked in;
    with `wrong_every=k` it answers `wrong` on every k-th of those rows instead. Unknown rows get `wrong`."""
    answers = {}
    for position, (key, label) in enumerate(zip(_row_keys(features), labels, strict=True)):
        answers[key] = wrong if wrong_every and position % wrong_every == 0 else label
    return lambda df: [answers.get(key, wrong) for key in _row_keys(df)]


def constant(label: str) -> Rule:
    return lambda df: [label] * len(df)


def _row_keys(df: pd.DataFrame) -> list[tuple]:
    return [tuple(None if pd.isna(v) else v for v in row) for row in df.itertuples(index=False, name=None)]
