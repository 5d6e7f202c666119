"""The bounded categorical profile: counts over the bound are stored apart, and always decide the verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlops_core.drift import ReferenceProfile, build_profile, detect_drift
from mlops_core.drift.categories import CategoriesApart, CategoryCounts
from mlops_core.drift.profile import exact_column_from_bytes
from mlops_core.exceptions import DataValidationError

BUDGET = 64 * 1024
UNBOUNDED = 1 << 30


def _labels(distinct: int, seed: int) -> np.ndarray:
    """`distinct` labels, each 2 or 3 times, shuffled."""
    rng = np.random.default_rng(seed)
    names = np.array([f"c{i:06d}" for i in range(distinct)], dtype=object)
    return rng.permutation(np.repeat(names, rng.integers(2, 4, distinct)))


def _frame(labels: np.ndarray, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = labels.size
    return pd.DataFrame(
        {
            "amount": np.round(rng.normal(50, 10, rows), 1),  # few distinct values: an exact profile
            "shop": labels,
            "colour": rng.choice(["red", "green", "blue"], rows),
        }
    )


def _loaded(built: ReferenceProfile, reads: list[str]):
    """The bounded profile as the pipeline reads it back, and a callback reading its exact columns."""
    stored = {name: built.exact_column_bytes(name) for name in built.exact_columns}

    def exact_column(name: str):
        reads.append(name)
        return exact_column_from_bytes(stored[name], name)

    return ReferenceProfile.from_bytes(built.to_bytes()), exact_column


def _same_verdicts(got: dict, expected: dict, apart: set[str]) -> None:
    assert list(got["columns"]) == list(expected["columns"])
    for name, column in got["columns"].items():
        wanted = {**expected["columns"][name], "decided_by": "exact" if name in apart else "profile"}
        assert column == wanted, name
    for key in ("detected", "share_of_drifted_columns", "number_of_drifted_columns", "number_of_columns"):
        assert got[key] == expected[key], key


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return _frame(_labels(50_000, 1), 2)


def test_counts_over_the_bound_are_kept_apart_and_give_the_unbounded_verdicts(reference) -> None:
    built = build_profile(reference, target=None, max_bytes_per_column=BUDGET)
    unbounded = build_profile(reference, target=None, max_bytes_per_column=UNBOUNDED)
    full = unbounded.categorical["shop"]
    assert isinstance(full, CategoryCounts) and full.nbytes > 20 * BUDGET
    assert built.categorical["shop"] == CategoriesApart("text", len(reference))
    assert list(built.exact_columns) == ["shop"] and isinstance(built.categorical["colour"], CategoryCounts)
    assert built.columns == unbounded.columns == ["amount", "shop", "colour"]
    assert len(built.to_bytes()) < BUDGET  # every column within the bound, the header included
    assert len(unbounded.to_bytes()) > 20 * BUDGET

    reads: list[str] = []
    loaded, exact_column = _loaded(built, reads)
    assert loaded.categorical["shop"] == CategoriesApart("text", len(reference)) and not loaded.exact_columns
    rng = np.random.default_rng(3)
    fresh = _frame(_labels(50_000, 4), 5)  # the same labels, other counts
    unseen = reference.sample(frac=0.3, random_state=6).reset_index(drop=True)
    unseen.loc[: len(unseen) // 3, "shop"] = [f"new{i}" for i in range(len(unseen) // 3 + 1)]  # never seen
    currents = {
        "same rows": reference.sample(frac=1.0, random_state=7),
        "fresh counts": fresh,
        "unseen labels": unseen,
        "a small batch": reference.iloc[rng.choice(len(reference), 600)],
    }
    verdicts = set()
    for name, current in currents.items():
        reads.clear()
        got = detect_drift(loaded, current, exact_column=exact_column).to_dict()
        expected = detect_drift(unbounded, current).to_dict()
        _same_verdicts(got, expected, {"shop"})
        assert reads == ["shop"], name  # the exact counts of that column only, once
        shop = got["columns"]["shop"]
        verdicts.add(shop["drifted"])
        assert shop["method"] == "Jensen-Shannon distance", name
    assert verdicts == {True, False}


def test_a_column_keyed_by_numbers_is_kept_apart_keyed_by_numbers(reference) -> None:
    codes = reference["shop"].str[1:].astype(int)  # integer codes 0..49,999
    frame = reference.assign(shop=codes)
    built = build_profile(frame, target=None, categorical=["shop"], max_bytes_per_column=BUDGET)
    unbounded = build_profile(frame, target=None, categorical=["shop"], max_bytes_per_column=UNBOUNDED)
    assert built.categorical["shop"] == CategoriesApart("number", len(frame))
    assert unbounded.categorical["shop"].keys == "number"
    reads: list[str] = []
    loaded, exact_column = _loaded(built, reads)

    # The codes as a CSV gives them back: floats with a hole, text; plus codes the reference never had.
    current = frame.sample(n=20_000, random_state=8).reset_index(drop=True)
    current["shop"] = current["shop"].astype(float)
    current.loc[:99, "shop"] = np.nan
    current.loc[100:199, "shop"] = np.arange(100) + 1e6
    as_text = current.assign(shop=current["shop"].map(lambda v: "" if np.isnan(v) else f"{v:g}").replace("", None))
    for batch in (current, as_text):
        reads.clear()
        got = detect_drift(loaded, batch, exact_column=exact_column).to_dict()
        _same_verdicts(got, detect_drift(unbounded, batch).to_dict(), {"shop"})
        assert reads == ["shop"]


def test_columns_within_the_bound_are_decided_by_the_profile_without_reading() -> None:
    small = _frame(_labels(1000, 9), 10)  # 1,000 labels: 36 KB of counts
    built = build_profile(small, target="colour", max_bytes_per_column=BUDGET)
    assert isinstance(built.categorical["shop"], CategoryCounts) and not built.exact_columns
    reads: list[str] = []
    loaded, exact_column = _loaded(built, reads)
    result = detect_drift(loaded, _frame(_labels(1000, 11), 12), exact_column=exact_column)
    assert {column.decided_by for column in result.columns.values()} == {"profile"} and reads == []


def test_a_loaded_profile_needs_the_counts_kept_apart(reference) -> None:
    built = build_profile(reference, target=None, max_bytes_per_column=BUDGET)
    loaded = ReferenceProfile.from_bytes(built.to_bytes())
    with pytest.raises(DataValidationError, match=r"column 'shop' needs its exact reference column \(its counts"):
        detect_drift(loaded, reference)
    # A freshly built profile holds them.
    assert detect_drift(built, reference).columns["shop"].decided_by == "exact"

    stored = built.exact_column_bytes("shop")
    back = exact_column_from_bytes(stored, "shop")
    full = build_profile(reference, target=None, max_bytes_per_column=UNBOUNDED).categorical["shop"]
    assert isinstance(back, CategoryCounts)
    np.testing.assert_array_equal(back.labels, full.labels)
    np.testing.assert_array_equal(back.label_counts, full.label_counts)
    with pytest.raises(DataValidationError, match="not the exact column 'colour'"):
        exact_column_from_bytes(stored, "colour")
    with pytest.raises(DataValidationError, match="not the exact column 'shop'"):
        exact_column_from_bytes(built.to_bytes(), "shop")  # the bounded profile itself

    # Counts that are not the column's are refused, not tested.
    def wrong(name: str) -> CategoryCounts:
        return CategoryCounts(back.numbers, back.number_counts, back.labels[:10], back.label_counts[:10])

    with pytest.raises(DataValidationError, match="exact reference counts read for column 'shop' are not its"):
        detect_drift(loaded, reference, exact_column=wrong)
