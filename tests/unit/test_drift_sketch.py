"""The bounded numerical profile: its proven error bounds, and verdicts certified by it or left to the exact
reference column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlops_core.drift import ReferenceProfile, build_profile, detect_drift
from mlops_core.drift import methods as m
from mlops_core.drift.certify import screen_wasserstein, sketch_score
from mlops_core.drift.profile import MIN_BYTES_PER_COLUMN, exact_column_from_bytes
from mlops_core.exceptions import DataValidationError, InvalidRequestError

BUDGET = 4096  # bytes per column: a sketch of about 170 points


def _reference(name: str, rows: int = 20_000) -> np.ndarray:
    rng = np.random.default_rng(5)
    if name == "normal":
        return rng.normal(0, 1, rows)
    if name == "lognormal":
        return rng.lognormal(0, 1.5, rows)
    if name == "rounded-ties":
        return np.round(rng.normal(10, 3, rows), 2)
    if name == "far-outliers":
        values = rng.normal(0, 1, rows)
        values[:3] = [1e6, -5e5, 2e6]
        return values
    raise ValueError(name)


def _currents(reference: np.ndarray) -> list[np.ndarray]:
    rng = np.random.default_rng(6)
    std = reference.std()
    return [
        np.sort(rng.choice(reference, 15_000)),
        np.sort(reference + 0.1 * std),
        np.sort(rng.normal(reference.mean() + 0.3 * std, std, 12_001)),
        np.sort(rng.uniform(reference.min(), reference.max(), 30_000)),
    ]


def _profiles(values: np.ndarray, budget: int = BUDGET):
    frame = pd.DataFrame({"x": values})
    sketch = build_profile(frame, target=None, max_bytes_per_column=budget)
    exact = build_profile(frame, target=None, max_bytes_per_column=1 << 30)
    return sketch.numerical["x"], exact.numerical["x"]


@pytest.mark.parametrize("name", ["normal", "lognormal", "rounded-ties", "far-outliers"])
def test_sketch_statistics_stay_within_their_proven_bounds(name: str) -> None:
    sketch, exact = _profiles(_reference(name))
    assert not sketch.exact and exact.exact
    assert sketch.values.nbytes + sketch.counts.nbytes <= BUDGET
    assert sketch.rows == exact.rows and sketch.std == exact.std
    assert 0 < sketch.cdf_error < 0.05 and sketch.wasserstein_error > 0
    for current in _currents(exact.values.repeat(exact.counts)):
        w_sketch = m.wasserstein_distance(sketch.values, sketch.counts, current)
        w_exact = m.wasserstein_distance(exact.values, exact.counts, current)
        assert abs(w_sketch - w_exact) <= sketch.wasserstein_error
        d_sketch = m.ks_statistic(sketch.values, sketch.counts, current)
        d_exact = m.ks_statistic(exact.values, exact.counts, current)
        assert abs(d_sketch - d_exact) <= sketch.cdf_error


@pytest.mark.parametrize("name", ["normal", "lognormal", "rounded-ties", "far-outliers"])
def test_screen_and_sketch_intervals_hold_the_exact_normed_wasserstein(name: str) -> None:
    sketch, exact = _profiles(_reference(name))
    rng = np.random.default_rng(7)
    for current in _currents(exact.values.repeat(exact.counts)):
        truth = m.normed_wasserstein(exact.values, exact.counts, exact.std, current)
        shuffled = rng.permutation(current)  # the screen takes the batch unsorted
        for bounded in (screen_wasserstein(sketch, shuffled), sketch_score(m.WASSERSTEIN, sketch, current)):
            assert bounded is not None
            assert bounded.low <= truth <= bounded.high
            assert abs(bounded.score - truth) <= bounded.error


def test_ks_sketch_bounds_the_asymptotic_p_value_and_declines_scipys_exact_regime() -> None:
    sketch, exact = _profiles(_reference("normal", rows=900), budget=MIN_BYTES_PER_COLUMN)
    assert not sketch.exact
    rng = np.random.default_rng(8)
    for shift in (0.0, 0.05, 0.2):
        current = np.sort(rng.normal(shift, 1, 20_000))
        bounded = sketch_score(m.KS, sketch, current)
        assert bounded is not None
        assert bounded.low <= m.ks_p_value(exact.values, exact.counts, current) <= bounded.high
    assert sketch_score(m.KS, sketch, np.sort(rng.normal(0, 1, 5000))) is None


def _detect(reference: np.ndarray, current: np.ndarray, budget: int = BUDGET) -> dict:
    profile = build_profile(pd.DataFrame({"x": reference}), target=None, max_bytes_per_column=budget)
    return detect_drift(profile, pd.DataFrame({"x": current})).to_dict()["columns"]["x"]


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.3, -0.5])
def test_a_score_far_from_the_threshold_is_decided_by_the_profile(shift: float) -> None:
    reference = _reference("normal")
    current = np.random.default_rng(9).normal(shift, 1, 8000)
    got, exact = _detect(reference, current), _detect(reference, current, budget=1 << 30)
    assert got["decided_by"] == exact["decided_by"] == "profile"
    assert got["drifted"] == exact["drifted"] == (abs(shift) >= 0.1)
    assert got["method"] == exact["method"] == m.WASSERSTEIN.name


@pytest.mark.parametrize("shift", [0.0999, 0.1, 0.1001])
def test_a_score_within_the_bound_of_the_threshold_is_decided_by_the_exact_column(shift: float) -> None:
    reference = _reference("normal")
    current = reference + shift * reference.std()  # W1 normed is the shift itself
    got, exact = _detect(reference, current), _detect(reference, current, budget=1 << 30)
    assert got["decided_by"] == "exact"
    assert (got["score"], got["drifted"]) == (exact["score"], exact["drifted"])
    assert got["drifted"] == (exact["score"] >= 0.1)


def test_a_loaded_sketch_reads_its_exact_column_only_when_needed() -> None:
    reference = _reference("normal")
    profile = build_profile(pd.DataFrame({"x": reference}), target=None, max_bytes_per_column=BUDGET)
    stored = profile.exact_column_bytes("x")
    loaded = ReferenceProfile.from_bytes(profile.to_bytes())
    back, built = loaded.numerical["x"], profile.numerical["x"]
    np.testing.assert_array_equal(back.values, built.values)
    np.testing.assert_array_equal(back.counts, built.counts)
    assert (back.std, back.cdf_error, back.wasserstein_error) == (built.std, built.cdf_error, built.wasserstein_error)
    assert not loaded.exact_columns
    reads: list[str] = []

    def exact_column(name: str):
        reads.append(name)
        return exact_column_from_bytes(stored, name)

    far = pd.DataFrame({"x": reference + 0.5})
    assert detect_drift(loaded, far, exact_column=exact_column).columns["x"].decided_by == "profile"
    assert reads == []
    near = pd.DataFrame({"x": reference + 0.1 * reference.std()})
    result = detect_drift(loaded, near, exact_column=exact_column).columns["x"]
    assert result.decided_by == "exact" and reads == ["x"]
    with pytest.raises(DataValidationError, match=r"column 'x' needs its exact reference column.*exact_column"):
        detect_drift(loaded, near)


def test_exact_columns_are_refused_when_they_are_not_the_exact_column_asked_for() -> None:
    profile = build_profile(pd.DataFrame({"x": _reference("normal")}), target=None, max_bytes_per_column=BUDGET)
    with pytest.raises(DataValidationError, match="not the exact column 'y'"):
        exact_column_from_bytes(profile.exact_column_bytes("x"), "y")
    with pytest.raises(DataValidationError, match="not the exact column 'x'"):
        exact_column_from_bytes(profile.to_bytes(), "x")  # the sketch itself


def test_a_profile_that_fits_stays_exact_and_the_budget_has_a_floor() -> None:
    small = pd.DataFrame({"x": _reference("normal", rows=300)})
    profile = build_profile(small, target=None, max_bytes_per_column=BUDGET)
    assert profile.numerical["x"].exact and not profile.exact_columns
    with pytest.raises(InvalidRequestError, match=f"max_bytes_per_column must be at least {MIN_BYTES_PER_COLUMN}"):
        build_profile(small, target=None, max_bytes_per_column=MIN_BYTES_PER_COLUMN - 1)


def test_a_profile_stays_within_its_bound_however_many_rows() -> None:
    rng = np.random.default_rng(10)
    budget = 64 * 1024
    for rows in (100_000, 400_000):
        profile = build_profile(pd.DataFrame({"x": rng.normal(size=rows)}), target=None, max_bytes_per_column=budget)
        sketch = profile.numerical["x"]
        assert sketch.values.nbytes + sketch.counts.nbytes <= budget
        assert len(profile.to_bytes()) <= budget + 4096  # the header and the zip's own records
