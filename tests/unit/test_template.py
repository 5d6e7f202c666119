"""template.yaml: lint-clean, every function's code and handler present, wired to the ASL and the CLI."""

from __future__ import annotations

import ast
import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mlops_local.deployer import load_template
from mlops_local.stack_values import DeployedStack

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
ASL_PATH = REPO_ROOT / "statemachine" / "pipeline.asl.json"
PIPELINE_FUNCTIONS = {
    "CheckDataDriftFunction": "functions/check_data_drift",
    "TrainModelFunction": "functions/train_model",
    "EvaluateCandidateFunction": "functions/evaluate_candidate",
    "RunAbTestFunction": "functions/run_ab_test",
    "FindPendingCandidateFunction": "functions/find_pending_candidate",
    "PromoteIfBetterFunction": "functions/promote_if_better",
    "GenerateReportFunction": "functions/generate_report",
}
# `outputs["Name"]`, `outputs['Name']` and `outputs.get("Name"` in the tooling that reads the stack.
_OUTPUT_READ = re.compile(r"""outputs(?:\[|\.get\()\s*["']([A-Za-z0-9]+)["']""")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _top_level_names(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_cfn_lint_passes() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), str(TEMPLATE_PATH)], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_function_code_folder_holds_its_handler(template: dict[str, Any]) -> None:
    default_handler = template["Globals"]["Function"].get("Handler")
    functions = _functions(template)
    assert functions
    for logical_id, resource in functions.items():
        props = resource["Properties"]
        handler = props.get("Handler", default_handler)
        assert handler, f"{logical_id} has no Handler"
        module, _, attribute = handler.rpartition(".")
        code_dir = REPO_ROOT / props["CodeUri"]
        module_file = code_dir / (module.replace(".", "/") + ".py")
        assert module_file.is_file(), f"{logical_id}: {module_file} missing"
        assert attribute in _top_level_names(module_file.read_text()), f"{logical_id}: {handler} not defined"


def test_the_seven_pipeline_functions_exist_with_their_code(template: dict[str, Any]) -> None:
    functions = _functions(template)
    for logical_id, code_dir in PIPELINE_FUNCTIONS.items():
        assert logical_id in functions
        assert functions[logical_id]["Properties"]["CodeUri"].rstrip("/") == code_dir
    # The API is the one function besides the six steps.
    assert set(functions) - set(PIPELINE_FUNCTIONS) == {"ApiFunction"}


def test_every_function_gets_the_shared_layer(template: dict[str, Any]) -> None:
    assert template["Globals"]["Function"]["Layers"] == [{"Ref": "SharedLayer"}]
    assert template["Resources"]["SharedLayer"]["Type"] == "AWS::Serverless::LayerVersion"
    assert (REPO_ROOT / template["Resources"]["SharedLayer"]["Properties"]["ContentUri"] / "python/mlops_core").is_dir()


def test_definition_substitutions_cover_exactly_the_asl_placeholders(template: dict[str, Any]) -> None:
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", ASL_PATH.read_text()))
    machine = template["Resources"]["PipelineStateMachine"]["Properties"]
    assert (REPO_ROOT / machine["DefinitionUri"]).resolve() == ASL_PATH
    substitutions = machine["DefinitionSubstitutions"]
    assert set(substitutions) == placeholders
    for logical_id in PIPELINE_FUNCTIONS:
        assert substitutions[f"{logical_id}Arn"] == {"Fn::GetAtt": [logical_id, "Arn"]}


def test_outputs_include_every_name_the_tooling_reads(template: dict[str, Any]) -> None:
    from mlops_local.cli import STEP_FUNCTIONS

    infra = REPO_ROOT / "infra" / "mlops_local"
    read = set()
    for module in ("cli.py", "services.py"):
        read |= set(_OUTPUT_READ.findall((infra / module).read_text()))
    read |= set(STEP_FUNCTIONS.values())
    # The regex must see the reads it exists for, or this test would pass on an empty set.
    assert {"StateMachineArn", "DataBucketName", "DailyScheduleRuleName"} <= read
    missing = read - set(template["Outputs"])
    assert not missing, f"outputs read by the CLI but absent from template.yaml: {sorted(missing)}"


def test_daily_rule_runs_at_six_utc(template: dict[str, Any]) -> None:
    events = template["Resources"]["PipelineStateMachine"]["Properties"]["Events"]
    schedules = {name: e for name, e in events.items() if e["Type"] in ("Schedule", "ScheduleV2")}
    assert list(schedules) == ["DailySchedule"]
    assert schedules["DailySchedule"]["Properties"]["Schedule"] == "cron(0 6 * * ? *)"
    # SAM names the rule <machine><event>; the output the CLI fires must reference that rule.
    assert template["Outputs"]["DailyScheduleRuleName"]["Value"] == {"Ref": "PipelineStateMachineDailySchedule"}


def test_daily_rule_sends_the_scheduled_event_itself(template: dict[str, Any]) -> None:
    # A fixed Input ("{}") makes LocalStack 4.14 drop the target: the rule would never start the pipeline there.
    schedule = template["Resources"]["PipelineStateMachine"]["Properties"]["Events"]["DailySchedule"]["Properties"]
    assert "Input" not in schedule


def test_ab_table_key_schema_and_ttl(template: dict[str, Any]) -> None:
    table = template["Resources"]["AbTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert {(a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]} == {
        ("pk", "S"),
        ("sk", "S"),
    }
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def _api_url(template: dict[str, Any], **parameters: str) -> str:
    """run_ab_test's API_URL as CloudFormation resolves it, the REST API's id being `abc123`."""
    with_api_id = copy.deepcopy(template)
    with_api_id["Outputs"] = {"ApiId": {"Value": {"Ref": "PredictionApi"}}}
    stack = DeployedStack(with_api_id, parameters, {"ApiId": "abc123"}, stack_name="s", region="eu-west-1")
    variables = template["Resources"]["RunAbTestFunction"]["Properties"]["Environment"]["Variables"]
    return stack.resolve(variables["API_URL"], what="API_URL")


def test_the_ab_step_calls_this_stacks_api_gateway_stage_on_aws(template: dict[str, Any]) -> None:
    assert _api_url(template) == "https://abc123.execute-api.eu-west-1.amazonaws.com/Prod"


def test_the_ab_step_calls_localstacks_gateway_from_inside_the_compose_network(template: dict[str, Any]) -> None:
    url = _api_url(template, LocalStackHost="localstack:4566")
    assert url == "http://localstack:4566/restapis/abc123/Prod/_user_request_"


def test_an_explicit_api_url_wins(template: dict[str, Any]) -> None:
    assert _api_url(template, ApiUrl="http://127.0.0.1:8000", LocalStackHost="localstack:4566") == (
        "http://127.0.0.1:8000"
    )


def test_the_api_url_output_is_the_url_the_ab_step_calls(template: dict[str, Any]) -> None:
    variables = template["Resources"]["RunAbTestFunction"]["Properties"]["Environment"]["Variables"]
    assert template["Outputs"]["ApiUrl"]["Value"] == variables["API_URL"]


def test_the_training_job_runs_the_train_entry_point_with_its_size_from_parameters(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    task = resources["TrainingJobTaskDefinition"]["Properties"]
    assert task["RequiresCompatibilities"] == ["FARGATE"] and task["NetworkMode"] == "awsvpc"
    assert task["Cpu"] == {"Ref": "TrainingJobCpu"} and task["Memory"] == {"Ref": "TrainingJobMemory"}
    (container,) = task["ContainerDefinitions"]
    assert container["EntryPoint"] + container["Command"] == ["python3", "-m", "mlops_core.jobs.train_model"]
    # The state machine's container override names this container.
    definition = json.loads(ASL_PATH.read_text())
    (override,) = definition["States"]["TrainModelJob"]["Parameters"]["Overrides"]["ContainerOverrides"]
    assert override["Name"] == container["Name"]
    assert container["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": "TrainingJobLogGroup"}
    parameters = template["Parameters"]
    assert parameters["TrainingJobThresholdRows"]["MinValue"] == 0
    substitutions = resources["PipelineStateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert substitutions["TrainingJobThresholdRows"] == {"Ref": "TrainingJobThresholdRows"}


def test_the_training_job_gets_the_functions_environment(template: dict[str, Any]) -> None:
    """The job builds the same adapters as the function: a variable missing here fails only on the job path."""
    functions_env = set(template["Globals"]["Function"]["Environment"]["Variables"]) - {"REPORTS_WEBSITE_URL"}
    (container,) = template["Resources"]["TrainingJobTaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert functions_env <= {variable["Name"] for variable in container["Environment"]}
