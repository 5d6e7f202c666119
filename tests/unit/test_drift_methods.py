"""Unit tests of the drift library: each statistical method against scipy or a hand computation, the
method selection, column typing, the profile format and every refusal."""

from __future__ import annotations

import io
import json
import math
import typing

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mlops_core.contracts import ColumnDrift, DriftOutput, TargetDrift
from mlops_core.drift import ReferenceProfile, build_profile, detect_drift, infer_kind, resolve_column_kinds
from mlops_core.drift import methods as m
from mlops_core.exceptions import DataValidationError, InvalidRequestError
from scipy import stats


def _counts(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.unique(sample, return_counts=True)


# --- methods ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wasserstein_equals_scipy_with_ties_and_unequal_sizes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.integers(0, 50, 700).astype(float)  # many ties
    current = np.r_[rng.normal(20, 9, 1300), reference[:100]]
    values, counts = _counts(reference)
    ours = m.wasserstein_distance(values, counts, np.sort(current))
    assert ours == pytest.approx(stats.wasserstein_distance(reference, current), rel=1e-12)


def test_wasserstein_by_hand() -> None:
    # Moving mass 1/2 from 0 to 2 and 1/2 from 1 to 3 costs 2.
    assert m.wasserstein_distance(np.array([0.0, 1.0]), np.array([1, 1]), np.array([2.0, 3.0])) == 2.0
    assert m.wasserstein_distance(np.array([4.0]), np.array([3]), np.array([4.0, 4.0])) == 0.0


def test_normed_wasserstein_floors_a_constant_reference_std() -> None:
    # W = 0.5 between {5} and {5, 6}; a zero std is floored at 0.001 as Evidently does.
    score = m.normed_wasserstein(np.array([5.0]), np.array([10]), 0.0, np.array([5.0, 6.0]))
    assert score == pytest.approx(500.0)
    assert m.normed_wasserstein(np.array([5.0]), np.array([10]), 2.0, np.array([5.0, 6.0])) == 0.25


# Quarter steps on a short range: many ties within and across both samples, disjoint samples too.
_tied_samples = st.lists(st.integers(-12, 12), min_size=1, max_size=40).map(lambda xs: np.array(xs, float) / 4)


@settings(max_examples=300, deadline=None)
@given(reference=_tied_samples, current=_tied_samples)
def test_wasserstein_equals_scipy_on_any_small_tied_samples(reference: np.ndarray, current: np.ndarray) -> None:
    values, counts = _counts(reference)
    expected = stats.wasserstein_distance(reference, current)
    ours = m.wasserstein_distance(values, counts.astype(np.uint8), np.sort(current))
    assert ours == pytest.approx(expected, rel=1e-12, abs=1e-15)
    with pytest.MonkeyPatch.context() as patch:  # blocks of 3 values: every block boundary case on small data
        patch.setattr(m, "BLOCK", 3)
        ours = m.wasserstein_distance(values, counts.astype(np.uint8), np.sort(current))
    assert ours == pytest.approx(expected, rel=1e-12, abs=1e-15)


def _large_case(name: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    if name == "rounded-reference":  # ties within the reference, current sizes not a multiple of it
        return np.round(rng.normal(0, 1, 300_000), 3), rng.normal(0.05, 1, 700_003)
    if name == "equal-sizes-no-drift":  # the benchmark's shape: the two CDFs cross all the time
        return rng.normal(0, 1, 500_000), rng.normal(0, 1, 500_000)
    return rng.lognormal(0, 1, 200_000), rng.lognormal(0, 1, 10) + 100  # current above every reference value


@pytest.mark.parametrize("name", ["rounded-reference", "equal-sizes-no-drift", "current-above-all"])
def test_wasserstein_equals_scipy_on_large_samples(name: str) -> None:
    reference, current = _large_case(name)
    values, counts = _counts(reference)
    ours = m.wasserstein_distance(values, counts.astype(np.min_scalar_type(counts.max())), np.sort(current))
    assert ours == pytest.approx(stats.wasserstein_distance(reference, current), rel=1e-12)


def test_wasserstein_refuses_sizes_beyond_64_bit_arithmetic() -> None:
    with pytest.raises(DataValidationError, match="overflow 64-bit integers"):
        m.wasserstein_distance(np.array([0.0]), np.array([2**62], dtype=np.uint64), np.array([0.0, 1.0]))


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # scipy's asymptotic p-value at n = 1
@settings(max_examples=300, deadline=None)
@given(reference=_tied_samples, current=_tied_samples)
def test_ks_statistic_equals_scipy_on_any_small_tied_samples(reference: np.ndarray, current: np.ndarray) -> None:
    values, counts = _counts(reference)
    # On samples this small scipy's default (exact) method reports the statistic rounded to a multiple of
    # 1 / lcm(n1, n2); the asymptotic method, the one `ks_statistic` serves, reports it as found.
    expected = stats.ks_2samp(reference, current, method="asymp").statistic
    assert m.ks_statistic(values, counts, np.sort(current)) == expected


def test_ks_equals_scipy_on_the_raw_reference() -> None:
    rng = np.random.default_rng(3)
    reference = np.round(rng.normal(0, 1, 400), 1)
    current = rng.normal(0.2, 1, 20000)
    values, counts = _counts(reference)
    assert m.ks_p_value(values, counts.astype(np.uint8), np.sort(current)) == stats.ks_2samp(reference, current)[1]


@pytest.mark.parametrize(
    ("shift", "decimals"),
    [(0.0, 2), (0.01, 2), (0.1, 1), (0.0, 15), (3.0, 2)],
    ids=["no-drift", "slight", "drift-coarse-ties", "no-ties", "p-clipped-to-0"],
)
def test_ks_p_value_equals_scipy_on_a_large_current_batch(shift: float, decimals: int) -> None:
    rng = np.random.default_rng(11)
    reference = np.round(rng.normal(0, 1, 1000), decimals)
    current = np.round(rng.normal(shift, 1, 500_000), decimals)  # ties with the reference when rounded
    values, counts = _counts(reference)
    expected = stats.ks_2samp(reference, current)
    assert m.ks_statistic(values, counts, np.sort(current)) == expected.statistic
    assert m.ks_p_value(values, counts.astype(np.uint16), np.sort(current)) == expected.pvalue


@pytest.mark.parametrize("current_rows", [m.KS_EXACT_MAX_ROWS, m.KS_EXACT_MAX_ROWS + 1])
def test_ks_p_value_switches_to_asymptotic_where_scipy_does(current_rows: int) -> None:
    rng = np.random.default_rng(12)
    reference = rng.normal(0, 1, 1000)
    current = rng.normal(0.06, 1, current_rows)
    values, counts = _counts(reference)
    exact = stats.ks_2samp(reference, current, method="exact").pvalue
    asymptotic = stats.ks_2samp(reference, current, method="asymp").pvalue
    assert exact != asymptotic  # so the comparison below tells which one was used
    expected = exact if current_rows <= 10000 else asymptotic
    assert m.ks_p_value(values, counts, np.sort(current)) == expected == stats.ks_2samp(reference, current).pvalue


def test_chi_square_by_hand() -> None:
    # Expected 50/50 from the reference, observed 30/70: statistic 8 + 8 = 16 on 1 degree of freedom.
    p = m.chi_square_p_value(np.array([100, 100]), np.array([30, 70]))
    assert p == pytest.approx(stats.chi2.sf(16, 1), rel=1e-12)
    assert m.chi_square_p_value(np.array([10, 20, 30]), np.array([1, 2, 3])) == pytest.approx(1.0)


def test_chi_square_category_unseen_in_reference_is_certain_drift() -> None:
    assert m.chi_square_p_value(np.array([10, 10, 0]), np.array([5, 5, 1])) == 0.0


def test_z_test_by_hand() -> None:
    n1, n2, p1, p2 = 200, 100, 0.25, 0.4  # share of "not the first key" on each side
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    expected = 2 * (1 - stats.norm.cdf(abs(z)))
    assert m.z_test_p_value(np.array([150, 50]), np.array([60, 40])) == pytest.approx(expected, rel=1e-12)
    # Symmetric in which key comes first.
    assert m.z_test_p_value(np.array([50, 150]), np.array([40, 60])) == pytest.approx(expected, rel=1e-12)


def test_z_test_same_single_value_on_both_sides_is_no_drift() -> None:
    assert m.z_test_p_value(np.array([7]), np.array([3])) == 1.0
    assert m.z_test_p_value(np.array([7, 0]), np.array([0, 3])) < 0.01  # two different single values


def test_jensen_shannon_by_hand() -> None:
    assert m.jensen_shannon_distance(np.array([4, 0]), np.array([0, 9])) == pytest.approx(math.sqrt(math.log(2)))
    assert m.jensen_shannon_distance(np.array([2, 6]), np.array([1, 3])) == pytest.approx(0.0, abs=1e-12)
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.2, 0.6])
    mix = (p + q) / 2
    expected = math.sqrt((np.sum(p * np.log(p / mix)) + np.sum(q * np.log(q / mix))) / 2)
    assert m.jensen_shannon_distance(np.array([50, 30, 20]), np.array([2, 2, 6])) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("kind", "rows", "n_values", "expected"),
    [
        ("num", 1000, 6, m.KS),
        ("num", 1000, 5, m.CHI_SQUARE),
        ("num", 1000, 3, m.CHI_SQUARE),
        ("num", 1000, 2, m.Z_TEST),
        ("cat", 1000, 40, m.CHI_SQUARE),
        ("cat", 10, 2, m.Z_TEST),
        ("cat", 10, 1, m.Z_TEST),
        ("num", 1001, 6, m.WASSERSTEIN),
        ("num", 1001, 5, m.JENSEN_SHANNON),
        ("cat", 1001, 2, m.JENSEN_SHANNON),
        ("cat", 1001, 40, m.JENSEN_SHANNON),
    ],
)
def test_select_method(kind: str, rows: int, n_values: int, expected: m.Method) -> None:
    assert m.select_method(kind, rows, n_values) is expected


def test_threshold_comparisons_follow_evidently() -> None:
    assert m.KS.drifted(0.05) and not m.KS.drifted(0.0501)  # K-S drifts at p <= threshold
    assert not m.CHI_SQUARE.drifted(0.05) and m.CHI_SQUARE.drifted(0.0499)
    assert not m.Z_TEST.drifted(0.05) and m.Z_TEST.drifted(0.0499)
    assert m.WASSERSTEIN.drifted(0.1) and not m.WASSERSTEIN.drifted(0.0999)
    assert m.JENSEN_SHANNON.drifted(0.1) and not m.JENSEN_SHANNON.drifted(0.0999)


# --- column typing -----------------------------------------------------------------------------------------


def test_infer_kind_follows_evidently() -> None:
    assert infer_kind(pd.Series([0.5, 1.5, np.nan])) == "num"
    assert infer_kind(pd.Series(list(range(10)) * 3)) == "cat"  # integers, at most 10 distinct
    assert infer_kind(pd.Series(list(range(11)) * 3)) == "num"
    assert infer_kind(pd.Series(["a", "b"] * 5)) == "cat"
    assert infer_kind(pd.Series([f"id{i}" for i in range(10)])) == "text"  # excluded from the tests
    assert infer_kind(pd.Series([True, False])) == "cat"
    assert infer_kind(pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02"]))) is None
    assert infer_kind(pd.Series([None, None], dtype=object)) is None


def test_resolve_kinds_puts_the_target_with_categoricals() -> None:
    frame = pd.DataFrame({"x": [0.1, 0.2], "c": ["a", "a"], "y": [0.0, 1.0], "t": ["u", "u"]})
    kinds = resolve_column_kinds(frame, target="y")
    assert kinds.numerical == ("x",) and kinds.categorical == ("c", "t", "y")
    kinds = resolve_column_kinds(frame, target="y", numerical=["x", "y"])
    assert kinds.numerical == ("x", "y") and kinds.categorical == ("c", "t")
    assert resolve_column_kinds(frame, target=None, categorical=["c"]).columns == ("x", "y", "c")


def test_resolve_kinds_refuses_bad_lists() -> None:
    frame = pd.DataFrame({"x": [0.1], "c": ["a"]})
    with pytest.raises(DataValidationError, match=r"no column\(s\) \['nope', 'gone'\]"):
        resolve_column_kinds(frame, target="gone", numerical=["x", "nope"])
    with pytest.raises(DataValidationError, match="both numerical and categorical"):
        resolve_column_kinds(frame, target=None, numerical=["x"], categorical=["x"])
    with pytest.raises(DataValidationError, match="no column to monitor"):
        resolve_column_kinds(pd.DataFrame({"when": pd.to_datetime(["2024-01-01"])}), target=None)


# --- profile and detection -------------------------------------------------------------------------------


def _frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1, rows),
            "k": rng.integers(0, 3, rows),  # small integers: categorical
            "s": rng.choice(["p", "q", "r"], rows),
            "y": rng.choice(["no", "yes"], rows),
        }
    )


def test_profile_round_trips_through_bytes() -> None:
    reference = _frame(3000, 0)
    reference.loc[::7, "x"] = np.nan
    profile = build_profile(reference, target="y")
    data = profile.to_bytes()
    back = ReferenceProfile.from_bytes(data)
    assert back.columns == profile.columns == ["x", "k", "s", "y"]
    assert back.rows == 3000 and back.target == "y"
    assert back.numerical["x"].std == profile.numerical["x"].std == np.std(reference["x"].dropna().to_numpy())
    np.testing.assert_array_equal(back.numerical["x"].values, np.sort(reference["x"].dropna().to_numpy()))
    np.testing.assert_array_equal(back.categorical["s"].labels, ["p", "q", "r"])
    np.testing.assert_array_equal(back.categorical["k"].numbers, [0.0, 1.0, 2.0])
    current = _frame(500, 1, shift=0.3)
    assert detect_drift(back, current).to_dict() == detect_drift(profile, current).to_dict()


def test_profile_is_compact() -> None:
    reference = pd.DataFrame({"x": np.random.default_rng(0).normal(size=100_000)})
    size = len(build_profile(reference, target=None).to_bytes())
    assert size < 100_000 * 9 + 4096  # 8 bytes per distinct value, 1 per count, small header


def test_profile_refuses_foreign_or_newer_bytes() -> None:
    with pytest.raises(DataValidationError, match="unreadable"):
        ReferenceProfile.from_bytes(b"not a profile")
    with np.load(io.BytesIO(build_profile(_frame(50, 0), target="y").to_bytes())) as npz:
        arrays = dict(npz)
    header = json.loads(arrays["header"].tobytes())
    newest = header["version"]
    arrays["header"] = np.frombuffer(json.dumps({**header, "version": newest + 1}).encode(), dtype=np.uint8)
    newer = io.BytesIO()
    np.savez(newer, **arrays)
    with pytest.raises(DataValidationError, match=f"version {newest + 1} is not supported"):
        ReferenceProfile.from_bytes(newer.getvalue())
    arrays["header"] = np.frombuffer(json.dumps({**header, "format": "other"}).encode(), dtype=np.uint8)
    foreign = io.BytesIO()
    np.savez(foreign, **arrays)
    with pytest.raises(DataValidationError, match="not a drift reference profile"):
        ReferenceProfile.from_bytes(foreign.getvalue())


def _rewritten(data: bytes, **changes: np.ndarray) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data)) as npz:
        return {**npz, **changes}


def test_profile_loads_as_read_only_views_of_the_bytes() -> None:
    data = build_profile(_frame(300, 0), target="y").to_bytes()
    back = ReferenceProfile.from_bytes(data)
    values = back.numerical["x"].values
    assert not values.flags.writeable and not back.categorical["s"].label_counts.flags.writeable
    whole = np.frombuffer(data, dtype=np.uint8)
    assert np.shares_memory(values, whole)
    assert values.flags.aligned and (values.ctypes.data - whole.ctypes.data) % 64 == 0  # offset in the bytes
    assert data == build_profile(_frame(300, 0), target="y").to_bytes()  # deterministic bytes


def test_profile_written_by_numpy_savez_loads_as_aligned_copies() -> None:
    profile = build_profile(_frame(3000, 0), target="y")
    legacy = io.BytesIO()
    np.savez(legacy, **_rewritten(profile.to_bytes()))  # members at arbitrary offsets
    back = ReferenceProfile.from_bytes(legacy.getvalue())
    assert back.numerical["x"].values.flags.aligned and not back.numerical["x"].values.flags.writeable
    np.testing.assert_array_equal(back.numerical["x"].values, profile.numerical["x"].values)
    current = _frame(500, 1, shift=0.3)
    assert detect_drift(back, current).to_dict() == detect_drift(profile, current).to_dict()


def test_profile_refuses_compressed_truncated_or_malformed_bytes() -> None:
    data = build_profile(_frame(300, 0), target="y").to_bytes()
    compressed = io.BytesIO()
    np.savez_compressed(compressed, **_rewritten(data))
    with pytest.raises(DataValidationError, match=r"unreadable.*is not an uncompressed array"):
        ReferenceProfile.from_bytes(compressed.getvalue())
    with pytest.raises(DataValidationError, match="unreadable"):
        ReferenceProfile.from_bytes(data[: len(data) // 2])
    float_counts = io.BytesIO()
    np.savez(float_counts, **_rewritten(data, **{"0.counts": np.ones(300)}))
    with pytest.raises(DataValidationError, match=r"unreadable.*'x' has malformed values or counts"):
        ReferenceProfile.from_bytes(float_counts.getvalue())
    pickled = io.BytesIO()
    np.savez(pickled, **_rewritten(data, **{"2.labels": np.array([("a", 1)], dtype=object)}))
    with pytest.raises(DataValidationError, match=r"unreadable.*not a plain array"):
        ReferenceProfile.from_bytes(pickled.getvalue())


@pytest.mark.parametrize("holes", [False, True], ids=["all-finite", "nan-and-inf"])
def test_detect_leaves_the_current_batch_untouched(holes: bool) -> None:
    profile = build_profile(_frame(2000, 0), target="y")
    current = _frame(3000, 1)
    if holes:
        current.loc[::5, "x"] = np.nan
        current.loc[1::7, "x"] = -np.inf
    before = current.copy()
    detect_drift(profile, current)
    pd.testing.assert_frame_equal(current, before)


def test_drift_result_is_the_contract_and_strict_json() -> None:
    result = detect_drift(build_profile(_frame(300, 0), target="y"), _frame(300, 1, shift=2.0)).to_dict()
    drift_fields = {"detected", "share_of_drifted_columns", "number_of_drifted_columns", "number_of_columns"}
    drift_fields |= {"drift_share", "columns", "excluded_columns", "target_drift"}
    assert drift_fields <= set(typing.get_type_hints(DriftOutput))
    assert set(result) == drift_fields
    for column in result["columns"].values():
        assert set(column) == set(typing.get_type_hints(ColumnDrift))
    json.dumps(result, allow_nan=False)
    assert result["columns"]["x"] == {
        "column_type": "num",
        "status": "tested",
        "method": "K-S p_value",
        "score": pytest.approx(0.0, abs=1e-30),
        "threshold": 0.05,
        "drifted": True,
        "missing_in": None,
        "decided_by": "profile",
    }
    assert set(result["target_drift"]) == set(typing.get_type_hints(TargetDrift))
    assert result["target_drift"] == {"column": "y", "counted_in_share": True, **result["columns"]["y"]}
    assert result["excluded_columns"] == {}
    assert result["columns"]["k"]["column_type"] == "cat" and result["columns"]["k"]["method"] == "chi-square p_value"
    assert result["columns"]["y"]["method"] == "Z-test p_value"


def test_dataset_drift_is_share_at_least_drift_share() -> None:
    reference = _frame(300, 0)
    profile = build_profile(reference, target="y")
    only_x_moved = reference.assign(x=reference["x"] + 2.0)
    result = detect_drift(profile, only_x_moved, drift_share=0.25)
    assert result.number_of_drifted_columns == 1 and result.share_of_drifted_columns == 0.25
    assert result.detected
    assert not detect_drift(profile, only_x_moved, drift_share=0.26).detected


def test_missing_values_and_infinities_are_dropped() -> None:
    profile = build_profile(_frame(2000, 0), target="y")
    current = _frame(800, 1)
    holed = pd.concat([current, current.iloc[:40].assign(x=np.nan), current.iloc[:3].assign(x=np.inf)])
    holed.loc[holed.index[-5:], "s"] = None
    clean = detect_drift(profile, current).columns
    assert detect_drift(profile, holed).columns["x"] == clean["x"]


def test_categories_are_cast_to_the_references_keys() -> None:
    """1, 1.0, "1" and " 1 " are one category of an integer column, whatever the batch's file format."""
    reference = pd.DataFrame({"k": [1, 2, 3] * 40})
    profile = build_profile(reference, target=None)
    assert profile.categorical["k"].keys == "number"
    for same in ([1.0, 2.0, 3.0, np.nan], ["1", "2", "3", None], ["1.0", " 2 ", "3"]):
        current = pd.DataFrame({"k": same * 10})
        assert detect_drift(profile, current).columns["k"].score == pytest.approx(1.0), same
    as_category = pd.DataFrame({"k": pd.Categorical(["1", "2", "3"] * 10)})
    assert detect_drift(profile, as_category).columns["k"].score == pytest.approx(1.0)


def test_text_categories_take_numbers_as_their_text() -> None:
    reference = pd.DataFrame({"code": pd.Categorical(["1", "2", "10"] * 40)})  # Parquet category of text
    profile = build_profile(reference, target=None)
    assert profile.categorical["code"].keys == "text"
    read_as_numbers = pd.DataFrame({"code": [1, 2, 10] * 10})  # the same batch through CSV type inference
    assert detect_drift(profile, read_as_numbers).columns["code"].score == pytest.approx(1.0)
    floats_with_nan = pd.DataFrame({"code": [1.0, 2.0, 10.0, np.nan] * 10})
    assert detect_drift(profile, floats_with_nan).columns["code"].score == pytest.approx(1.0)


def test_a_mixed_reference_column_is_keyed_as_text_on_both_sides() -> None:
    reference = pd.DataFrame({"m": pd.Series([1, "a", 2.0, "b"] * 30, dtype=object)})
    profile = build_profile(reference, target=None, categorical=["m"])
    np.testing.assert_array_equal(profile.categorical["m"].labels, ["1", "2", "a", "b"])
    assert detect_drift(profile, pd.DataFrame({"m": ["1", "a", "2", "b"] * 5})).columns["m"].score == 1.0


def test_a_value_that_does_not_fit_the_references_type_names_source_column_and_value() -> None:
    profile = build_profile(_frame(100, 0).assign(y=[0, 1] * 50), target="y")
    batch = _frame(20, 1).assign(y=["1", "0", "yes", "0"] * 5)
    with pytest.raises(
        DataValidationError,
        match=r"^batch s3://d/b\.csv: column 'y' holds 5 value\(s\) that are not numbers, e\.g\. 'yes'",
    ):
        detect_drift(profile, batch, source="batch s3://d/b.csv")
    with pytest.raises(
        DataValidationError, match=r"column 'x' holds 20 value\(s\) that are not numbers, e\.g\. 'text'"
    ):
        detect_drift(profile, _frame(20, 1).assign(x="text"))
    text_booleans = _frame(20, 1).assign(y=["True", "false"] * 10)  # booleans key as 1 and 0
    assert detect_drift(profile, text_booleans).columns["y"].status == "tested"


def test_constant_columns_are_not_drift() -> None:
    reference = pd.DataFrame({"x": np.full(2000, 3.0), "c": ["a"] * 2000})
    profile = build_profile(reference, categorical=["c"], target=None)
    result = detect_drift(profile, reference.iloc[:10])
    assert result.columns["x"].method == "Jensen-Shannon distance" and result.columns["x"].score == 0.0
    assert not result.detected


@pytest.mark.parametrize(
    ("current", "error", "message"),
    [
        (_frame(10, 1).drop(columns=["s", "y"]), DataValidationError, r"lacks monitored column\(s\) \['s', 'y'\]"),
        (_frame(10, 1).iloc[:0], DataValidationError, "current batch is empty"),
        (_frame(10, 1).assign(s=[(1, 2)] * 10), DataValidationError, "'s' holds a tuple value"),
        (
            _frame(10, 1).assign(x=np.nan, k=None, s=None, y=None),
            DataValidationError,
            r"no column can count toward the drift share: x \(no value in current\), k \(no value in current\)",
        ),
    ],
)
def test_detect_refuses_unusable_batches(current: pd.DataFrame, error: type, message: str) -> None:
    profile = build_profile(_frame(100, 0), target="y")
    with pytest.raises(error, match=message):
        detect_drift(profile, current)


def test_a_column_without_values_is_reported_as_all_missing_and_left_out_of_the_share() -> None:
    profile = build_profile(_frame(300, 0), target="y")
    batch = _frame(300, 1, shift=3.0).assign(s=None, k=[np.nan] * 300)
    batch.loc[::2, "x"] = np.inf  # the rest NaN: no finite value left
    batch.loc[1::2, "x"] = np.nan
    result = detect_drift(profile, batch)
    for name, kind in (("x", "num"), ("k", "cat"), ("s", "cat")):
        assert result.columns[name].to_dict() == {
            "column_type": kind,
            "status": "all_missing",
            "method": None,
            "score": None,
            "threshold": None,
            "drifted": False,
            "missing_in": "current",
            "decided_by": None,
        }
    assert result.number_of_columns == 1 and result.columns["y"].status == "tested"  # only the target counts
    json.dumps(result.to_dict(), allow_nan=False)


def test_a_column_without_values_in_the_reference_is_kept_as_all_missing() -> None:
    reference = _frame(200, 0).assign(x=np.nan, s=None)
    profile = ReferenceProfile.from_bytes(build_profile(reference, target="y").to_bytes())
    assert profile.empty == {"x": "num", "s": "cat"} and profile.columns == ["k", "y", "x", "s"]
    result = detect_drift(profile, _frame(100, 1).assign(s=None))
    assert (result.columns["x"].status, result.columns["x"].missing_in) == ("all_missing", "reference")
    assert result.columns["s"].missing_in == "both"
    assert result.number_of_columns == 2  # k and y


def test_the_target_can_be_left_out_of_the_share_and_is_reported_on_its_own() -> None:
    reference = _frame(300, 0)
    profile = build_profile(reference, target="y")
    flipped = reference.assign(y=np.where(reference["y"] == "no", "yes", "no"))
    flipped.loc[: len(flipped) // 4, "y"] = "yes"
    counted = detect_drift(profile, flipped).to_dict()
    assert counted["target_drift"]["drifted"] and counted["target_drift"]["counted_in_share"]
    assert (counted["number_of_drifted_columns"], counted["number_of_columns"]) == (1, 4)
    apart = detect_drift(profile, flipped, target_in_share=False).to_dict()
    assert apart["target_drift"] == {**counted["target_drift"], "counted_in_share": False}
    assert (apart["number_of_drifted_columns"], apart["number_of_columns"]) == (0, 3)
    assert apart["columns"]["y"] == counted["columns"]["y"]  # still listed with the others
    assert detect_drift(build_profile(reference, target=None), flipped).to_dict()["target_drift"] is None


def test_text_columns_are_excluded_with_the_reason() -> None:
    rng = np.random.default_rng(5)
    reference = _frame(200, 0).assign(note=[f"free text {rng.integers(1e9)}" for _ in range(200)])
    profile = ReferenceProfile.from_bytes(build_profile(reference, target="y").to_bytes())
    assert "note" not in profile.columns and profile.excluded["note"].startswith("text (more than half")
    result = detect_drift(profile, _frame(100, 1)).to_dict()  # the batch may even lack it
    assert result["excluded_columns"] == {"note": profile.excluded["note"]} and "note" not in result["columns"]
    listed = build_profile(reference, target="y", numerical=["x"], categorical=["k", "s", "note"])
    assert "note" in listed.categorical and listed.excluded == {}  # listed as categorical: tested as such
    given = build_profile(reference, target="y", numerical=["x"], categorical=["k", "s"], text=["note"])
    assert given.excluded == profile.excluded


def test_resolve_kinds_lists_what_it_leaves_untested() -> None:
    frame = pd.DataFrame(
        {
            "x": [0.1, 0.2, 0.3, 0.4],
            "id": ["a", "b", "c", "d"],
            "when": pd.to_datetime(["2024-01-01"] * 4),
            "blank": [None] * 4,
        }
    )
    kinds = resolve_column_kinds(frame, target=None)
    assert kinds.numerical == ("x",) and kinds.categorical == ("blank",)  # blank: reported all-missing
    assert kinds.excluded["id"].startswith("text") and "datetime64[ns] values" in kinds.excluded["when"]
    only_num = resolve_column_kinds(frame.assign(z=[1.5] * 4), target=None, numerical=["x"])
    assert only_num.excluded["z"] == "inferred as numerical, but the numerical columns were given and do not list it"
    with pytest.raises(DataValidationError, match=r"listed as text, which is never tested, and as tested"):
        resolve_column_kinds(frame, target="id", text=["id"])


@pytest.mark.parametrize("drift_share", [-0.1, 1.5])
def test_detect_refuses_a_drift_share_outside_0_1(drift_share: float) -> None:
    with pytest.raises(InvalidRequestError, match="drift_share") as raised:
        detect_drift(build_profile(_frame(20, 0), target="y"), _frame(20, 1), drift_share=drift_share)
    assert raised.value.field == "drift_share"


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        (_frame(10, 0).iloc[:0], "reference data is empty"),
        (_frame(10, 0).assign(x="text"), r"reference data: column 'x' holds 10 value\(s\) that are not numbers"),
        (_frame(10, 0).assign(s=[[1]] * 10), r"reference data: column 's' holds a list value"),
    ],
)
def test_build_profile_refuses_unusable_references(reference: pd.DataFrame, message: str) -> None:
    with pytest.raises(DataValidationError, match=message):
        build_profile(reference, target="y", numerical=["x"], categorical=["k", "s"])
