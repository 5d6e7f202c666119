"""check_data_drift on in-memory fakes: every branch of the service, in milliseconds."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_core import layout
from mlops_core.contracts import DriftOutput
from mlops_core.exceptions import DataValidationError, InvalidRequestError, NotFoundError
from mlops_core.pipeline import check_drift

from tests.fakes import fake_deps
from tests.fakes.scenario import add_batch, envelope, seed


@pytest.fixture
def deps() -> Any:
    deps = fake_deps()
    seed(deps)
    return deps


def test_a_drifted_batch_is_detected_with_the_contract_keys_and_the_column_kinds(deps) -> None:
    key = add_batch(deps, strength=1.5)
    out = check_drift.run(envelope("run-1"), deps)

    assert set(out) == set(DriftOutput.__annotations__)
    assert out["detected"] is True and out["batch_key"] == key and out["batch_rows"] == 300
    assert out["column_kinds"] == {
        "sepal_length": "num",
        "sepal_width": "num",
        "petal_length": "num",
        "petal_width": "num",
        "species": "cat",
    }
    assert set(out["columns"]) == set(out["column_kinds"])
    assert out["share_of_drifted_columns"] >= 0.5
    assert out["reference_rows"] == 150


def test_the_drift_report_is_stored_beside_the_run_report_with_the_configured_share(deps) -> None:
    deps = fake_deps(settings={"drift_share": 0.8})
    seed(deps)
    add_batch(deps)
    out = check_drift.run(envelope("run-7"), deps)

    assert out["report_key"] == layout.drift_report_key("run-7")
    assert deps.reports.content_types[out["report_key"]] == "text/html"
    assert deps.drift_reporter.calls[0]["drift_share"] == 0.8 == out["drift_share"]
    assert deps.drift_reporter.calls[0]["categorical"] == []  # the target is not a feature


def test_a_batch_drawn_like_the_baseline_is_no_drift(deps) -> None:
    add_batch(deps, strength=0, seed=5)
    out = check_drift.run(envelope(), deps)
    assert out["detected"] is False
    assert out["number_of_drifted_columns"] < out["number_of_columns"] / 2


def test_without_a_batch_key_the_newest_batch_is_checked(deps) -> None:
    add_batch(deps, seed=1)
    newest = add_batch(deps, seed=2)
    assert check_drift.run(envelope(), deps)["batch_key"] == newest


def test_a_named_batch_is_checked_even_when_newer_ones_exist(deps) -> None:
    named = add_batch(deps, seed=1, fmt="csv")
    add_batch(deps, seed=2)
    file_name = named.rsplit("/", 1)[1]
    assert check_drift.run(envelope(batch_key=file_name), deps)["batch_key"] == named


@pytest.mark.parametrize("batch_key", [42, ["a.csv"], {"key": "a.csv"}])
def test_a_batch_key_that_is_not_a_string_is_refused_before_any_read(deps, batch_key: Any) -> None:
    deps.data.reads.clear()
    with pytest.raises(InvalidRequestError, match="batch_key must be a string") as error:
        check_drift.run(envelope(batch_key=batch_key), deps)
    assert error.value.field == "batch_key"
    assert not [k for k in deps.data.reads if "current/" in k or "profiles/" in k]


@pytest.mark.parametrize("batch_key", ["datasets/iris/baseline.parquet", "../other/current/x.csv", "s3://elsewhere/x"])
def test_a_batch_key_outside_the_datasets_current_folder_is_refused(deps, batch_key: str) -> None:
    add_batch(deps)
    with pytest.raises(InvalidRequestError):
        check_drift.run(envelope(batch_key=batch_key), deps)


def test_no_batch_at_all_is_not_found(deps) -> None:
    with pytest.raises(NotFoundError, match="no batch under s3://data/datasets/iris/current/"):
        check_drift.run(envelope(), deps)


def test_an_unseeded_dataset_is_not_found_naming_its_configuration() -> None:
    with pytest.raises(NotFoundError, match=r"dataset 'iris' is not configured: s3://data/datasets/iris/dataset.json"):
        check_drift.run(envelope(), fake_deps())


def test_a_run_naming_another_dataset_is_refused_with_how_to_deploy_for_it(deps) -> None:
    state = envelope()
    state["input"]["dataset"] = "penguins"
    with pytest.raises(InvalidRequestError, match="DatasetName=penguins"):
        check_drift.run(state, deps)


def test_a_missing_baseline_is_not_found(deps) -> None:
    add_batch(deps)
    del deps.data.objects["datasets/iris/baseline.parquet"]
    with pytest.raises(NotFoundError, match=r"baseline s3://data/datasets/iris/baseline\.parquet does not exist"):
        check_drift.run(envelope(), deps)


def test_the_reference_profile_is_built_once_then_read_back(deps) -> None:
    add_batch(deps)
    check_drift.run(envelope("run-1"), deps)
    profile_keys = deps.data.keys("profiles/")
    assert [k.rsplit("/", 1)[1] for k in profile_keys] == ["meta.json", "profile.bin", "sample.parquet"]
    # meta.json is written last: its presence means the profile is complete.
    assert [k for k in deps.data.writes if k.startswith("profiles/")][-1].endswith("meta.json")

    add_batch(deps, seed=12)
    deps.data.reads.clear()
    check_drift.run(envelope("run-2"), deps)
    assert deps.data.keys("profiles/") == profile_keys
    assert "datasets/iris/baseline.parquet" not in deps.data.reads  # the profile replaces the baseline


def test_a_new_baseline_gets_a_new_profile(deps) -> None:
    add_batch(deps)
    first = check_drift.run(envelope("run-1"), deps)["profile_prefix"]
    baseline = deps.data.objects.pop("datasets/iris/baseline.parquet")
    deps.data.put_new("datasets/iris/baseline.parquet", baseline + b"")  # same bytes, new object: same ETag
    assert check_drift.run(envelope("run-2"), deps)["profile_prefix"] == first

    from mlops_core.data import read_table
    from mlops_core.data.io import frame_to_bytes

    frame = read_table(deps.data, "datasets/iris/baseline.parquet")
    del deps.data.objects["datasets/iris/baseline.parquet"]
    deps.data.put_new("datasets/iris/baseline.parquet", frame_to_bytes(frame.head(120), "parquet"))
    second = check_drift.run(envelope("run-3"), deps)
    assert second["profile_prefix"] != first and second["reference_rows"] == 120


def test_a_retried_run_keeps_the_first_drift_report(deps) -> None:
    add_batch(deps)
    first = check_drift.run(envelope("run-1"), deps)
    page = deps.reports.objects[first["report_key"]]
    again = check_drift.run(envelope("run-1"), deps)
    assert again["report_key"] == first["report_key"]
    assert deps.reports.objects[first["report_key"]] == page
    assert len(deps.drift_reporter.calls) == 2


def test_an_invalid_batch_fails_naming_the_problem_and_writes_no_report(deps) -> None:
    from mlops_core.data import read_table, write_table

    key = add_batch(deps)
    broken = read_table(deps.data, key).drop(columns=["petal_width"])
    write_table(deps.data, "datasets/iris/current/broken.csv", broken)
    with pytest.raises(DataValidationError, match="petal_width"):
        check_drift.run(envelope(batch_key="broken.csv"), deps)
    assert deps.reports.keys() == []
