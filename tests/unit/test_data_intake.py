"""intake: a user's baseline or batch file checked before upload; every refusal is one exact line naming the
file, the column and the fix."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from mlops_core.data import DatasetConfig
from mlops_core.data.intake import classes, parse_table, prepare_baseline, prepare_batch, table_format
from mlops_core.exceptions import DataValidationError

BASELINE = pd.DataFrame(
    {
        "size": [1.0, 2.5, 3.0, 4.5, 5.0, 6.5],
        "colour": ["red", "blue", "red", "green", "blue", "red"],
        "code": [1, 2, 1, 3, 2, 1],
        "kind": ["a", "b", "a", "b", "c", "a"],
    }
)


def _csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode()


def _parquet(df: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    df.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _baseline(body: bytes = b"", source: str = "base.csv", **options):
    options.setdefault("target", "kind")
    return prepare_baseline(body or _csv(BASELINE), source=source, name="shop", **options)


def _refused(call, *args, **kwargs) -> str:
    with pytest.raises(DataValidationError) as raised:
        call(*args, **kwargs)
    message = str(raised.value)
    assert "\n" not in message, message
    return message


# ---------------------------------------------------------------- a good baseline


def test_a_baseline_gives_the_frame_and_the_dataset_configuration() -> None:
    intake, config = _baseline()

    assert config == DatasetConfig(
        name="shop",
        target="kind",
        baseline_key="datasets/shop/baseline.csv",
        features=["size", "colour", "code"],
        categorical=["colour"],
        format="csv",
    )
    assert intake.labels == ["a", "b", "c"]
    assert intake.dropped == []
    pd.testing.assert_frame_equal(intake.frame, BASELINE)


def test_options_choose_features_and_categoricals_and_leave_other_columns_out() -> None:
    intake, config = _baseline(features=["code", "colour"], categorical=["code"])

    # Integer codes named categorical come back as text, as the pipeline reads them.
    assert config.features == ["code", "colour"] and config.categorical == ["code", "colour"]
    assert intake.dropped == ["size"]
    assert list(intake.frame.columns) == ["colour", "code", "kind"]
    assert intake.frame["code"].tolist() == ["1", "2", "1", "3", "2", "1"]


def test_parquet_by_name_or_by_flag() -> None:
    _, by_name = _baseline(_parquet(BASELINE), source="base.parquet")
    _, by_flag = _baseline(_parquet(BASELINE), source="export.bin", fmt="parquet")

    assert by_name.format == by_flag.format == "parquet"
    assert by_name.baseline_key == "datasets/shop/baseline.parquet"


def test_numeric_labels_are_classes_as_text() -> None:
    intake, _ = _baseline(_csv(BASELINE.assign(kind=[0, 1, 0, 1, 2, 0])))
    assert intake.labels == ["0", "1", "2"]
    # A missing label makes the column float: its classes are spelled as the reference profile spells them.
    assert classes(pd.Series([2, np.nan, 10])) == ["10.0", "2.0"]


# ---------------------------------------------------------------- refused baselines


def test_a_wrong_target_lists_the_columns_it_has() -> None:
    assert _refused(_baseline, target="knd") == (
        "base.csv: no column 'knd' for --target; its columns are 'size', 'colour', 'code', 'kind': pass one of "
        "them as --target"
    )


def test_a_missing_feature_column() -> None:
    assert _refused(_baseline, features=["size", "weight"]) == (
        "base.csv: --features names 'weight', not a column of the file (its columns are 'size', 'colour', 'code', "
        "'kind'): correct the name or leave it out"
    )


def test_missing_categorical_columns() -> None:
    assert _refused(_baseline, categorical=["shape", "tone"]) == (
        "base.csv: --categorical names 'shape', 'tone', not columns of the file (its columns are 'size', "
        "'colour', 'code', 'kind'): correct the names or leave them out"
    )


def test_a_categorical_column_that_is_not_a_feature() -> None:
    assert _refused(_baseline, features=["size"], categorical=["colour"]) == (
        "base.csv: --categorical names 'colour' that --features leaves out: add it to --features or drop it from "
        "--categorical"
    )


def test_the_target_among_the_features_or_categoricals() -> None:
    assert _refused(_baseline, features=["size", "kind"]) == (
        "base.csv: --features includes the target 'kind': leave it out of --features"
    )
    assert _refused(_baseline, categorical=["kind"]) == (
        "base.csv: --categorical includes the target 'kind': the target is a class label anyway; leave it out of "
        "--categorical"
    )


def test_a_feature_named_twice() -> None:
    assert _refused(_baseline, features=["size", "size"]) == (
        "base.csv: --features lists 'size' twice: name each column once"
    )


def test_a_file_with_only_the_target() -> None:
    assert _refused(_baseline, _csv(BASELINE[["kind"]])) == (
        "base.csv: no feature columns, only the target 'kind': add the columns a model predicts from"
    )


@pytest.mark.parametrize("body", [b"", b"  \n\n"])
def test_an_empty_file(body: bytes) -> None:
    with pytest.raises(DataValidationError) as raised:
        prepare_baseline(body, source="base.csv", name="shop", target="kind")
    assert str(raised.value) == (
        "base.csv: the file is empty (no header, no rows): give a CSV file with a header line and at least one row"
    )


def test_a_header_without_rows() -> None:
    assert _refused(_baseline, b"size,colour,code,kind\n") == (
        "base.csv: no rows under the header ('size', 'colour', 'code', 'kind'): add at least one row of data"
    )


def test_a_parquet_file_without_rows_or_columns() -> None:
    assert _refused(_baseline, _parquet(BASELINE.iloc[:0]), source="base.parquet") == (
        "base.parquet: no rows under the header ('size', 'colour', 'code', 'kind'): add at least one row of data"
    )
    assert _refused(_baseline, _parquet(pd.DataFrame()), source="base.parquet") == (
        "base.parquet: no columns (no header line): put the column names on the first line"
    )


def test_a_target_with_one_class() -> None:
    assert _refused(_baseline, _csv(BASELINE.assign(kind="a"))) == (
        "base.csv: the target 'kind' has one class only ('a'): a classifier needs at least two; add rows of "
        "another class or choose another --target"
    )


def test_a_target_with_no_values_or_unlabelled_rows() -> None:
    assert _refused(_baseline, _csv(BASELINE.assign(kind=np.nan))) == (
        "base.csv: the target 'kind' has no values (every row is empty): fill it in or choose another --target"
    )
    unlabelled = BASELINE.assign(kind=["a", None, "b", None, None, None])
    assert _refused(_baseline, _csv(unlabelled)) == (
        "base.csv: the target 'kind' is empty in 4 rows (data rows 2, 4, 5, …): label those rows or drop them"
    )


def test_a_feature_column_with_no_values() -> None:
    assert _refused(_baseline, _csv(BASELINE.assign(code=np.nan))) == (
        "base.csv: column 'code' has no values (every row is empty): drop it from the file or leave it out of "
        "--features"
    )
    assert _refused(_baseline, _csv(BASELINE.assign(code=np.nan, size=np.nan))) == (
        "base.csv: columns 'size', 'code' have no values (every row is empty): drop them from the file or leave "
        "them out of --features"
    )


def test_a_file_that_is_not_csv() -> None:
    message = _refused(_baseline, b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary", source="photo.csv")
    assert message.startswith("photo.csv: cannot be read as CSV (")
    assert message.endswith("): give a CSV or Parquet file, and pass --format when its name does not say which")


def test_a_csv_file_named_parquet() -> None:
    message = _refused(_baseline, _csv(BASELINE), source="base.parquet")
    assert message.startswith("base.parquet: cannot be read as Parquet (")
    assert "magic bytes" in message


def test_a_file_whose_name_names_no_format() -> None:
    assert _refused(table_format, "data.xlsx") == (
        "data.xlsx: cannot tell the format from the file name: name it .csv or .parquet, or pass --format csv or "
        "--format parquet"
    )
    assert _refused(table_format, "data.csv", "json") == (
        "data.csv: format 'json' is not one of csv, parquet: pass --format csv"
    )


def test_the_pipelines_own_checks_apply_too() -> None:
    message = _refused(_baseline, _csv(BASELINE.assign(size=[1.0, np.inf, 3.0, 4.0, 5.0, 6.0])))
    assert message == "base.csv is invalid: column 'size' has infinite values"


# ---------------------------------------------------------------- batches


@pytest.fixture
def dataset() -> tuple[DatasetConfig, pd.DataFrame]:
    intake, config = _baseline()
    return config, intake.frame


def _batch(dataset, df: pd.DataFrame, **options):
    config, baseline = dataset
    return prepare_batch(_csv(df), source="day.csv", config=config, baseline=baseline, **options)


def test_a_good_batch_keeps_the_dataset_columns(dataset) -> None:
    batch = BASELINE.iloc[:4].assign(note="x", size=[9.0, 8.0, 7.0, 6.0])
    intake = _batch(dataset, batch)

    assert intake.dropped == ["note"]
    assert intake.labels == ["a", "b"] and intake.new_labels == []
    pd.testing.assert_frame_equal(intake.frame, batch.drop(columns="note"))


def test_a_batch_label_the_baseline_never_had(dataset) -> None:
    batch = BASELINE.assign(kind=["a", "b", "d", "a", "e", "a"])
    assert _refused(_batch, dataset, batch) == (
        "day.csv: the target 'kind' has labels the baseline never had: 'd', 'e' (the baseline's: 'a', 'b', 'c'): "
        "correct them, or pass --allow-new-labels if the class is new on purpose"
    )
    allowed = _batch(dataset, batch, allow_new_labels=True)
    assert allowed.new_labels == ["d", "e"]


def test_a_batch_with_no_label_of_the_baseline_is_refused_even_when_new_labels_are_allowed(dataset) -> None:
    batch = BASELINE.assign(kind=["A", "B", "A", "B", "C", "A"])
    message = (
        "day.csv: none of the target 'kind' labels is one the baseline had: got 'A', 'B', 'C', the baseline's "
        "are 'a', 'b', 'c': spell the labels as the baseline does"
    )
    assert _refused(_batch, dataset, batch) == message
    assert _refused(_batch, dataset, batch, allow_new_labels=True) == message


def test_a_batch_without_the_target_or_a_feature(dataset) -> None:
    assert _refused(_batch, dataset, BASELINE.drop(columns="kind")) == (
        "day.csv: no column 'kind', the target of dataset 'shop' (its columns are 'size', 'colour', 'code'): add "
        "the true labels as column 'kind'"
    )
    assert _refused(_batch, dataset, BASELINE.drop(columns=["colour", "code"])) == (
        "day.csv: lacks columns 'colour', 'code' of dataset 'shop': add them (the dataset's columns are 'size', "
        "'colour', 'code', 'kind')"
    )


def test_a_batch_the_pipeline_would_refuse(dataset) -> None:
    batch = BASELINE.assign(size=["1.0", "big", "3", "4", "5", "6"])
    assert _refused(_batch, dataset, batch) == (
        "day.csv is invalid: column 'size' should be numeric (float64) but has 1 non-numeric values, e.g. 'big'"
    )


def test_an_empty_batch(dataset) -> None:
    config, baseline = dataset
    assert _refused(prepare_batch, b"", source="day.csv", config=config, baseline=baseline) == (
        "day.csv: the file is empty (no header, no rows): give a CSV file with a header line and at least one row"
    )


def test_parse_table_gives_text_column_names() -> None:
    frame = parse_table(_parquet(pd.DataFrame({1: [1.0], "b": ["x"]})), source="t.parquet", fmt="parquet")
    assert list(frame.columns) == ["1", "b"]


def test_a_free_text_feature_is_left_out_of_categorical_unless_named() -> None:
    named = BASELINE.assign(note=[f"note {i}" for i in range(len(BASELINE))])

    intake, config = _baseline(_csv(named))
    assert intake.text == ["note"] and config.categorical == ["colour"]
    assert "note" in config.features and "note" in intake.frame.columns

    intake, config = _baseline(_csv(named), categorical=["note"])
    assert intake.text == [] and config.categorical == ["colour", "note"]
