"""check_data_drift on in-memory fakes: every branch of the service, in milliseconds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlops_core import layout
from mlops_core.contracts import DriftOutput
from mlops_core.exceptions import ConfigurationError, DataValidationError, InvalidRequestError, NotFoundError
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
    assert out["excluded_columns"] == {}
    assert out["target_drift"] == {"column": "species", "counted_in_share": True, **out["columns"]["species"]}
    assert {column["status"] for column in out["columns"].values()} == {"tested"}


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


def test_a_replaced_configuration_over_the_same_baseline_gets_its_own_profile(deps) -> None:
    """`mlops dataset add --replace` with the same file but other roles: the old profile would test the columns
    as they were."""
    import json

    from mlops_core import layout

    add_batch(deps)
    first = check_drift.run(envelope("run-1"), deps)
    assert first["columns"]["petal_width"]["column_type"] == "num"
    key = layout.dataset_config_key("iris")
    config = json.loads(deps.data.objects.pop(key))
    deps.data.put_new(key, json.dumps({**config, "categorical": ["petal_width"]}).encode())

    second = check_drift.run(envelope("run-2"), deps)
    assert second["profile_prefix"] != first["profile_prefix"]
    assert second["columns"]["petal_width"]["column_type"] == "cat"


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


# --- types that agree: a dataset of our own, with an integer target, codes, text and holes -------------------


def _codes(rows: int, seed: int) -> pd.DataFrame:
    """An integer target at a 7% rate, an 8-value integer code, a free-text column and a measurement."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": np.round(rng.normal(50, 10, rows), 3),  # exact through CSV
            "code": rng.integers(0, 8, rows),
            "note": [f"order {rng.integers(1e9)} by {rng.integers(1e6)}" for _ in range(rows)],
            "churned": (rng.random(rows) < 0.07).astype(int),
        }
    )


def _own_dataset(deps, baseline: pd.DataFrame, *, target: str = "churned", **config: Any) -> None:
    from mlops_core.data import DatasetConfig, write_table

    write_table(deps.data, "datasets/iris/baseline.parquet", baseline)
    settings = DatasetConfig(name="iris", target=target, baseline_key="datasets/iris/baseline.parquet", **config)
    deps.data.put_new(layout.dataset_config_key("iris"), settings.to_json().encode())


def _batch(deps, frame: pd.DataFrame, name: str = "b.csv") -> str:
    from mlops_core.data import write_table

    return write_table(deps.data, f"datasets/iris/current/{name}", frame)


@pytest.fixture
def own() -> Any:
    deps = fake_deps()
    _own_dataset(deps, _codes(2000, 0))
    return deps


def test_an_integer_target_read_back_as_text_from_csv_is_no_drift(own) -> None:
    batch = _codes(1500, 1)
    batch.loc[batch.sample(frac=0.01, random_state=2).index, "code"] = np.nan  # the code column turns float
    _batch(own, batch)
    out = check_drift.run(envelope(), own)

    assert out["target_drift"] == {"column": "churned", "counted_in_share": True, **out["columns"]["churned"]}
    assert out["target_drift"]["method"] == "Jensen-Shannon distance" and not out["target_drift"]["drifted"]
    assert out["target_drift"]["score"] < 0.05  # not √ln2 = 0.83: the same classes on both sides
    assert out["columns"]["code"]["column_type"] == "num" and not out["columns"]["code"]["drifted"]
    assert out["detected"] is False and out["number_of_columns"] == 3


def test_the_same_batch_as_csv_or_parquet_gets_the_same_verdict(own) -> None:
    batch = _codes(1500, 3)
    csv = check_drift.run(envelope("run-csv", batch_key=_batch(own, batch, "b.csv")), own)
    parquet = check_drift.run(envelope("run-pq", batch_key=_batch(own, batch, "b.parquet")), own)
    assert csv["columns"] == parquet["columns"] and csv["target_drift"] == parquet["target_drift"]


def test_a_text_column_is_excluded_with_its_reason_and_kept_for_the_model(own) -> None:
    _batch(own, _codes(500, 4))
    out = check_drift.run(envelope(), own)
    assert set(out["excluded_columns"]) == {"note"} and out["excluded_columns"]["note"].startswith("text (")
    assert "note" not in out["columns"] and out["column_kinds"]["note"] == "cat"  # training still sees it
    assert "note" not in own.drift_reporter.calls[0]["columns"]


def test_a_text_column_listed_as_categorical_is_tested(own) -> None:
    deps = fake_deps()
    _own_dataset(deps, _codes(500, 0), categorical=["note"])
    _batch(deps, _codes(300, 4))
    out = check_drift.run(envelope(), deps)
    assert out["excluded_columns"] == {} and out["columns"]["note"]["drifted"]  # every value is new


def test_a_column_with_no_value_in_the_batch_is_reported_and_not_counted(own) -> None:
    _batch(own, _codes(500, 5).assign(note=None, amount=np.nan))
    out = check_drift.run(envelope(), own)
    amount = out["columns"]["amount"]
    assert (amount["status"], amount["missing_in"], amount["score"], amount["drifted"]) == (
        "all_missing",
        "current",
        None,
        False,
    )
    assert out["number_of_columns"] == 2  # code and the target


def test_the_target_can_be_kept_out_of_the_share() -> None:
    deps = fake_deps(settings={"target_in_drift_share": False})
    _own_dataset(deps, _codes(2000, 0))
    batch = _codes(2000, 0).assign(churned=lambda f: (f["amount"] > 45).astype(int))  # the labels moved, nothing else
    _batch(deps, batch)
    out = check_drift.run(envelope(), deps)
    assert out["target_drift"]["drifted"] and out["target_drift"]["counted_in_share"] is False
    assert (out["number_of_drifted_columns"], out["number_of_columns"]) == (0, 2)
    assert out["detected"] is False


def test_a_wrong_target_fails_in_one_line_naming_the_baseline_and_the_fix() -> None:
    deps = fake_deps()
    _own_dataset(deps, _codes(200, 0), target="label")
    _batch(deps, _codes(100, 1).rename(columns={"churned": "label"}))
    with pytest.raises(ConfigurationError) as error:
        check_drift.run(envelope(), deps)
    assert str(error.value) == (
        "baseline s3://data/datasets/iris/baseline.parquet has no target column 'label': set \"target\" in "
        "s3://data/datasets/iris/dataset.json to one of 'amount', 'code', 'note', 'churned'"
    )


def test_a_missing_configured_feature_fails_naming_the_field_to_fix() -> None:
    deps = fake_deps()
    _own_dataset(deps, _codes(200, 0), features=["amount", "colour"], categorical=["colour"])
    _batch(deps, _codes(100, 1))
    with pytest.raises(ConfigurationError, match=r"no column 'colour' of \"features\": fix \"features\" in s3://"):
        check_drift.run(envelope(), deps)


def test_a_label_that_is_not_a_number_names_the_batch_the_column_and_the_value(own) -> None:
    batch = _codes(100, 7).astype({"churned": object})
    batch.loc[3, "churned"] = "yes"
    key = _batch(own, batch)
    with pytest.raises(DataValidationError, match=rf"^batch s3://data/{key}: column 'churned' holds 1 value\(s\) that"):
        check_drift.run(envelope(), own)
    assert own.reports.keys() == []


def test_an_unlabelled_batch_is_refused(own) -> None:
    _batch(own, _codes(100, 8).assign(churned=None))
    with pytest.raises(DataValidationError, match="the target 'churned' has no value at all"):
        check_drift.run(envelope(), own)


@pytest.mark.parametrize(
    ("max_rows", "batch_rows", "sampled", "rows"),
    [
        (20_000, 300, False, {"reference": 150, "current": 300}),
        (120, 100, True, {"reference": 120, "current": 100}),  # only the stored reference sample is bounded
        (200, 300, True, {"reference": 150, "current": 200}),
    ],
)
def test_report_sampled_is_true_whenever_either_side_was_sampled(max_rows, batch_rows, sampled, rows) -> None:
    deps = fake_deps(settings={"drift_report_max_rows": max_rows})
    seed(deps)
    add_batch(deps, rows=batch_rows)
    out = check_drift.run(envelope(), deps)
    assert (out["report_sampled"], out["report_rows"]) == (sampled, rows)
    assert deps.drift_reporter.calls[0]["reference_rows"] == 150


def _measurements(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"amount": rng.normal(50 + shift, 10, rows), "churned": (rng.random(rows) < 0.07).astype(int)})


def test_a_bounded_profile_stores_the_exact_column_apart_and_reads_it_only_near_the_threshold(monkeypatch) -> None:
    from mlops_core import settings

    monkeypatch.setenv(settings.DRIFT_PROFILE_MAX_BYTES_PER_COLUMN, "4096")
    deps = fake_deps()
    baseline = _measurements(20_000, 0)
    _own_dataset(deps, baseline)
    _batch(deps, _measurements(5000, 1, shift=5.0), "far.parquet")
    far = check_drift.run(envelope("run-1", batch_key="far.parquet"), deps)
    prefix = far["profile_prefix"]
    assert "/v4-4096-" in prefix  # the bound is part of the key
    assert deps.data.keys(prefix + "exact/") == [prefix + "exact/0.bin"]
    assert len(deps.data.get(prefix + "profile.bin")) < 4096 + 4096  # the sketch and the small target column
    assert far["columns"]["amount"]["decided_by"] == "profile" and far["columns"]["amount"]["drifted"]

    # W1 normed of a copy shifted by a tenth of its std is the threshold itself: only the exact column decides.
    near = baseline.assign(amount=baseline["amount"] + 0.1 * baseline["amount"].std(ddof=0))
    _batch(deps, near, "near.parquet")
    deps.data.reads.clear()
    out = check_drift.run(envelope("run-2", batch_key="near.parquet"), deps)
    assert out["columns"]["amount"]["decided_by"] == "exact"
    assert out["columns"]["amount"]["score"] == pytest.approx(0.1, rel=1e-9)
    assert prefix + "exact/0.bin" in deps.data.reads
    assert out["columns"]["churned"]["decided_by"] == "profile"  # counts: always exact in the profile


def test_categorical_counts_over_the_bound_are_stored_apart_and_decide_its_verdict(monkeypatch) -> None:
    from mlops_core import settings
    from mlops_core.drift import build_profile, detect_drift

    monkeypatch.setenv(settings.DRIFT_PROFILE_MAX_BYTES_PER_COLUMN, str(64 * 1024))
    deps = fake_deps()
    rng = np.random.default_rng(3)
    names = np.array([f"shop {i:05d}" for i in range(20_000)], dtype=object)
    shops = rng.permutation(np.repeat(names, rng.integers(2, 4, names.size)))  # each 2 or 3 times
    baseline = _measurements(shops.size, 0).assign(shop=shops)
    _own_dataset(deps, baseline, categorical=["shop"])
    batch = _measurements(8000, 1, shift=5.0).assign(shop=rng.choice(names, 8000))
    batch.loc[:99, "shop"] = "a shop never seen"
    _batch(deps, batch, "b.parquet")
    out = check_drift.run(envelope("run-1", batch_key="b.parquet"), deps)

    prefix = out["profile_prefix"]
    # amount (0) is sketched, shop (1) kept apart: each stored apart under its own position.
    assert deps.data.keys(prefix + "exact/") == [prefix + "exact/0.bin", prefix + "exact/1.bin"]
    assert len(deps.data.get(prefix + "profile.bin")) < 2 * 64 * 1024  # not the 1.2 MB of the shop counts
    assert out["columns"]["shop"]["decided_by"] == "exact"
    assert out["columns"]["amount"]["decided_by"] == out["columns"]["churned"]["decided_by"] == "profile"

    deps.data.reads.clear()
    again = check_drift.run(envelope("run-2", batch_key="b.parquet"), deps)  # the stored profile, read back
    assert prefix + "exact/1.bin" in deps.data.reads and prefix + "exact/0.bin" not in deps.data.reads
    assert again["columns"] == out["columns"]
    unbounded = detect_drift(build_profile(baseline, target="churned", max_bytes_per_column=1 << 30), batch)
    assert {**unbounded.columns["shop"].to_dict(), "decided_by": "exact"} == out["columns"]["shop"]


@pytest.mark.parametrize("value", ["512", "lots"])
def test_a_profile_bound_that_cannot_work_fails_naming_the_variable(monkeypatch, value: str) -> None:
    from mlops_core import settings

    monkeypatch.setenv(settings.DRIFT_PROFILE_MAX_BYTES_PER_COLUMN, value)
    deps = fake_deps()
    _own_dataset(deps, _measurements(300, 0))
    _batch(deps, _measurements(300, 1))
    with pytest.raises(ConfigurationError, match="DRIFT_PROFILE_MAX_BYTES_PER_COLUMN"):
        check_drift.run(envelope(), deps)
