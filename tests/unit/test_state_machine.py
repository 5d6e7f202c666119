"""statemachine/pipeline.asl.json: retries, catches and result paths per Task; the static ASL checker."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from mlops_local.asl_check import check_definition
from mlops_local.deployer import load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
ASL_PATH = REPO_ROOT / "statemachine" / "pipeline.asl.json"
TRANSIENT_LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
REPORT_STATE = "GenerateReport"


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return json.loads(ASL_PATH.read_text())


def _tasks(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in definition["States"].items() if state["Type"] == "Task"}


# ---------------------------------------------------------------- the pipeline definition


def test_pipeline_has_a_task_per_step(definition: dict[str, Any]) -> None:
    assert set(_tasks(definition)) == {
        "CheckDataDrift",
        "FindPendingCandidate",
        "TrainModel",
        "StageTrainingInput",
        "TrainModelJob",
        "LoadTrainingOutput",
        "EvaluateCandidate",
        "RunAbTest",
        "PromoteIfBetter",
        REPORT_STATE,
    }


def test_every_task_retries_transient_lambda_errors(definition: dict[str, Any]) -> None:
    for name, task in _tasks(definition).items():
        if not task["Resource"].startswith("${"):
            continue  # a service integration (the job path), not a Lambda function
        retried = {error for retrier in task.get("Retry", []) for error in retrier["ErrorEquals"]}
        missing = TRANSIENT_LAMBDA_ERRORS - retried
        assert not missing, f"{name} does not retry {sorted(missing)}"
        # Retrying everything would also repeat deterministic failures (bad input) three times.
        assert "States.ALL" not in retried, name


def test_every_task_but_the_report_catches_into_the_report(definition: dict[str, Any]) -> None:
    for name, task in _tasks(definition).items():
        if name == REPORT_STATE:
            # The report is the catch target: catching its own failure would loop back into it.
            assert "Catch" not in task
            continue
        catchers = [c for c in task.get("Catch", []) if "States.ALL" in c["ErrorEquals"]]
        assert len(catchers) == 1, f"{name} has no States.ALL catcher"
        assert catchers[0]["ResultPath"] == "$.error", name
        assert catchers[0]["Next"] == REPORT_STATE, name


def test_every_task_writes_under_its_own_result_path(definition: dict[str, Any]) -> None:
    paths = {name: task.get("ResultPath") for name, task in _tasks(definition).items()}
    for name, path in paths.items():
        # "$" (the default) or a missing ResultPath would replace the whole state with the step's output.
        assert isinstance(path, str) and path.startswith("$.") and path.count(".") == 1, f"{name}: {path!r}"
        assert path != "$.error", name
    # The two training paths are alternatives: each leaves the TrainingOutput under $.training.
    assert paths.pop("LoadTrainingOutput") == paths["TrainModel"] == "$.training"
    assert len(set(paths.values())) == len(paths), paths
    assert paths["CheckDataDrift"] == "$.drift"


def test_a_waiting_candidate_is_reviewed_first_then_drift_decides(definition: dict[str, Any]) -> None:
    states = definition["States"]
    find = states[states["CheckDataDrift"]["Next"]]
    assert find["Type"] == "Task" and find["ResultPath"] == "$.pending"
    choice = states[find["Next"]]
    assert choice["Type"] == "Choice"
    # the order matters: a drifted batch must not train a candidate that would replace the waiting one
    assert choice["Choices"] == [
        {"Variable": "$.pending.found", "BooleanEquals": True, "Next": "RunAbTest"},
        {"Variable": "$.drift.detected", "BooleanEquals": True, "Next": "SizeTraining"},
    ]
    assert choice["Default"] == REPORT_STATE


def test_drift_path_runs_every_step_in_order_then_reports(definition: dict[str, Any]) -> None:
    states = definition["States"]
    path, name = [], "TrainModel"
    while name != REPORT_STATE:
        path.append(name)
        name = states[name]["Next"]
    assert path == ["TrainModel", "EvaluateCandidate", "RunAbTest", "PromoteIfBetter"]


def test_training_takes_the_job_path_past_the_threshold_and_the_lambda_by_default(definition: dict[str, Any]) -> None:
    states = definition["States"]
    sizing = states["SizeTraining"]
    assert sizing["Parameters"]["rows.$"] == "States.MathAdd($.drift.reference_rows, $.drift.batch_rows)"
    assert "${TrainingJobThresholdRows}" in sizing["Parameters"]["threshold_rows.$"]
    choice = states[sizing["Next"]]
    assert choice["Choices"] == [
        {
            "Variable": "$.training_size.rows",
            "NumericGreaterThanPath": "$.training_size.threshold_rows",
            "Next": "StageTrainingInput",
        }
    ]
    assert choice["Default"] == "TrainModel"
    path, name = [], "StageTrainingInput"
    while name != "EvaluateCandidate":
        path.append(name)
        name = states[name]["Next"]
    assert path == ["StageTrainingInput", "TrainModelJob", "LoadTrainingOutput", "UnwrapTrainingOutput"]
    job = states["TrainModelJob"]
    assert job["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    assert job["TimeoutSecondsPath"] == "$.training_size.timeout_seconds"


def test_the_job_reads_and_writes_the_keys_the_states_around_it_use(definition: dict[str, Any]) -> None:
    states = definition["States"]
    (override,) = states["TrainModelJob"]["Parameters"]["Overrides"]["ContainerOverrides"]
    keys = {variable["Name"]: variable["Value.$"] for variable in override["Environment"]}
    assert keys["TRAINING_JOB_INPUT_KEY"] == states["StageTrainingInput"]["Parameters"]["Key.$"]
    assert keys["TRAINING_JOB_OUTPUT_KEY"] == states["LoadTrainingOutput"]["Parameters"]["Key.$"]
    unwrap = states["UnwrapTrainingOutput"]
    assert (unwrap["Type"], unwrap["InputPath"], unwrap["ResultPath"]) == ("Pass", "$.training.value", "$.training")


def test_a_caught_error_still_fails_the_execution(definition: dict[str, Any]) -> None:
    states = definition["States"]
    after_report = states[states[REPORT_STATE]["Next"]]
    assert after_report["Type"] == "Choice"
    (rule,) = after_report["Choices"]
    assert rule["Variable"] == "$.error" and rule["IsPresent"] is True
    assert states[rule["Next"]]["Type"] == "Fail"
    assert states[after_report["Default"]]["Type"] == "Succeed"


def test_pipeline_definition_passes_the_checker(definition: dict[str, Any]) -> None:
    template = load_template(REPO_ROOT / "template.yaml")
    substitutions = template["Resources"]["PipelineStateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert check_definition(definition, substitutions=substitutions) == []
    assert check_definition(definition) == []


# ---------------------------------------------------------------- the checker on broken definitions

VALID: dict[str, Any] = {
    "StartAt": "First",
    "States": {
        "First": {"Type": "Task", "Resource": "${FirstArn}", "Next": "Decide"},
        "Decide": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "Done"}],
            "Default": "Failed",
        },
        "Done": {"Type": "Succeed"},
        "Failed": {"Type": "Fail", "Error": "E"},
    },
}


@pytest.fixture
def machine() -> dict[str, Any]:
    return copy.deepcopy(VALID)


def test_the_valid_fixture_has_no_problems(machine: dict[str, Any]) -> None:
    assert check_definition(machine, substitutions={"FirstArn": "arn"}) == []


def test_dangling_next_names_the_state_and_the_target(machine: dict[str, Any]) -> None:
    machine["States"]["First"]["Next"] = "Nowhere"
    problems = check_definition(machine)
    assert any("First" in p and "'Nowhere'" in p for p in problems), problems


def test_dangling_choice_default_and_catch_are_found(machine: dict[str, Any]) -> None:
    machine["States"]["Decide"]["Default"] = "Gone"
    machine["States"]["First"]["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "Lost"}]
    problems = check_definition(machine)
    assert any("Decide" in p and "'Gone'" in p for p in problems), problems
    assert any("First" in p and "'Lost'" in p for p in problems), problems


def test_missing_start_at(machine: dict[str, Any]) -> None:
    del machine["StartAt"]
    problems = check_definition(machine)
    assert any("StartAt" in p for p in problems), problems


def test_start_at_naming_no_state(machine: dict[str, Any]) -> None:
    machine["StartAt"] = "Begin"
    problems = check_definition(machine)
    assert any("StartAt 'Begin'" in p for p in problems), problems


def test_missing_or_empty_states(machine: dict[str, Any]) -> None:
    assert any("States" in p for p in check_definition({"StartAt": "First"}))
    assert any("States" in p for p in check_definition({"StartAt": "First", "States": {}}))


def test_unreachable_state(machine: dict[str, Any]) -> None:
    machine["States"]["Orphan"] = {"Type": "Pass", "End": True}
    problems = check_definition(machine)
    assert problems == ["state Orphan: unreachable from StartAt"]


def test_state_reachable_only_through_a_catch_is_reachable(machine: dict[str, Any]) -> None:
    machine["States"]["Recover"] = {"Type": "Pass", "End": True}
    machine["States"]["First"]["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}]
    assert check_definition(machine) == []


def test_missing_substitution(machine: dict[str, Any]) -> None:
    problems = check_definition(machine, substitutions={"OtherArn": "arn"})
    assert problems == ["placeholder ${FirstArn} has no DefinitionSubstitutions entry"]


def test_placeholder_nested_in_parameters_needs_a_substitution(machine: dict[str, Any]) -> None:
    machine["States"]["First"]["Parameters"] = {"Payload": {"table": "${TableName}"}, "List": ["${Other}"]}
    problems = check_definition(machine, substitutions={"FirstArn": "arn"})
    assert sorted(problems) == [
        "placeholder ${Other} has no DefinitionSubstitutions entry",
        "placeholder ${TableName} has no DefinitionSubstitutions entry",
    ]


def test_choice_without_choices(machine: dict[str, Any]) -> None:
    machine["States"]["Decide"]["Choices"] = []
    problems = check_definition(machine)
    assert any("Decide" in p and "Choice without Choices" in p for p in problems), problems


def test_state_without_next_or_end(machine: dict[str, Any]) -> None:
    del machine["States"]["First"]["Next"]
    problems = check_definition(machine)
    assert any("First" in p and "Next or End" in p for p in problems), problems


def test_unknown_type(machine: dict[str, Any]) -> None:
    machine["States"]["First"]["Type"] = "Taks"
    problems = check_definition(machine)
    assert any("First" in p and "'Taks'" in p for p in problems), problems


def _parallel(branch: dict[str, Any]) -> dict[str, Any]:
    return {
        "StartAt": "Fan",
        "States": {"Fan": {"Type": "Parallel", "Branches": [VALID, branch], "End": True}},
    }


def test_valid_parallel_passes() -> None:
    assert check_definition(_parallel(copy.deepcopy(VALID))) == []


def test_dangling_next_in_a_parallel_branch_names_the_branch() -> None:
    branch = copy.deepcopy(VALID)
    branch["States"]["First"]["Next"] = "Nowhere"
    problems = check_definition(_parallel(branch))
    assert any(p.startswith("state Fan.Branches[1].First:") and "'Nowhere'" in p for p in problems), problems
    # A branch's states are its own: the outer machine's names do not satisfy them, nor the reverse.
    assert not any("Branches[0]" in p for p in problems), problems


def test_branch_cannot_jump_to_an_outer_state() -> None:
    branch = copy.deepcopy(VALID)
    branch["States"]["First"]["Next"] = "Fan"
    problems = check_definition(_parallel(branch))
    assert any("Fan.Branches[1].First" in p and "'Fan'" in p for p in problems), problems


@pytest.mark.parametrize("key", ["ItemProcessor", "Iterator"])
def test_map_item_processor_is_checked(key: str) -> None:
    processor = copy.deepcopy(VALID)
    processor["States"]["Orphan"] = {"Type": "Pass", "End": True}
    del processor["StartAt"]
    machine = {"StartAt": "Each", "States": {"Each": {"Type": "Map", key: processor, "End": True}}}
    problems = check_definition(machine)
    assert any("Each.ItemProcessor" in p and "StartAt" in p for p in problems), problems
    assert "state Each.ItemProcessor.Orphan: unreachable from StartAt" in problems


def test_nested_placeholders_need_substitutions() -> None:
    branch = copy.deepcopy(VALID)
    branch["States"]["First"]["Resource"] = "${BranchArn}"
    problems = check_definition(_parallel(branch), substitutions={"FirstArn": "arn"})
    assert problems == ["placeholder ${BranchArn} has no DefinitionSubstitutions entry"]


def test_malformed_json_shapes_are_problems_not_crashes(machine: dict[str, Any]) -> None:
    assert check_definition([]) == ["definition: not a JSON object"]  # type: ignore[arg-type]
    machine["States"]["Done"] = "Succeed"
    assert check_definition(machine) == ["state Done: not a JSON object"]
    parallel = _parallel(copy.deepcopy(VALID))
    parallel["States"]["Fan"]["Branches"][1] = "oops"
    assert check_definition(parallel) == ["Fan.Branches[1].: not a JSON object"]
