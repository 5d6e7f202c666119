"""`mlops dataset` without a stack: refusals are one line, a dataset is recorded for `mlops seed`, and
`mlops reset` keeps the record. The uploads themselves are tested on the emulator
(tests/integration/test_dataset_commands.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from mlops_local import dataset_records
from mlops_local.cli import main
from mlops_local.services import Ports, StackState

FRAME = pd.DataFrame({"size": [1.0, 2.0, 3.0, 4.0], "colour": ["r", "g", "r", "g"], "kind": ["a", "b", "a", "b"]})


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    path = tmp_path / "shop.csv"
    FRAME.to_csv(path, index=False)
    return path


def _mlops(state_dir: Path, *argv: str | Path) -> int:
    return main(["--state-dir", str(state_dir), *(str(a) for a in argv)])


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert lines[0].startswith("mlops: error: "), lines[0]
    return lines[0].removeprefix("mlops: error: ")


def _add(state_dir: Path, baseline: Path, *extra: str) -> int:
    return _mlops(state_dir, "dataset", "add", "shop", "--baseline", baseline, "--target", "kind", *extra)


def test_without_a_stack_the_dataset_is_recorded_privately_with_the_way_to_upload_it(
    state_dir: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _add(state_dir, baseline) == 0

    out = capsys.readouterr().out
    assert f"{baseline}: 4 rows, target 'kind' with 2 classes (a, b), 2 features (1 categorical)" in out
    assert "no stack to upload to (the stack is not up" in out
    assert "`mlops up --detach --dataset shop`" in out and "`mlops seed` uploads it" in out
    folder = state_dir / "datasets" / "shop"
    assert json.loads((folder / "dataset.json").read_text()) == {
        "name": "shop",
        "target": "kind",
        "baseline_key": "datasets/shop/baseline.csv",
        "features": ["size", "colour"],
        "categorical": ["colour"],
        "format": "csv",
    }
    pd.testing.assert_frame_equal(pd.read_csv(folder / "baseline.csv"), FRAME)
    assert folder.stat().st_mode & 0o777 == 0o700
    assert {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()} == {
        "dataset.json": 0o600,
        "baseline.csv": 0o600,
    }
    assert not (state_dir / "stack.json").exists(), "recording a dataset does not make a stack"


def test_the_same_file_again_is_accepted_and_another_needs_replace(
    state_dir: Path, baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _add(state_dir, baseline) == 0
    assert _add(state_dir, baseline) == 0
    other = tmp_path / "other.csv"
    FRAME.assign(size=[9.0, 8.0, 7.0, 6.0]).to_csv(other, index=False)
    capsys.readouterr()

    assert _add(state_dir, other) == 1
    line = _error_line(capsys)
    assert line.startswith(
        f"dataset 'shop' was added here before from other data or with other options (recorded in "
        f"{state_dir.resolve() / 'datasets' / 'shop'}): pass --replace to replace it; the next run builds a new "
        "reference profile from the new baseline"
    )
    assert "Production serves until a candidate beats it" in line
    assert _add(state_dir, baseline, "--features", "size") == 1, "other options are another dataset too"
    capsys.readouterr()

    assert _add(state_dir, other, "--replace") == 0
    recorded = dataset_records.load(state_dir.resolve(), "shop")
    assert recorded is not None
    assert pd.read_csv(state_dir / "datasets" / "shop" / "baseline.csv")["size"].tolist() == [9.0, 8.0, 7.0, 6.0]


def test_a_replaced_baseline_of_another_format_leaves_no_stale_file(
    state_dir: Path, baseline: Path, tmp_path: Path
) -> None:
    assert _add(state_dir, baseline) == 0
    parquet = tmp_path / "shop.parquet"
    FRAME.to_parquet(parquet, index=False)
    assert _add(state_dir, parquet, "--replace") == 0
    assert sorted(p.name for p in (state_dir / "datasets" / "shop").iterdir()) == ["baseline.parquet", "dataset.json"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["dataset", "add", "my data", "--baseline", "x.csv", "--target", "y"],
            "dataset name 'my data' is not usable: letters, digits, '_', '.' and '-' only, starting with a letter or "
            "digit, at most 80 characters",
        ),
        (
            ["dataset", "add", "iris", "--baseline", "x.csv", "--target", "y"],
            "'iris' is a demo dataset (`mlops seed --dataset iris`): choose another name",
        ),
        (
            ["dataset", "add", "shop", "--baseline", "no-such.csv", "--target", "y"],
            "no-such.csv: no such file: check the path",
        ),
    ],
)
def test_refusals_before_reading_the_data(
    argv: list[str], message: str, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _mlops(state_dir, *argv) == 1
    assert _error_line(capsys) == message
    assert not state_dir.exists()


def test_a_directory_is_not_a_baseline(state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _mlops(state_dir, "dataset", "add", "shop", "--baseline", tmp_path, "--target", "kind") == 1
    assert _error_line(capsys) == f"{tmp_path}: cannot read it (Is a directory): check the path and its permissions"


def test_a_validation_error_is_one_line_and_records_nothing(
    state_dir: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _mlops(state_dir, "dataset", "add", "shop", "--baseline", baseline, "--target", "knd") == 1
    assert _error_line(capsys) == (
        f"{baseline}: no column 'knd' for --target; its columns are 'size', 'colour', 'kind': pass one of them as "
        "--target"
    )
    assert dataset_records.names(state_dir) == []


def test_features_and_categoricals_are_comma_separated(
    state_dir: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _add(state_dir, baseline, "--features", " size ,colour", "--categorical", "colour") == 0
    config = json.loads((state_dir / "datasets" / "shop" / "dataset.json").read_text())
    assert (config["features"], config["categorical"]) == (["size", "colour"], ["colour"])
    assert _add(state_dir, baseline, "--features", "size", "--replace") == 0
    assert "left out, not among --features: colour" in capsys.readouterr().out


def test_a_batch_needs_a_stack(state_dir: Path, baseline: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _mlops(state_dir, "dataset", "batch", "shop", baseline) == 1
    line = _error_line(capsys)
    assert "not up" in line and "mlops up" in line


def test_list_without_a_stack_shows_the_recorded_datasets(
    state_dir: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _mlops(state_dir, "dataset", "list") == 0
    assert "no datasets yet" in capsys.readouterr().out
    assert _add(state_dir, baseline) == 0
    capsys.readouterr()

    assert _mlops(state_dir, "dataset", "list") == 0
    out = capsys.readouterr().out
    assert "the stack is not up" in out
    row = next(line for line in out.splitlines() if line.lstrip().startswith("shop"))
    assert row.split() == ["shop", "4", "kind", "a,", "b"]


def test_dataset_without_a_subcommand_prints_its_help(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _mlops(state_dir, "dataset") == 2
    assert "usage: mlops dataset" in capsys.readouterr().out


def test_reset_keeps_the_datasets_added_and_wipes_the_rest(
    state_dir: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _add(state_dir, baseline) == 0
    StackState(state_dir=str(state_dir), ports=Ports(emulator=9, mlflow=9, api=9), outputs={"X": "y"}).save()
    (state_dir / "mlflow.db").write_bytes(b"registry")
    (state_dir / "emulator" / "state").mkdir(parents=True)
    capsys.readouterr()

    assert _mlops(state_dir, "reset") == 0

    assert sorted(p.name for p in state_dir.iterdir()) == ["datasets"]
    assert dataset_records.names(state_dir) == ["shop"]
    assert "kept the datasets added here (shop): `mlops seed` uploads them" in capsys.readouterr().out


def test_a_damaged_record_says_how_to_add_the_dataset_again(
    state_dir: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _add(state_dir, baseline) == 0
    (state_dir / "datasets" / "shop" / "baseline.csv").unlink()
    capsys.readouterr()
    assert _add(state_dir, baseline) == 1
    line = _error_line(capsys)
    assert line.startswith(f"{state_dir.resolve() / 'datasets' / 'shop'} is not a readable dataset record (")
    assert line.endswith("again with `mlops dataset add shop --baseline FILE --target COLUMN --replace`")


def test_on_a_recorded_aws_stack_add_uploads_and_says_how_to_redeploy_for_it(
    aws: None, state_dir: Path, baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3
    from mlops_local import deployments
    from mlops_local.deployments import Deployment

    boto3.client("s3").create_bucket(Bucket="data-bucket")
    record = Deployment(
        name="aws",
        endpoint_url=None,
        region="us-east-1",
        deploy_bucket="deploy",
        stack_name="mlops-pipeline",
        outputs={"DataBucketName": "data-bucket"},
        parameters={"DatasetName": "iris"},
        deployed_at="2026-12-01T06:00:00Z",
    )
    deployments.save(state_dir, record)

    assert _add(state_dir, baseline, "--stack", "aws") == 0

    stored = boto3.client("s3").get_object(Bucket="data-bucket", Key="datasets/shop/dataset.json")["Body"].read()
    assert json.loads(stored)["target"] == "kind"
    assert (
        "the aws stack watches 'iris', not 'shop': deploy it again with `mlops deploy --target aws --parameter "
        "DatasetName=shop` and the parameters it was deployed with"
    ) in capsys.readouterr().out
