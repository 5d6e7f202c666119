"""validate_batch: every kind of bad batch gets a specific, human error naming the columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlops_core.data import DatasetConfig, coerce_features, column_kinds, dtypes_of, validate_batch
from mlops_core.exceptions import DataValidationError

CONFIG = DatasetConfig(
    name="penguins",
    target="species",
    baseline_key="datasets/penguins/baseline.parquet",
    features=["island", "bill_length_mm", "body_mass_g", "sex"],
    categorical=["island", "sex"],
)
LABELS = ["Adelie", "Chinstrap", "Gentoo"]


def _batch(**columns) -> pd.DataFrame:
    data = {
        "island": ["Dream", "Biscoe", None, "Torgersen"],
        "bill_length_mm": [39.1, np.nan, 40.3, 36.7],
        "body_mass_g": [3750, 3800, 3250, 3450],
        "sex": ["male", "female", None, "female"],
        "species": ["Adelie", "Gentoo", "Adelie", "Chinstrap"],
    }
    data.update(columns)
    return pd.DataFrame({k: v for k, v in data.items() if v is not None})


REFERENCE = dtypes_of(_batch(body_mass_g=[3750.0, 3800.0, 3250.0, 3450.0]))


def _validate(df: pd.DataFrame, **kwargs):
    return validate_batch(df, CONFIG, REFERENCE, reference_labels=LABELS, source="batch b.csv", **kwargs)


def test_a_good_batch_passes_with_its_shape() -> None:
    report = _validate(_batch())
    assert (report.rows, report.unseen_labels, report.warnings) == (4, [], [])
    assert report.columns == ["island", "bill_length_mm", "body_mass_g", "sex", "species"]


def test_column_order_does_not_matter() -> None:
    assert _validate(_batch()[["species", "sex", "body_mass_g", "bill_length_mm", "island"]]).rows == 4


@pytest.mark.parametrize(
    ("df", "message"),
    [
        (_batch().head(0), r"batch b.csv is empty: 0 rows, 5 columns"),
        (pd.DataFrame(), r"is empty: 0 rows, 0 columns"),
        (_batch().drop(columns="species"), r"the target column 'species' is missing"),
        (_batch().drop(columns=["sex", "island"]), r"missing columns: island, sex"),
        (_batch(flipper=[1, 2, 3, 4]), r"unexpected columns: flipper \(expected island, .*species\)"),
        (_batch(species=[None] * 4), r"the target 'species' has no value at all \(4 rows\): a batch must be labelled"),
        (
            _batch(body_mass_g=["3750", "heavy", "n/a", "3450"]),
            r"column 'body_mass_g' should be numeric \(float64\) but has 2 non-numeric values, e.g. 'heavy', 'n/a'",
        ),
        (_batch(body_mass_g=[True, False, True, True]), r"column 'body_mass_g' should be numeric but holds booleans"),
        (_batch(bill_length_mm=[1.0, np.inf, 2.0, 3.0]), r"column 'bill_length_mm' has infinite values"),
        (
            _batch(species=["Adelie", None, "Gentoo", None]),
            r"the target 'species' is missing in 2 rows \(e.g. rows 1, 3\)",
        ),
        (
            _batch(species=[0, 1, 2, 1]),
            r"none of the target 'species' labels was seen in the baseline: got '0', '1', '2', "
            r"expected labels like 'Adelie'",
        ),
    ],
    ids=[
        "zero-rows",
        "no-columns",
        "no-target",
        "missing",
        "unexpected",
        "all-nan-target",
        "text-in-numeric",
        "bool-in-numeric",
        "infinite",
        "missing-labels",
        "foreign-labels",
    ],
)
def test_bad_batches_are_refused_with_specific_messages(df, message) -> None:
    with pytest.raises(DataValidationError, match=message):
        _validate(df)


def test_every_problem_is_reported_at_once() -> None:
    df = _batch(flipper=[1, 2, 3, 4], body_mass_g=["x"] * 4).drop(columns="sex")
    with pytest.raises(DataValidationError) as caught:
        _validate(df)
    message = str(caught.value)
    assert message.startswith("batch b.csv is invalid: ")
    for part in ("missing columns: sex", "unexpected columns: flipper", "'body_mass_g' should be numeric"):
        assert part in message


def test_features_without_any_value_pass_with_a_warning() -> None:
    """Drift reports such a column as all missing; failing the whole run over it helps nobody."""
    report = _validate(_batch(bill_length_mm=[np.nan] * 4, sex=[None] * 4))
    assert report.warnings == ["columns with no values at all (all missing): bill_length_mm, sex"]


def test_labels_compare_as_numbers_whatever_the_file_format() -> None:
    numeric = DatasetConfig(name="codes", target="label", baseline_key="datasets/codes/baseline.csv")
    reference = {"x": "float64", "label": "int64"}
    batch = pd.DataFrame({"x": [0.5, 1.5, 2.5], "label": [1.0, 2.0, 3.0]})  # float: read from Parquet
    report = validate_batch(batch, numeric, reference, reference_labels=["1", "2"])
    assert report.unseen_labels == ["3.0"]
    as_text = batch.assign(label=["1", "2.0", "2"])
    assert validate_batch(as_text, numeric, reference, reference_labels=[1, 2]).unseen_labels == []


def test_duplicate_column_names_are_refused() -> None:
    df = _batch()
    df.columns = ["island", "island", "body_mass_g", "sex", "species"]
    with pytest.raises(DataValidationError, match="duplicate column names: island"):
        _validate(df)


def test_unseen_labels_are_allowed_and_reported() -> None:
    report = _validate(_batch(species=["Adelie", "Emperor", "Gentoo", "Emperor"]))
    assert report.unseen_labels == ["Emperor"]
    assert report.warnings == ["labels not in the baseline: Emperor"]


def test_numbers_as_text_and_integers_pass_numeric_columns() -> None:
    assert _validate(_batch(body_mass_g=["3750", "3800.5", None, "3450"])).rows == 4


def test_categorical_columns_accept_numeric_codes() -> None:
    assert _validate(_batch(sex=[1, 0, np.nan, 1])).rows == 4


def test_without_a_feature_list_every_reference_column_is_expected() -> None:
    open_config = DatasetConfig(name="p", target="species", baseline_key="b.parquet")
    with pytest.raises(DataValidationError, match="missing columns: sex"):
        validate_batch(_batch().drop(columns="sex"), open_config, REFERENCE)
    assert validate_batch(_batch(), open_config, REFERENCE).rows == 4


def test_column_kinds_and_model_form() -> None:
    open_config = DatasetConfig(name="p", target="species", baseline_key="b.parquet")
    kinds = column_kinds(open_config, REFERENCE)
    assert kinds == {"island": "cat", "bill_length_mm": "num", "body_mass_g": "num", "sex": "cat"}
    assert column_kinds(CONFIG, {**REFERENCE, "sex": "int64"})["sex"] == "cat"  # configured wins
    frame = coerce_features(_batch(sex=[1, 0, np.nan, 1]), kinds)
    assert frame.dtypes.astype(str).to_dict() == {
        "island": "object",
        "bill_length_mm": "float64",
        "body_mass_g": "float64",
        "sex": "object",
    }
    assert frame["sex"].tolist()[:2] == ["1", "0"] and np.isnan(frame["sex"].iloc[2])
    assert frame["island"].iloc[0] == "Dream" and np.isnan(frame["island"].iloc[2])
