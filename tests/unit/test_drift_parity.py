"""Our drift verdicts against Evidently 0.7's DataDriftPreset on the same data, column by column.

Evidently runs once per case (module-scoped: it is slow); every case asserts methods, drift flags, scores
and the dataset-level count and share. Evidently is given the same column mapping we use (kinds resolved on
the reference, text left out) and both sides cast to the reference's types (`evidently_inputs`, as the HTML
report is built): we deliberately differ from Evidently's per-batch inference, and the cases where that
matters (an integer target read as text, Parquet against CSV, a Categorical against objects, an integer code
that gains NaN) must still agree verdict for verdict. Columns with no value on a side are reported by us as
all missing and left out of the share; Evidently refuses them, so they are not in its mapping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from mlops_core.data.io import frame_from_bytes, frame_to_bytes
from mlops_core.drift import build_profile, detect_drift, evidently_inputs
from mlops_core.drift.profile import exact_column_from_bytes

pytestmark = pytest.mark.filterwarnings("ignore")


@dataclass(frozen=True)
class Case:
    name: str
    reference: pd.DataFrame
    current: pd.DataFrame
    target: str | None
    max_bytes_per_column: int = 4 << 20  # the default; sketch cases set a small bound


def _split(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    reference = frame.sample(frac=0.5, random_state=seed)
    return reference, frame.drop(reference.index)


def _shift(frame: pd.DataFrame, strength: float, seed: int) -> pd.DataFrame:
    """Numbers move by `strength` standard deviations (on every other column); a share of `strength / 2` of
    each categorical column's values is replaced by its first value."""
    rng = np.random.default_rng(seed)
    shifted = frame.copy()
    numeric = [c for c in frame.columns if frame[c].dtype.kind == "f"]
    for column in numeric[::2]:
        shifted[column] = frame[column] + strength * frame[column].std()
    for column in frame.columns:
        if column in numeric:
            continue
        first = frame[column].dropna().iloc[0]
        hit = rng.random(len(frame)) < strength / 2
        shifted.loc[hit, column] = first
    return shifted


def _with_shifts(name: str, reference: pd.DataFrame, current: pd.DataFrame, target: str | None) -> list[Case]:
    return [
        Case(f"{name}-none", reference, current, target),
        Case(f"{name}-small", reference, _shift(current, 0.15, 1), target),
        Case(f"{name}-large", reference, _shift(current, 1.0, 2), target),
    ]


def _sklearn(loader, name: str) -> list[Case]:
    frame = loader(as_frame=True).frame
    return _with_shifts(name, *_split(frame, 0), "target")


def _penguins() -> list[Case]:
    import palmerpenguins

    reference, current = _split(palmerpenguins.load_penguins(), 3)
    return _with_shifts("penguins", reference, current, "species")


def _synthetic(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "normal": rng.normal(10, 2, rows),
            "skewed": rng.lognormal(0, 1, rows),
            "levels": rng.integers(0, 4, rows).astype(float),  # numerical, 4 distinct values
            "flag": rng.integers(0, 2, rows).astype(float),  # numerical, binary
            "colour": rng.choice(["red", "green", "blue", "grey"], rows, p=[0.4, 0.3, 0.2, 0.1]),
            "member": rng.choice(["yes", "no"], rows),
            "label": rng.choice(["a", "b", "c"], rows),
        }
    )
    frame.loc[rng.random(rows) < 0.05, "normal"] = np.nan
    frame.loc[rng.random(rows) < 0.05, "colour"] = None
    return frame


def _unseen(current: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A category the reference never saw, plus more missing values and an infinity."""
    rng = np.random.default_rng(seed)
    changed = current.copy()
    changed.loc[rng.random(len(current)) < 0.02, "colour"] = "violet"
    changed.loc[rng.random(len(current)) < 0.2, "skewed"] = np.nan
    changed.iloc[0, changed.columns.get_loc("skewed")] = np.inf
    return changed


def _synthetic_cases() -> list[Case]:
    cases = []
    for name, rows in (("synthetic-large", 5000), ("synthetic-small", 1600)):
        reference, current = _split(_synthetic(rows, 7), 7)
        cases += _with_shifts(name, reference, current, "label")
        cases.append(Case(f"{name}-unseen", reference, _unseen(current, 8), "label"))
    return cases


def _large_cases() -> list[Case]:
    """Sizes that take the fast paths: K-S with a current batch above scipy's exact-method limit, and
    Wasserstein over more values than one block; rounding makes ties within and across both sides."""
    rng = np.random.default_rng(21)

    def frame(rows: int, shift: float) -> pd.DataFrame:
        return pd.DataFrame(
            {"rounded": np.round(rng.normal(shift, 1, rows), 2), "skewed": rng.lognormal(shift, 1, rows)}
        )

    return [
        Case("ks-large-current", frame(900, 0.0), frame(30_000, 0.05), None),
        Case("wasserstein-blocks", frame(50_000, 0.0), frame(70_001, 0.1), None),
    ]


SKETCH_BYTES = 16 * 1024  # a sketch of about 680 points: a normed-Wasserstein bound near 0.01


def _sketch_cases() -> list[Case]:
    """Bounded profiles (sketches) with scores on both sides of the threshold and close to it: some within the
    sketch's error bound (decided by the exact column), some just outside it (certified by the sketch)."""
    rng = np.random.default_rng(40)
    rows = 20_000
    reference = pd.DataFrame({f"w{i}": rng.normal(3 * i, 1 + i / 4, rows) for i in range(8)})
    # A copy of the reference moved by s std has a normed Wasserstein distance of exactly s.
    shifts = [0.06, 0.085, 0.097, 0.1, 0.103, 0.115, 0.14, 0.0]
    moved = reference.copy()
    for i, shift in enumerate(shifts):
        moved[f"w{i}"] = reference[f"w{i}"] + shift * reference[f"w{i}"].std(ddof=0)
    fresh = pd.DataFrame(
        {f"w{i}": rng.normal(3 * i + shift * (1 + i / 4), 1 + i / 4, 15_000) for i, shift in enumerate(shifts)}
    )
    # K-S below 1,000 reference rows, against a batch past scipy's exact regime: its asymptotic p-value.
    small = pd.DataFrame({f"k{i}": rng.normal(0, 1, 900) for i in range(6)})
    ks_current = pd.DataFrame({f"k{i}": rng.normal(0.035 * i, 1, 30_000) for i in range(6)})
    return [
        Case("sketch-wasserstein-moved-copy", reference, moved, None, SKETCH_BYTES),
        Case("sketch-wasserstein-fresh-sample", reference, fresh, None, SKETCH_BYTES),
        Case("sketch-ks-large-current", small, ks_current, None, 4096),
    ]


CATEGORIES_BYTES = 16 * 1024  # below the counts of 5,000 labels (140 KB)


def _categorical_bound_cases() -> list[Case]:
    """Categorical columns whose counts exceed the bound (kept apart, always decided by their exact counts):
    one a subsample of the reference, one drawn afresh over the same labels, with labels never seen."""
    rng = np.random.default_rng(50)
    names = np.array([f"c{i:04d}" for i in range(5000)], dtype=object)

    def labels() -> np.ndarray:
        return rng.permutation(np.repeat(names, rng.integers(2, 4, names.size)))

    shop, item = labels(), labels()
    rows = min(shop.size, item.size)
    reference = pd.DataFrame(
        {
            "amount": rng.normal(0, 1, rows),
            "shop": shop[:rows],
            "item": item[:rows],
            "size": rng.choice(["s", "m"], rows),
        }
    )
    current = reference.sample(frac=1.0, random_state=51).reset_index(drop=True)
    current["item"] = rng.choice(names, len(current))
    current.loc[:49, "shop"] = "never seen"
    return [Case("categories-over-the-bound", reference, current, None, CATEGORIES_BYTES)]


def _typed(rows: int, seed: int, *, rate: float = 0.07) -> pd.DataFrame:
    """An integer target at `rate`, an 8-value integer code, a 3-value integer level, a label set and a
    measurement."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": np.round(rng.normal(50, 10, rows), 3),
            "code": rng.integers(0, 8, rows),
            "level": rng.choice([1, 2, 3], rows, p=[0.5, 0.3, 0.2]),
            "shop": rng.choice(["north", "south", "east"], rows),
            "churned": (rng.random(rows) < rate).astype(int),
        }
    )


def _through(frame: pd.DataFrame, fmt: str) -> pd.DataFrame:
    """`frame` written to a file and read back, as the pipeline reads a batch (no column read as text)."""
    return frame_from_bytes(frame_to_bytes(frame, fmt), fmt)  # type: ignore[arg-type]


def _with_nan_codes(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """1% of the code column missing: the integer column turns float, which Evidently would re-type."""
    holed = frame.copy()
    holed["code"] = holed["code"].astype(float)
    holed.loc[holed.sample(frac=0.01, random_state=seed).index, "code"] = np.nan
    return holed


def _type_cases() -> list[Case]:
    """The same data spelled differently on each side: the verdict must not move."""
    cases = []
    for size, rows in (("large", 3000), ("small", 800)):
        reference, current = _typed(rows, 30), _typed(rows, 31)
        shifted = _typed(rows, 32, rate=0.2).assign(amount=lambda f: f["amount"] + 8)
        cases += [
            Case(f"types-{size}-int-target-as-text", reference, current.astype({"churned": str}), "churned"),
            Case(f"types-{size}-int-target-as-text-drifted", reference, shifted.astype({"churned": str}), "churned"),
            Case(f"types-{size}-parquet-vs-csv", _through(reference, "parquet"), _through(current, "csv"), "churned"),
            Case(f"types-{size}-nan-int-code", reference, _with_nan_codes(current, 33), "churned"),
            Case(
                f"types-{size}-category-vs-object",
                reference.astype({"shop": "category", "level": "category"}),
                current.astype({"shop": object, "level": str}),
                "churned",
            ),
        ]
    rng = np.random.default_rng(34)
    noted = _typed(1500, 35).assign(note=[f"order {rng.integers(1e9)}" for _ in range(1500)])
    cases.append(Case("types-text-column", noted, _typed(1500, 36).assign(note="same text"), "churned"))
    blanks = _typed(1500, 37).assign(gone=np.nan, never=None)
    current = _typed(1500, 38).assign(gone=1.0, never=None, amount=np.nan, shop=None)
    cases.append(Case("types-all-missing-columns", blanks, current, "churned"))
    return cases


def _all_cases() -> list[Case]:
    from sklearn.datasets import load_breast_cancer, load_iris, load_wine

    return [
        *_sklearn(load_iris, "iris"),
        *_sklearn(load_wine, "wine"),
        *_sklearn(load_breast_cancer, "breast_cancer"),
        *_penguins(),
        *_synthetic_cases(),
        *_large_cases(),
        *_sketch_cases(),
        *_categorical_bound_cases(),
        *_type_cases(),
    ]


CASES = {case.name: case for case in _all_cases()}


def _evidently(case: Case) -> dict:
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    inputs = evidently_inputs(case.reference, case.current, target=case.target)
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(inputs.current, data_definition=inputs.definition),
        Dataset.from_pandas(inputs.reference, data_definition=inputs.definition),
    )
    result = snapshot.dict()
    count = result["metrics"][0]["value"]
    columns = {
        metric["config"]["column"]: {"method": metric["config"]["method"], "score": metric["value"]}
        for metric in result["metrics"][1:]
    }
    for test in result["tests"]:
        params = test["metric_config"]["params"]
        if params["type"].endswith("ValueDrift"):
            columns[params["column"]]["drifted"] = test["status"] == "FAIL"
    return {"count": count["count"], "share": count["share"], "columns": columns}


@pytest.fixture(scope="module")
def evidently_results() -> dict[str, dict]:
    return {name: _evidently(case) for name, case in CASES.items()}


@pytest.fixture(scope="module")
def our_results() -> dict[str, dict]:
    results = {}
    for name, case in CASES.items():
        built = build_profile(case.reference, target=case.target, max_bytes_per_column=case.max_bytes_per_column)
        profile = type(built).from_bytes(built.to_bytes())  # as the pipeline reads it back from S3
        stored = {column: built.exact_column_bytes(column) for column in built.exact_columns}  # stored apart

        def exact_column(column: str, stored: dict[str, bytes] = stored):
            return exact_column_from_bytes(stored[column], column)

        result = detect_drift(profile, case.current, exact_column=exact_column)
        results[name] = result.to_dict()
        results[name]["score_errors"] = {column: got.score_error for column, got in result.columns.items()}
    return results


@pytest.mark.parametrize("name", list(CASES))
def test_columns_match_evidently(name: str, evidently_results: dict, our_results: dict) -> None:
    theirs = evidently_results[name]["columns"]
    ours = {column: got for column, got in our_results[name]["columns"].items() if got["status"] == "tested"}
    assert list(ours) == list(theirs)
    for column, expected in theirs.items():
        got = ours[column]
        assert got["method"] == expected["method"], column
        assert got["drifted"] == expected["drifted"], column
        # A score certified by a sketch is within its proven error of the exact one; others are exact.
        error = our_results[name]["score_errors"][column]
        assert (got["decided_by"] == "profile") or error == 0.0
        tolerance = error + 1e-6 * abs(expected["score"]) + 1e-12
        assert abs(got["score"] - expected["score"]) <= tolerance, (column, got, expected, error)


@pytest.mark.parametrize("name", list(CASES))
def test_dataset_drift_matches_evidently(name: str, evidently_results: dict, our_results: dict) -> None:
    theirs, ours = evidently_results[name], our_results[name]
    assert ours["number_of_drifted_columns"] == theirs["count"]
    assert ours["share_of_drifted_columns"] == pytest.approx(theirs["share"])
    assert ours["number_of_columns"] == len(theirs["columns"])
    assert ours["detected"] == (theirs["share"] >= 0.5)


def test_cases_cover_every_method_and_both_verdicts(our_results: dict) -> None:
    """Guards the parity tests themselves: the cases must exercise each method, drifting and not."""
    seen = {
        (column["method"], column["drifted"])
        for result in our_results.values()
        for column in result["columns"].values()
    }
    methods = {"K-S p_value", "chi-square p_value", "Z-test p_value", "Jensen-Shannon distance"}
    methods.add("Wasserstein distance (normed)")
    assert seen >= {(method, drifted) for method in methods for drifted in (True, False)}
    assert {result["detected"] for result in our_results.values()} == {True, False}


def test_sketch_cases_are_decided_both_ways_near_the_threshold(our_results: dict) -> None:
    """Guards the sketch cases: certified by the sketch and left to the exact column, drifting and not, with
    certified scores close to the threshold."""
    columns = [
        (column, got)
        for name, result in our_results.items()
        if name.startswith("sketch-")
        for column, got in result["columns"].items()
    ]
    seen = {(got["method"], got["decided_by"], got["drifted"]) for _, got in columns}
    for method in ("Wasserstein distance (normed)", "K-S p_value"):
        assert {(method, "profile", True), (method, "profile", False)} <= seen, method
    assert {("Wasserstein distance (normed)", "exact", True), ("Wasserstein distance (normed)", "exact", False)} <= seen
    near = [got["score"] for _, got in columns if got["decided_by"] == "profile" and got["method"].startswith("W")]
    assert any(0.085 <= score < 0.1 for score in near) and any(0.1 <= score <= 0.12 for score in near)


def test_the_categorical_case_over_the_bound_reads_the_exact_counts(our_results: dict) -> None:
    """Guards that case: both label columns kept apart and decided by their exact counts, drifting and not."""
    columns = our_results["categories-over-the-bound"]["columns"]
    got = {name: (column["method"], column["decided_by"], column["drifted"]) for name, column in columns.items()}
    assert got["shop"] == ("Jensen-Shannon distance", "exact", False)
    assert got["item"] == ("Jensen-Shannon distance", "exact", True)
    assert got["size"][1] == "profile"


def test_report_states_its_sample_and_keeps_small_data_whole() -> None:
    from mlops_core.drift import render_drift_report_html
    from mlops_core.exceptions import InvalidRequestError

    case = CASES["synthetic-small-small"]
    report = render_drift_report_html(case.reference, case.current, target="label", max_rows=300, seed=1)
    assert report.sampled and report.rows_used == {"reference": 300, "current": 300}
    body = report.html.index("<body")
    note = report.html.index("Sampled report.")
    assert body < note < body + 400  # at the very top of the page
    assert "300 of 800 reference rows" in report.html and "the full data" in report.html
    assert "colour" in report.html  # the per-column widgets are there

    whole = render_drift_report_html(case.reference, case.current, target="label", max_rows=800)
    assert not whole.sampled and whole.rows_used == {"reference": 800, "current": 800}
    assert "Sampled report." not in whole.html

    with pytest.raises(InvalidRequestError, match="max_rows"):
        render_drift_report_html(case.reference, case.current, target="label", max_rows=0)


@pytest.mark.parametrize("size", ["large", "small"])
def test_spelling_a_batch_differently_does_not_move_our_verdict(size: str, our_results: dict) -> None:
    """The type cases against the same batch in the reference's own types."""
    rows = 3000 if size == "large" else 800
    reference, current = _typed(rows, 30), _typed(rows, 31)
    plain = detect_drift(build_profile(reference, target="churned"), current).to_dict()
    as_text = dict(our_results[f"types-{size}-int-target-as-text"])
    del as_text["score_errors"]
    assert as_text == plain and not plain["target_drift"]["drifted"]
    assert plain["columns"]["code"]["column_type"] == "cat"  # 8 integers: categorical, as Evidently infers
    nan_codes = our_results[f"types-{size}-nan-int-code"]["columns"]["code"]  # the same rows, 1% missing
    code = plain["columns"]["code"]
    assert (nan_codes["column_type"], nan_codes["method"], nan_codes["drifted"]) == (
        "cat",
        code["method"],
        code["drifted"],
    )
    drifted = our_results[f"types-{size}-int-target-as-text-drifted"]["target_drift"]
    assert drifted["drifted"] and drifted["counted_in_share"]


def test_evidently_alone_would_retype_an_integer_code_that_gained_nan() -> None:
    """Why kinds come from the reference: Evidently infers them on each batch, where 1% NaN turn an integer
    code column float, hence numerical, hence another test."""
    from evidently import Dataset

    case = CASES["types-large-nan-int-code"]
    assert "code" in Dataset.from_pandas(case.reference).data_definition.get_categorical_columns()
    assert "code" in Dataset.from_pandas(case.current).data_definition.get_numerical_columns()


def test_text_and_all_missing_columns_are_reported_not_tested(our_results: dict, evidently_results: dict) -> None:
    text = our_results["types-text-column"]
    assert list(text["excluded_columns"]) == ["note"] and "note" not in text["columns"]
    assert "note" not in evidently_results["types-text-column"]["columns"]

    holes = our_results["types-all-missing-columns"]["columns"]
    statuses = {name: (c["status"], c["missing_in"]) for name, c in holes.items() if c["status"] != "tested"}
    assert statuses == {
        "amount": ("all_missing", "current"),
        "shop": ("all_missing", "current"),
        "gone": ("all_missing", "reference"),
        "never": ("all_missing", "both"),
    }
    assert our_results["types-all-missing-columns"]["number_of_columns"] == 3  # code, level, churned


def test_report_counts_a_reference_given_as_a_sample() -> None:
    from mlops_core.drift import render_drift_report_html

    case = CASES["synthetic-small-small"]
    report = render_drift_report_html(case.reference, case.current, target="label", reference_rows=5000)
    assert report.sampled and report.rows_used == {"reference": 800, "current": 800}
    assert "800 of 5,000 reference rows" in report.html


def test_report_leaves_out_and_names_columns_without_values() -> None:
    from mlops_core.drift import render_drift_report_html

    case = CASES["types-all-missing-columns"]
    report = render_drift_report_html(case.reference, case.current, target="churned")
    note = report.html.index("Columns without any value")
    listed = report.html[note : note + 800]
    assert "amount (none in the current batch)" in listed and "gone (none in the reference)" in listed
    assert "never (none in either side)" in listed
