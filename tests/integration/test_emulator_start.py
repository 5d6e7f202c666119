"""Starting the emulator on a moto it does not support: one line naming the versions, a non-zero exit, nothing left.

The fake moto is this interpreter's moto with another version string, set by a `sitecustomize` module on
PYTHONPATH that every Python process of the test (the command, then the emulator it starts) imports first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlops_local.environment import PORT_VARIABLES
from mlops_local.exceptions import ERROR_PREFIX
from mlops_local.moto_patches import SUPPORTED_MOTO

from tests.integration.conftest import INFRA_DIR, free_port

pytestmark = pytest.mark.integration

REFUSAL = f"{ERROR_PREFIX}moto 5.2.1 is not supported (supported: {SUPPORTED_MOTO}): "


@pytest.fixture
def old_moto_env(tmp_path: Path) -> dict[str, str]:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text('import moto\n\nmoto.__version__ = "5.2.1"\n')
    path = os.pathsep.join([str(hook), str(INFRA_DIR), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, "PYTHONPATH": path}


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)


def test_the_emulator_process_refuses_an_unsupported_moto(old_moto_env: dict[str, str], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    command = [sys.executable, "-m", "mlops_local.emulator", "--port", str(free_port()), "--state-dir", str(state_dir)]

    result = _run(command, old_moto_env)

    assert result.returncode == 1, result
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(REFUSAL), result.stderr
    assert "emulator ready" not in result.stdout


def test_mlops_up_refuses_an_unsupported_moto_in_one_line(old_moto_env: dict[str, str], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    env = {**old_moto_env, **{variable: str(free_port()) for variable in PORT_VARIABLES.values()}}
    mlops = Path(sys.executable).with_name("mlops")

    result = _run([str(mlops), "--state-dir", str(state_dir), "up", "--detach"], env)

    assert result.returncode == 1, result
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(REFUSAL), result.stderr
    # The same line is the last of the emulator's log, and `up` left no stack behind.
    assert (state_dir / "logs" / "emulator.log").read_text().splitlines()[-1] == result.stderr.strip()
    assert not (state_dir / "stack.json").exists()
