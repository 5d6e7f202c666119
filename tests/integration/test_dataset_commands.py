"""`mlops dataset add|batch|list` and `mlops seed` against the embedded emulator, read back with boto3.

No stack is deployed: the commands need only the data bucket, so each test makes a versioned bucket (as
template.yaml's DataBucket is) and a stack record naming it. The data is scikit-learn's wine set, as in the
README's "Your own data".
"""

from __future__ import annotations

import io
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlops_core.adapters import S3ObjectStore
from mlops_core.data import resolve_batch_key
from mlops_local.cli import main
from mlops_local.services import Ports, StackState

from tests.integration.conftest import RunningEmulator
from tests.support.wine import wine_frame

pytestmark = pytest.mark.integration

CONFIG_KEY = "datasets/wine/dataset.json"
BASELINE_KEY = "datasets/wine/baseline.csv"


@dataclass
class Stack:
    state_dir: Path
    bucket: str
    s3: Any

    def mlops(self, *argv: str | Path) -> int:
        return main(["--state-dir", str(self.state_dir), *(str(a) for a in argv)])

    def read(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def keys(self, prefix: str = "datasets/") -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(obj["Key"] for obj in listing.get("Contents", []))

    def versions(self, key: str) -> int:
        listing = self.s3.list_object_versions(Bucket=self.bucket, Prefix=key)
        return len([v for v in listing.get("Versions", []) if v["Key"] == key])

    def use_new_bucket(self) -> None:
        """What `mlops reset` and `mlops up` give: the same state folder, an empty data bucket."""
        self.bucket = _bucket(self.s3)
        state = StackState.load(self.state_dir)
        state.outputs["DataBucketName"] = self.bucket
        state.save()


def _bucket(s3: Any) -> str:
    name = f"data-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _stack(emulator: RunningEmulator, tmp_path: Path, dataset: str) -> Stack:
    s3 = emulator.client("s3")
    bucket = _bucket(s3)
    # This test process stands in for the emulator's: the commands check only that the pid is alive.
    StackState(
        state_dir=str(tmp_path / "state"),
        ports=Ports(emulator=emulator.port, mlflow=9, api=9),
        pids={"emulator": os.getpid()},
        outputs={"DataBucketName": bucket},
        dataset=dataset,
    ).save()
    return Stack(tmp_path / "state", bucket, s3)


@pytest.fixture
def wine() -> pd.DataFrame:
    return wine_frame()


@pytest.fixture
def wine_csv(wine: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "wine.csv"
    wine.to_csv(path, index=False)
    return path


def _one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    return err.strip()


def test_add_then_batch_puts_both_where_the_pipeline_reads_them(
    emulator: RunningEmulator, tmp_path: Path, wine: pd.DataFrame, wine_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = _stack(emulator, tmp_path, dataset="wine")

    assert stack.mlops("dataset", "add", "wine", "--baseline", wine_csv, "--target", "cultivar") == 0

    out = capsys.readouterr().out
    assert f"baseline at s3://{stack.bucket}/{BASELINE_KEY}, configuration at s3://{stack.bucket}/{CONFIG_KEY}" in out
    assert "the stack watches 'wine'" in out
    assert json.loads(stack.read(CONFIG_KEY)) == {
        "name": "wine",
        "target": "cultivar",
        "baseline_key": BASELINE_KEY,
        "features": list(wine.columns[:-1]),
        "categorical": [],
        "format": "csv",
    }
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(stack.read(BASELINE_KEY))), wine)

    # The same file again changes nothing, not even an object's version.
    assert stack.mlops("dataset", "add", "wine", "--baseline", wine_csv, "--target", "cultivar") == 0
    assert "with this baseline and configuration: nothing changed" in capsys.readouterr().out
    assert (stack.versions(BASELINE_KEY), stack.versions(CONFIG_KEY)) == (1, 1)

    batch = wine.sample(60, random_state=3).assign(alcohol=lambda d: d["alcohol"] + 1.0, shop="north")
    batch_csv = tmp_path / "monday.csv"
    batch.to_csv(batch_csv, index=False)
    assert stack.mlops("dataset", "batch", "wine", batch_csv) == 0

    lines = capsys.readouterr().out.splitlines()
    key = next(line for line in lines if not line.startswith("mlops: "))
    assert re.fullmatch(r"datasets/wine/current/batch-\d{8}T\d{12}Z\.csv", key), key
    assert "mlops: left out, not columns of dataset 'wine': shop" in lines
    assert f"mlops: run the pipeline on it: `mlops run --batch {key}`" in lines
    stored = pd.read_csv(io.BytesIO(stack.read(key)))
    pd.testing.assert_frame_equal(stored, batch.drop(columns="shop").reset_index(drop=True))
    assert resolve_batch_key(S3ObjectStore(stack.s3, stack.bucket), "wine", key) == key

    assert stack.mlops("dataset", "list") == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "wine" in line)
    assert row.split() == ["*", "wine", "178", "cultivar", "class_0,", "class_1,", "class_2"]


def test_a_bad_batch_is_refused_in_one_line_and_uploads_nothing(
    emulator: RunningEmulator, tmp_path: Path, wine: pd.DataFrame, wine_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = _stack(emulator, tmp_path, dataset="wine")
    assert stack.mlops("dataset", "batch", "wine", wine_csv) == 1
    assert _one_error(capsys) == (
        f"mlops: error: dataset 'wine' is not configured: s3://{stack.bucket}/{CONFIG_KEY} does not exist: add it "
        "with `mlops dataset add wine --baseline FILE --target COLUMN` (or `mlops seed` for a demo dataset)"
    )
    assert stack.mlops("dataset", "add", "wine", "--baseline", wine_csv, "--target", "cultivar") == 0
    capsys.readouterr()

    batch_csv = tmp_path / "tuesday.csv"
    wine.head(20).assign(cultivar=["class_0"] * 19 + ["class_9"]).to_csv(batch_csv, index=False)
    assert stack.mlops("dataset", "batch", "wine", batch_csv) == 1
    assert _one_error(capsys) == (
        f"mlops: error: {batch_csv}: the target 'cultivar' has a label the baseline never had: 'class_9' (the "
        "baseline's: 'class_0', 'class_1', 'class_2'): correct it, or pass --allow-new-labels if the class is new "
        "on purpose"
    )
    assert stack.keys("datasets/wine/current/") == []


def test_another_baseline_needs_replace_and_keeps_the_old_one_as_a_version(
    emulator: RunningEmulator, tmp_path: Path, wine: pd.DataFrame, wine_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = _stack(emulator, tmp_path, dataset="wine")
    assert stack.mlops("dataset", "add", "wine", "--baseline", wine_csv, "--target", "cultivar") == 0
    newer_csv = tmp_path / "wine-2027.csv"
    newer = wine.assign(alcohol=wine["alcohol"] * 1.05)
    newer.to_csv(newer_csv, index=False)
    # Another machine (or a wiped state folder): no local record, only the bucket knows the dataset.
    other_state = tmp_path / "elsewhere"
    other_state.mkdir()
    (other_state / "stack.json").write_bytes((stack.state_dir / "stack.json").read_bytes())
    capsys.readouterr()

    argv = ["--state-dir", other_state, "dataset", "add", "wine", "--baseline", newer_csv, "--target", "cultivar"]
    assert main([str(a) for a in argv]) == 1
    line = _one_error(capsys)
    assert line.startswith(
        f"mlops: error: dataset 'wine' already exists in s3://{stack.bucket}/datasets/wine/ with another baseline: "
        "pass --replace to replace it; the next run builds a new reference profile"
    )
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(stack.read(BASELINE_KEY))), wine)

    assert main([str(a) for a in [*argv, "--replace"]]) == 0
    out = capsys.readouterr().out
    assert "replaced the earlier dataset 'wine' (kept as older versions in the versioned bucket)" in out
    assert "target or features changed" not in out
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(stack.read(BASELINE_KEY))), newer)
    assert (stack.versions(BASELINE_KEY), stack.versions(CONFIG_KEY)) == (2, 1)

    fewer = [*argv, "--replace", "--features", "alcohol,hue,proline"]
    assert main([str(a) for a in fewer]) == 0
    assert "its target or features changed: models registered for 'wine' were trained on the old columns" in (
        capsys.readouterr().out
    )
    assert json.loads(stack.read(CONFIG_KEY))["features"] == ["alcohol", "hue", "proline"]
    assert list(pd.read_csv(io.BytesIO(stack.read(BASELINE_KEY))).columns) == ["alcohol", "hue", "proline", "cultivar"]


def test_seed_uploads_the_added_datasets_again_to_a_stack_that_lost_them(
    emulator: RunningEmulator, tmp_path: Path, wine: pd.DataFrame, wine_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = _stack(emulator, tmp_path, dataset="iris")
    assert stack.mlops("dataset", "add", "wine", "--baseline", wine_csv, "--target", "cultivar") == 0
    out = capsys.readouterr().out
    assert "the stack watches 'iris', not 'wine'; to watch 'wine': `mlops down`, `mlops reset`" in out
    assert "`mlops up --detach --dataset wine`, `mlops seed`" in out

    stack.use_new_bucket()
    assert stack.mlops("seed") == 0

    out = capsys.readouterr().out
    assert f"dataset iris: baseline at s3://{stack.bucket}/datasets/iris/baseline.parquet (uploaded)" in out
    assert f"dataset wine: baseline at s3://{stack.bucket}/{BASELINE_KEY} (uploaded)" in out
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(stack.read(BASELINE_KEY))), wine)
    assert json.loads(stack.read(CONFIG_KEY))["target"] == "cultivar"

    assert stack.mlops("seed", "--dataset", "wine") == 0
    assert "(already there)" in capsys.readouterr().out
    assert stack.mlops("seed", "--dataset", "beer") == 1
    assert _one_error(capsys) == (
        f"mlops: error: dataset 'beer' is neither a demo (iris, penguins, synthetic) nor added in "
        f"{stack.state_dir.resolve()}: add it with `mlops dataset add beer --baseline FILE --target COLUMN`"
    )
