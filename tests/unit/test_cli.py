"""The `mlops` command's error paths: exit code 1 and one actionable line on stderr; run names; stack state."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from mlops_core.layout import is_safe_id
from mlops_local import runs, services
from mlops_local.cli import STEP_FUNCTIONS, main
from mlops_local.cli import _parameters as stack_parameters
from mlops_local.deployer import load_template
from mlops_local.environment import PORT_VARIABLES
from mlops_local.exceptions import StackNotUpError, ToolError
from mlops_local.services import TEMPLATE, Ports, StackState, api_environment


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert lines[0].startswith("mlops: error: "), lines[0]
    return lines[0]


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _save_state(state_dir: Path, *, emulator_pid: int, outputs: dict[str, str]) -> StackState:
    # Port 9 (discard) on loopback: nothing answers, so any call that reaches the network fails fast.
    state = StackState(
        state_dir=str(state_dir),
        ports=Ports(emulator=9, mlflow=9, api=9),
        pids={"emulator": emulator_pid},
        outputs=outputs,
        api_key="k",
    )
    state.save()
    return state


# ---------------------------------------------------------------- no stack


@pytest.mark.parametrize("command", [["run"], ["logs", "train_model"], ["down"], ["env"], ["trigger"]])
def test_commands_without_a_stack_say_it_is_not_up(
    command: list[str], state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--state-dir", str(state_dir), *command]) == 1
    line = _error_line(capsys)
    assert "not up" in line and "mlops up" in line
    assert not state_dir.exists(), "a failed command must not leave state behind"


def test_status_without_a_stack_says_how_to_start_one(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state-dir", str(state_dir), "status"]) == 0
    assert "no stack in" in capsys.readouterr().out
    assert not state_dir.exists()


def test_status_of_a_stopped_stack_names_its_dataset(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _save_state(state_dir, emulator_pid=_dead_pid(), outputs={"StateMachineArn": "arn"})
    state.dataset = "penguins"
    state.save()
    assert main(["--state-dir", str(state_dir), "status"]) == 0
    out = capsys.readouterr().out
    assert "stopped" in out and "'penguins'" in out and "mlops up" in out


def test_down_keeps_the_stacks_record_and_forgets_its_processes(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _save_state(state_dir, emulator_pid=_dead_pid(), outputs={"StateMachineArn": "arn"})
    assert main(["--state-dir", str(state_dir), "down"]) == 0
    saved = StackState.load(state_dir)
    assert saved.pids == {} and saved.outputs == {"StateMachineArn": "arn"} and saved.api_key == "k"
    assert "mlops reset" in capsys.readouterr().out


def test_reset_refuses_a_running_stack(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _save_state(state_dir, emulator_pid=os.getpid(), outputs={})
    assert main(["--state-dir", str(state_dir), "reset"]) == 1
    assert "`mlops down` first" in _error_line(capsys)
    assert (state_dir / "stack.json").exists()


def test_reset_wipes_a_stopped_stacks_state(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _save_state(state_dir, emulator_pid=_dead_pid(), outputs={})
    (state_dir / "mlflow.db").write_bytes(b"registry")
    (state_dir / "emulator" / "state").mkdir(parents=True)
    assert main(["--state-dir", str(state_dir), "reset"]) == 0
    assert not state_dir.exists()
    assert main(["--state-dir", str(state_dir), "reset"]) == 0  # nothing left: still fine
    assert "nothing to reset" in capsys.readouterr().out


def test_up_refuses_another_dataset_for_a_saved_stack(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _save_state(state_dir, emulator_pid=_dead_pid(), outputs={})
    assert main(["--state-dir", str(state_dir), "up", "--detach", "--dataset", "penguins"]) == 1
    line = _error_line(capsys)
    assert "watches 'iris', not 'penguins'" in line and "mlops reset" in line


def test_up_on_a_running_stack_says_so_and_changes_nothing(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _save_state(state_dir, emulator_pid=os.getpid(), outputs={})
    state.pids = {"emulator": os.getpid(), "mlflow": os.getpid(), "api": os.getpid()}
    state.save()
    assert main(["--state-dir", str(state_dir), "up", "--detach"]) == 0
    assert "already up" in capsys.readouterr().out
    assert StackState.load(state_dir) == state


def test_the_stack_file_is_readable_by_its_owner_only(state_dir: Path) -> None:
    _save_state(state_dir, emulator_pid=_dead_pid(), outputs={})
    assert (state_dir / "stack.json").stat().st_mode & 0o777 == 0o600


def test_stack_whose_emulator_died_says_so(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _save_state(state_dir, emulator_pid=_dead_pid(), outputs={"StateMachineArn": "arn"})
    assert main(["--state-dir", str(state_dir), "run"]) == 1
    assert "emulator is not running" in _error_line(capsys)


def test_stack_that_was_never_deployed_says_so(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # This test process stands in for a live emulator: only its pid is checked.
    _save_state(state_dir, emulator_pid=os.getpid(), outputs={})
    assert main(["--state-dir", str(state_dir), "logs", "train_model"]) == 1
    line = _error_line(capsys)
    assert "not deployed" in line and "mlops deploy" in line


def test_unreachable_emulator_is_one_line(
    state_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    _save_state(state_dir, emulator_pid=os.getpid(), outputs={"StateMachineArn": "arn:aws:states:us-east-1:1:x"})
    assert main(["--state-dir", str(state_dir), "status"]) == 1
    line = _error_line(capsys)
    assert "cannot reach the stack" in line and "mlops up" in line


# ---------------------------------------------------------------- bad input


def test_unknown_step_for_logs(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state-dir", str(state_dir), "logs", "trian_model"]) == 1
    line = _error_line(capsys)
    assert "unknown step 'trian_model'" in line
    for step in STEP_FUNCTIONS:
        assert step in line


@pytest.mark.parametrize(
    ("text", "message"),
    [("{not json", "--input is not JSON"), ('["a"]', "--input must be a JSON object")],
)
def test_bad_run_input(text: str, message: str, state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state-dir", str(state_dir), "run", "--input", text]) == 1
    assert message in _error_line(capsys)


def test_malformed_deploy_parameter(
    state_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLOPS_TARGET", raising=False)
    argv = ["--state-dir", str(state_dir), "deploy", "--target", "localstack", "--endpoint-url", "http://127.0.0.1:9"]
    assert main([*argv, "--parameter", "DatasetName=iris", "--parameter", "oops"]) == 1
    assert "--parameter takes KEY=VALUE, got 'oops'" in _error_line(capsys)


def test_deploy_to_an_unknown_target_is_refused_by_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["deploy", "--target", "bogus"])
    assert exited.value.code == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: mlops" in capsys.readouterr().out


# ---------------------------------------------------------------- up on a taken port


@pytest.fixture
def free_ports(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Every port `up` checks points at a free one, so only the port a test takes is in use."""
    ports = {name: _free_port() for name in PORT_VARIABLES}
    for name, variable in PORT_VARIABLES.items():
        monkeypatch.setenv(variable, str(ports[name]))
    return ports


@pytest.fixture
def taken_port() -> Iterator[socket.socket]:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    yield holder
    holder.close()


@pytest.mark.parametrize("service", list(services.SERVICES))
def test_up_on_a_taken_port_names_the_port_and_the_variable(
    service: str,
    free_ports: dict[str, int],
    taken_port: socket.socket,
    state_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = taken_port.getsockname()[1]
    monkeypatch.setenv(PORT_VARIABLES[service], str(port))
    assert main(["--state-dir", str(state_dir), "up", "--detach"]) == 1
    line = _error_line(capsys)
    assert f"port {port} ({service})" in line
    assert PORT_VARIABLES[service] in line
    # Refused before anything started or was written.
    assert not (state_dir / "stack.json").exists()


# ---------------------------------------------------------------- run names and stack state


def test_new_run_name_is_a_safe_id_starting_with_the_utc_time() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    name = runs.new_run_name()
    after = datetime.now(UTC)
    assert is_safe_id(name)
    match = re.fullmatch(r"run-(\d{8}T\d{6}Z)-[0-9a-f]{6}", name)
    assert match, name
    stamp = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= stamp <= after


def test_new_run_name_converts_other_zones_to_utc() -> None:
    paris_morning = datetime(2026, 3, 1, 7, 30, 0, tzinfo=timezone(timedelta(hours=1)))
    assert runs.new_run_name(now=paris_morning).startswith("run-20260301T063000Z-")


def test_run_names_are_unique_within_one_second() -> None:
    moment = datetime(2026, 3, 1, 6, 0, 0, tzinfo=UTC)
    names = {runs.new_run_name(now=moment) for _ in range(50)}
    assert len(names) == 50
    # They sort in time order: a later second sorts after every name of an earlier one.
    later = runs.new_run_name(now=moment + timedelta(seconds=1))
    assert all(name < later for name in names)


def test_stack_state_round_trip(state_dir: Path) -> None:
    state = StackState(
        state_dir=str(state_dir),
        ports=Ports(emulator=14566, mlflow=15000, api=18000),
        pids={"emulator": 101, "mlflow": 102},
        outputs={"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:x"},
        api_key="secret",
        stack_name="other-stack",
    )
    state.save()
    loaded = StackState.load(state_dir)
    assert loaded == state
    assert isinstance(loaded.ports, Ports)
    assert loaded.endpoint_url == "http://127.0.0.1:14566"
    assert loaded.mlflow_url == "http://127.0.0.1:15000"
    assert loaded.dev_api_url == "http://127.0.0.1:18000"
    assert loaded.api_url == ""  # the deployed API's URL is a stack output
    assert not list(state_dir.glob("*.tmp"))


def test_ports_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PORT_VARIABLES["emulator"], "14566")
    monkeypatch.delenv(PORT_VARIABLES["mlflow"], raising=False)
    monkeypatch.setenv(PORT_VARIABLES["api"], "18000")
    assert Ports.from_env() == Ports(emulator=14566, mlflow=5000, api=18000)


@pytest.mark.parametrize("value", ["abc", "0", "70000", "-1"])
def test_up_with_a_bad_port_variable(
    value: str,
    free_ports: dict[str, int],
    taken_port: socket.socket,
    state_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Should the value be accepted, the taken emulator port stops `up` before it starts anything.
    monkeypatch.setenv(PORT_VARIABLES["emulator"], str(taken_port.getsockname()[1]))
    monkeypatch.setenv(PORT_VARIABLES["mlflow"], value)
    assert main(["--state-dir", str(state_dir), "up", "--detach"]) == 1
    assert f"{PORT_VARIABLES['mlflow']}='{value}' is not a port number" in _error_line(capsys)


# ---------------------------------------------------------------- services


def test_a_service_that_fails_in_one_line_has_that_line_passed_on(state_dir: Path) -> None:
    script = (
        "import sys; print('starting'); print('mlops: error: moto 0.1 is not supported', file=sys.stderr); sys.exit(1)"
    )
    pid = services.spawn("fake", [sys.executable, "-c", script], state_dir=state_dir, env=dict(os.environ))
    with pytest.raises(StackNotUpError) as raised:
        services.wait_http("http://127.0.0.1:9/", timeout=60, name="fake", pid=pid, state_dir=state_dir)
    assert str(raised.value) == "moto 0.1 is not supported"


def test_a_service_that_dies_otherwise_points_at_its_log(state_dir: Path) -> None:
    pid = services.spawn("fake", [sys.executable, "-c", "raise SystemExit(3)"], state_dir=state_dir, env={})
    with pytest.raises(StackNotUpError, match=r"fake exited while starting: see .*fake\.log"):
        services.wait_http("http://127.0.0.1:9/", timeout=60, name="fake", pid=pid, state_dir=state_dir)


DEPLOYED_OUTPUTS = {
    "DataBucketName": "stack-databucket-1",
    "ReportsBucketName": "stack-reportsbucket-2",
    "ArtifactsBucketName": "stack-artifactsbucket-3",
    "AbTableName": "stack-AbTable-4",
    "ReportsWebsiteUrl": "http://127.0.0.1:14566/stack-reportsbucket-2",
}


def _deployed_state(state_dir: Path) -> StackState:
    state = StackState(
        state_dir=str(state_dir),
        ports=Ports(emulator=14566, mlflow=15000, api=18000),
        api_key="key",
        dataset="penguins",
    )
    state.parameters = stack_parameters(state)
    state.outputs = dict(DEPLOYED_OUTPUTS)
    return state


def test_the_api_environment_has_every_globals_variable_of_the_template(state_dir: Path) -> None:
    env = api_environment(_deployed_state(state_dir))

    expected = {
        "DATA_BUCKET": "stack-databucket-1",
        "REPORTS_BUCKET": "stack-reportsbucket-2",
        "ARTIFACTS_BUCKET": "stack-artifactsbucket-3",
        "AB_TABLE": "stack-AbTable-4",
        "DATASET": "penguins",
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:15000",
        "MLFLOW_TRACKING_USERNAME": "",
        "MLFLOW_TRACKING_PASSWORD": "",
        "MLFLOW_UI_URL": "http://127.0.0.1:15000",
        "REPORTS_WEBSITE_URL": "http://127.0.0.1:14566/stack-reportsbucket-2",
        "DRIFT_SHARE": "0.5",
        "BOOTSTRAP_RESAMPLES": "2000",
        "ALPHA": "0.05",
        "DELTA_MIN": "0",
        "POWER_MARGIN": "0.03",
        "CLASS_MARGIN": "0.05",
        "ONLINE_MARGIN": "0.05",
        "ONLINE_FRACTION": "0.2",
        "PENDING_MAX_DAYS": "14",
        "TRAINING_BUDGET_SECONDS": "120",
        "TRAINING_MODELS": "",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    globals_variables = load_template(TEMPLATE)["Globals"]["Function"]["Environment"]["Variables"]
    assert set(globals_variables) == set(expected), "a new Globals variable needs its resolved value here"
    assert {name: env.get(name) for name in globals_variables} == expected
    # What only ApiFunction gets, and what `chalice local` needs to import the shared library.
    assert env["API_KEY"] == "key"
    assert (env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"], env["MLFLOW_HTTP_REQUEST_TIMEOUT"]) == ("0", "5")
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(services.SHARED_LIBRARY)
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:14566"


def test_the_api_environment_follows_parameter_overrides(state_dir: Path) -> None:
    state = _deployed_state(state_dir)
    state.parameters.update(MlflowUiUrl="https://mlflow.example", DriftShare="0.3", TrainingModels="lr,rf")

    env = api_environment(state)

    assert env["MLFLOW_UI_URL"] == "https://mlflow.example"
    assert env["DRIFT_SHARE"] == "0.3"
    assert env["TRAINING_MODELS"] == "lr,rf"


def test_an_api_variable_the_deploy_did_not_record_is_one_actionable_error(state_dir: Path) -> None:
    state = _deployed_state(state_dir)
    del state.outputs["AbTableName"]

    with pytest.raises(ToolError) as raised:
        api_environment(state)
    assert str(raised.value) == (
        "cannot work out AB_TABLE: no stack output has the value !Ref AbTable; add one to the template's Outputs"
    )


def test_stopping_a_service_whose_leader_died_stops_its_children() -> None:
    # A server whose workers outlive it (as MLflow's do): the leader is killed, a child keeps running.
    leader = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"],
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while len(services._group_members(leader.pid)) < 2:
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    leader.kill()
    leader.wait()
    assert services._group_members(leader.pid), "the child outlives its leader"
    services.stop_pid(leader.pid, grace=10)
    assert services._group_members(leader.pid) == []


def test_a_reader_that_goes_away_is_not_a_stack_error(state_dir: Path) -> None:
    _save_state(state_dir, emulator_pid=_dead_pid(), outputs={"StateMachineArn": "arn"})
    # `mlops status | head -0`: the reader has gone before the first line is written.
    process = subprocess.Popen(
        [sys.executable, "-m", "mlops_local.cli", "--state-dir", str(state_dir), "status"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    errors = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0
    assert "cannot reach the stack" not in errors and "Traceback" not in errors


def test_commands_saving_the_stack_at_once_do_not_trip_over_each_other(state_dir: Path) -> None:
    import threading

    state = _save_state(state_dir, emulator_pid=_dead_pid(), outputs={})
    errors: list[BaseException] = []

    def save_many() -> None:
        try:
            for _ in range(50):
                state.save()
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=save_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert StackState.load(state_dir) == state
