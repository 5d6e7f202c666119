"""The main job as a newcomer runs it: `mlops demo` brings a stack up, runs three executions, stops it."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import BIN, REPO, user_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_shows_a_first_promotion_a_quiet_day_and_a_judged_candidate(tmp_path: Path) -> None:
    env = user_env()
    state_dir = tmp_path / "state"
    result = subprocess.run(
        [str(BIN / "mlops"), "--state-dir", str(state_dir), "demo"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = result.stdout
    assert result.returncode == 0, f"{out}\n{result.stderr}"
    assert len(re.findall(r"^execution run-\S+: SUCCEEDED", out, flags=re.M)) == 3
    runs = out.split("== run ")[1:]
    assert "Promoted v1 to Production" in runs[0]
    assert "No drift" in runs[1] and "TrainModel" not in runs[1]
    assert "Offline test" in runs[2] and "minimum detectable effect" in runs[2] and "α spent" in runs[2]
    assert "Online via API" in runs[2] and "paired on" in runs[2]
    assert re.search(r"Promoted v2 to Production|Production untouched|waits in Staging", runs[2])
    # Progress is shown state by state with timings, and every run links its reports.
    assert re.search(r"✓ CheckDataDrift\s+\d+\.\d s", out)
    assert out.count("report (HTML): http://127.0.0.1:") == 3
    # The stack it started is stopped again; its record stays, so the next demo starts it afresh.
    assert json.loads((state_dir / "stack.json").read_text())["pids"] == {}
