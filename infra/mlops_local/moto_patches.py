"""Every monkeypatch the emulator applies to moto, in one place, each with the reason it exists.

The seams are private moto APIs that move between releases. Before patching, `apply` checks the installed
moto's version against `SUPPORTED_MOTO` and every seam it replaces or calls against `SEAMS` (that the attribute
exists, has the parameters the patch passes, is still a classmethod or a cached function, and, for a function
whose body a patch depends on, still has the source the patch was read from); on a mismatch it raises
`UnsupportedMotoError`, whose one line names the seam and the supported versions, before touching moto.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib
import inspect
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlops_local.exceptions import UnsupportedMotoError
from mlops_local.job_executor import TASK_FAILED_TO_START, JobExecutor, JobExit, JobSpec, JobStartError
from mlops_local.lambda_executor import FunctionSpec, LambdaExecutor, LambdaExecutorError, log_tail

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaBackend, LambdaFunction

# The versions the seams below were read from (requirements/lock.txt pins 5.2.5).
SUPPORTED_MOTO = ">=5.2.5,<5.3"

_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
# The originals that a patch still calls.
_ORIGINALS: dict[str, Any] = {}
_applied = False
_executor: LambdaExecutor | None = None
_jobs: JobExecutor | None = None

# --- the seams -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seam:
    """A moto attribute the emulator replaces or calls, and what it must look like for the patch to hold."""

    path: str  # dotted: module, then attributes
    parameters: tuple[str, ...] = ()  # parameter names the patch passes or receives
    classmethod: bool = False  # replaced or called through `.__func__`
    cached: bool = False  # an lru_cache whose cache the patch clears
    declares: tuple[str, ...] = ()  # annotated attributes (or TypedDict keys) the patch walks through
    source_sha256: str | None = None  # the function's source as read, when the patch depends on its body

    def problem(self) -> str | None:
        """What is wrong with this seam in the installed moto, as a phrase; None if it holds."""
        try:
            owner, target = _resolve(self.path)
        except LookupError as exc:
            return str(exc)
        if self.classmethod and not isinstance(inspect.getattr_static(owner, self.path.rsplit(".", 1)[1]), classmethod):
            return f"{self.path} is no longer a classmethod"
        if self.cached and not callable(getattr(target, "cache_clear", None)):
            return f"{self.path} has no cache_clear (it is no longer cached)"
        if self.parameters:
            try:
                accepted = inspect.signature(target).parameters
            except (TypeError, ValueError):
                return f"{self.path} is not a function"
            missing = [name for name in self.parameters if name not in accepted]
            if missing:
                return f"{self.path} has no parameter {missing[0]!r}"
        declared = getattr(target, "__annotations__", {})
        missing = [name for name in self.declares if name not in declared]
        if missing:
            return f"{self.path} no longer declares {missing[0]!r}"
        if self.source_sha256 is not None:
            # getsource unwraps functools.wraps, so an applied patch still shows moto's function.
            try:
                source = inspect.getsource(target)
            except (OSError, TypeError):
                return f"{self.path} has no source to check"
            if hashlib.sha256(source.encode()).hexdigest() != self.source_sha256:
                return f"{self.path} is not the function its patch was read from (its source changed)"
        return None


def _resolve(path: str) -> tuple[Any, Any]:
    """(owner, attribute) for a dotted path whose leading part is a module; LookupError naming what is missing."""
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            owner: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise LookupError(f"importing {module_name} failed: {exc}") from exc
        except ImportError as exc:
            raise LookupError(f"importing {module_name} failed: {exc}") from exc
        for depth, name in enumerate(parts[split:], start=split):
            try:
                target = getattr(owner, name)
            except AttributeError:
                raise LookupError(f"{'.'.join(parts[: depth + 1])} does not exist") from None
            if depth < len(parts) - 1:
                owner = target
        return owner, target
    raise LookupError(f"{path} does not exist")


_CFN_CREATE = ("resource_name", "cloudformation_json", "account_id", "region_name")
_CFN_UPDATE = ("original_resource", "new_resource_name", "cloudformation_json", "account_id", "region_name")
_CFN_DELETE = ("resource_name", "cloudformation_json", "account_id", "region_name")
_CREATE_STATE_MACHINE = (
    "name",
    "definition",
    "roleArn",
    "tags",
    "loggingConfiguration",
    "tracingConfiguration",
    "sm_type",
)
_UPDATE_STATE_MACHINE = ("arn", "definition", "role_arn")
# Reads too: a scan iterating a table while a write resizes it fails the same way.
_DYNAMODB_CALLS = (
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "batch_write_item",
    "get_item",
    "query",
    "scan",
)
_LAMBDA = "moto.awslambda.models"
_SFN = "moto.stepfunctions"
_SFN_EVAL = "moto.stepfunctions.parser.asl.eval"
_SFN_ERROR = "moto.stepfunctions.parser.asl.component.common.error_name"
_SFN_SERVICE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service"
_NORMALISE = ("response", "boto_service_name", "service_action_name")
_NORMALISE_PARAMETERS = ("parameters", "boto_service_name", "service_action_name")
_ECS = "moto.ecs.models.EC2ContainerServiceBackend"
# moto 5.2.5's DynamoDBBackend.transact_write_items: its rollback is what _snapshot_items replaces.
_TRANSACT_WRITE_ITEMS_SHA256 = "81db2cb7d94e39c90b3a2077e1f4bb41a449c558ef9b1b1e2910fdaa39978ad4"
_RESOLVER = ("env", "resource_runtime_part", "normalised_parameters", "state_credentials")

SEAMS: tuple[Seam, ...] = (
    # Lambda: the executor behind Invoke and behind moto's own integrations.
    Seam(
        "moto.awslambda_simple.models.LambdaSimpleBackend.invoke",
        ("function_name", "qualifier", "body", "headers", "response_headers"),
    ),
    Seam(f"{_LAMBDA}.LambdaFunction.invoke", ("body", "request_headers", "response_headers")),
    Seam(f"{_LAMBDA}.LambdaBackend.get_function", ("function_name_or_arn", "qualifier")),
    Seam(f"{_LAMBDA}.LambdaBackend.layers_versions_by_arn", ("layer_version_arn",)),
    Seam("moto.awslambda.utils.get_backend", ("account_id", "region")),
    Seam("moto.core.config.default_user_config"),
    Seam("moto.core.exceptions.JsonRESTError", ("error_type", "message")),
    # Lambda in CloudFormation: layers and string environment values.
    Seam(f"{_LAMBDA}.LayerVersion.arn"),
    Seam(f"{_LAMBDA}.LambdaFunction.create_from_cloudformation_json", _CFN_CREATE, classmethod=True),
    Seam(f"{_LAMBDA}.LambdaFunction._get_layers_data", ("layers_versions_arns",)),
    # DynamoDB in CloudFormation (TTL), and the lock around item calls.
    Seam("moto.dynamodb.models.table.Table.create_from_cloudformation_json", _CFN_CREATE, classmethod=True),
    Seam("moto.dynamodb.models.dynamodb_backends"),
    Seam("moto.dynamodb.models.DynamoDBBackend.update_time_to_live", ("table_name", "ttl_spec")),
    *(
        Seam(f"moto.dynamodb.models.DynamoDBBackend.{name}")
        for name in _DYNAMODB_CALLS
        if name != "transact_write_items"
    ),
    # DynamoDB TransactWriteItems: its rollback keeps the items the transaction writes, not whole tables.
    Seam(
        "moto.dynamodb.models.DynamoDBBackend.transact_write_items",
        ("transact_items",),
        source_sha256=_TRANSACT_WRITE_ITEMS_SHA256,
    ),
    Seam("moto.dynamodb.models.copy"),
    Seam("moto.dynamodb.models.table.Table"),
    Seam("moto.dynamodb.models.dynamo_type.DynamoType"),
    Seam("moto.dynamodb.exceptions.TransactWriteSingleOpException"),
    # Step Functions in CloudFormation: the executing backend, the definition's other forms, substitutions.
    Seam(f"{_SFN}.models.StateMachine.create_from_cloudformation_json", _CFN_CREATE, classmethod=True),
    Seam(f"{_SFN}.models.StateMachine.update_from_cloudformation_json", _CFN_UPDATE, classmethod=True),
    Seam(f"{_SFN}.models.StateMachine.delete_from_cloudformation_json", _CFN_DELETE, classmethod=True),
    Seam(f"{_SFN}.responses.get_backend", ("account", "region")),
    Seam(f"{_SFN}.models.StepFunctionBackend.create_state_machine", _CREATE_STATE_MACHINE),
    Seam(f"{_SFN}.parser.models.StepFunctionsParserBackend.create_state_machine", _CREATE_STATE_MACHINE),
    Seam(f"{_SFN}.models.StepFunctionBackend.update_state_machine", _UPDATE_STATE_MACHINE),
    Seam(f"{_SFN}.parser.models.StepFunctionsParserBackend.update_state_machine", _UPDATE_STATE_MACHINE),
    Seam(f"{_SFN}.models.StepFunctionBackend.delete_state_machine", ("arn",)),
    Seam(f"{_SFN}.utils.cfn_to_api_tags", ("cfn_tags_entry",)),
    Seam("moto.s3.models.s3_backends"),
    Seam("moto.s3.models.S3Backend.get_object", ("bucket_name", "key_name")),
    # Step Functions context object: env.states.context_object.context_object_data["Execution"]["StartTime"].
    Seam(f"{_SFN}.parser.backend.execution_worker.ExecutionWorker._get_evaluation_environment", ("self",)),
    Seam(f"{_SFN_EVAL}.environment.Environment", declares=("states",)),
    Seam(f"{_SFN_EVAL}.states.States", declares=("context_object",)),
    Seam(f"{_SFN_EVAL}.states.ContextObject", declares=("context_object_data",)),
    Seam(f"{_SFN_EVAL}.states.ExecutionData", declares=("StartTime",)),
    # API Gateway in CloudFormation: REST APIs from an OpenAPI Body.
    Seam("moto.apigateway.models.RestAPI.create_from_cloudformation_json", _CFN_CREATE, classmethod=True),
    Seam("moto.apigateway.models.apigateway_backends"),
    Seam("moto.apigateway.models.APIGatewayBackend.create_rest_api", ("name", "description", "endpoint_configuration")),
    Seam(
        "moto.apigateway.models.APIGatewayBackend.put_rest_api", ("function_id", "api_doc", "fail_on_warnings", "mode")
    ),
    # S3 bucket policies in CloudFormation: a new model class in moto's cached type maps.
    Seam("moto.core.common_models.CloudFormationModel.create_from_cloudformation_json", _CFN_CREATE, classmethod=True),
    Seam("moto.core.common_models.CloudFormationModel.update_from_cloudformation_json", _CFN_UPDATE, classmethod=True),
    Seam("moto.core.common_models.CloudFormationModel.delete_from_cloudformation_json", _CFN_DELETE, classmethod=True),
    Seam("moto.cloudformation.parsing.get_model_list", cached=True),
    Seam("moto.cloudformation.parsing.get_model_map", cached=True),
    Seam("moto.cloudformation.parsing.get_name_type_map", cached=True),
    Seam("moto.s3.models.S3Backend.put_bucket_policy", ("bucket_name", "policy")),
    Seam("moto.s3.models.S3Backend.delete_bucket_policy", ("bucket_name",)),
    Seam("moto.utilities.utils.get_partition", ("region",)),
    # What the emulator itself calls: the server, and CloudWatch Logs for the functions' output.
    Seam("moto.moto_server.threaded_moto_server.ThreadedMotoServer", ("ip_address", "port", "verbose")),
    Seam("moto.logs.models.logs_backends"),
    Seam("moto.logs.models.LogsBackend.ensure_log_group", ("log_group_name",)),
    Seam("moto.logs.models.LogsBackend.ensure_log_stream", ("log_group_name", "log_stream_name")),
    Seam("moto.logs.models.LogsBackend.put_log_events", ("log_group_name", "log_stream_name", "log_events")),
    # The server entry the emulator replaces to put its own WSGI layer in front of moto's app.
    Seam("moto.moto_server.threaded_moto_server.ThreadedMotoServer._server_entry", ("self",)),
    Seam("moto.moto_server.werkzeug_app.DomainDispatcherApplication", ("create_app",)),
    Seam("moto.moto_server.werkzeug_app.create_backend_app", ("service",)),
    Seam("moto.moto_server.werkzeug_app.MotoRequestHandler"),
    # Persistence (mlops_local.persistence): where the backends live, and what a restore rewrites.
    Seam("moto.core.base_backend.BackendDict._instances"),
    Seam(f"{_SFN}.parser.models.stepfunctions_parser_backends"),
    Seam(f"{_SFN}.parser.models.StepFunctionsParserBackend._get_executions", ("execution_status",)),
    Seam(
        f"{_SFN}.parser.backend.execution.Execution",
        declares=("exec_worker", "exec_status", "stop_date", "error", "cause"),
    ),
    Seam(f"{_SFN}.parser.api.ExecutionStatus.RUNNING"),
    Seam(f"{_SFN}.parser.api.HistoryEventType.ExecutionFailed"),
    Seam("moto.s3.models.FakeKey.value"),
    Seam("moto.s3.models.FakeKey.__setstate__", ("state",)),
    # The API Gateway in front (mlops_local.api_gateway): a stage's API, resources and integration, read in the
    # shapes of the API Gateway API; and a stack's REST API stage and updates (mlops_local.api_gateway_cloudformation).
    Seam("moto.core.base_backend.BackendDict.iter_backends", ("self",)),
    Seam("moto.apigateway.models.APIGatewayBackend.get_rest_api", ("function_id",)),
    Seam("moto.apigateway.models.APIGatewayBackend.get_stage", ("function_id", "stage_name")),
    Seam("moto.apigateway.models.APIGatewayBackend.get_resources", ("function_id",)),
    Seam("moto.apigateway.models.RestAPI.to_dict", ("self",)),
    Seam("moto.apigateway.models.Stage.to_json", ("self",)),
    Seam("moto.apigateway.models.Resource.to_dict", ("self",)),
    Seam("moto.apigateway.models.Deployment.to_json", ("self",)),
    Seam("moto.apigateway.exceptions.RestAPINotFound"),
    Seam("moto.apigateway.exceptions.StageNotFoundException"),
    Seam(
        "moto.apigateway.models.APIGatewayBackend.create_stage",
        ("function_id", "stage_name", "deploymentId", "variables", "description", "tags", "tracing_enabled"),
    ),
    Seam("moto.apigateway.models.APIGatewayBackend.delete_stage", ("function_id", "stage_name")),
    Seam("moto.apigateway.models.RestAPI.update_from_cloudformation_json", _CFN_UPDATE, classmethod=True),
    Seam("moto.apigateway.models.APIGatewayBackend.update_rest_api", ("function_id", "patch_operations")),
    # ECS tasks (mlops_local.job_executor): RunTask starts the container's command, StopTask stops it, and
    # Step Functions' `ecs:runTask.sync` reads the task as AWS returns it and fails on a non-zero exit.
    Seam(f"{_ECS}.run_task", ("cluster_str", "task_definition_str", "count", "overrides", "started_by", "tags")),
    Seam(f"{_ECS}.stop_task", ("cluster_str", "task_str", "reason")),
    Seam(f"{_ECS}.describe_tasks", ("cluster_str", "tasks")),
    Seam(f"{_ECS}.describe_task_definition", ("task_definition_str",)),
    Seam("moto.moto_api._internal.managed_state_model.ManagedState._get_next_status", ("previous",)),
    Seam(f"{_SFN_SERVICE}_ecs.StateTaskServiceEcs._build_sync_resolver", _RESOLVER),
    Seam(f"{_SFN_SERVICE}_ecs.StateTaskServiceEcs._normalise_response", _NORMALISE),
    Seam(f"{_SFN_SERVICE}_ecs.StateTaskServiceEcs._normalise_parameters", _NORMALISE_PARAMETERS),
    Seam(f"{_SFN_SERVICE}_aws_sdk.StateTaskServiceAwsSdk._normalise_response", _NORMALISE),
    Seam(f"{_SFN_SERVICE}_aws_sdk.StateTaskServiceAwsSdk._normalise_parameters", _NORMALISE_PARAMETERS),
    Seam(f"{_SFN_SERVICE}.StateTaskService._to_boto_request", ("parameters", "structure_shape")),
    Seam(f"{_SFN_SERVICE}.StateTaskService._from_boto_response", ("response", "structure_shape")),
    Seam(f"{_SFN_SERVICE}.StateTaskService._get_boto_service_name", ("boto_service_name",)),
    Seam(f"{_SFN_SERVICE}.StateTaskService._get_boto_service_action", ("service_action_name",)),
    Seam(f"{_SFN_ERROR}.failure_event.FailureEvent", ("env", "error_name", "event_type", "event_details")),
    Seam(f"{_SFN_ERROR}.failure_event.FailureEventException", ("failure_event",)),
    Seam(f"{_SFN_ERROR}.states_error_name.StatesErrorName", ("typ",)),
    Seam(f"{_SFN_ERROR}.states_error_name_type.StatesErrorNameType.StatesTaskFailed"),
    Seam(f"{_SFN}.parser.api.TaskFailedEventDetails", declares=("error", "cause", "resource", "resourceType")),
    Seam(f"{_SFN_EVAL}.event.event_detail.EventDetails", declares=("taskFailedEventDetails",)),
    Seam("moto.stepfunctions.parser.asl.utils.encoding.to_json_str", ("obj",)),
    Seam(f"{_SFN_EVAL}.environment.Environment.is_running", ("self",)),
    Seam("moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for", ("region", "service", "state_credentials")),
)


def moto_version() -> str:
    import moto

    return str(getattr(moto, "__version__", "unknown"))


def check_moto() -> None:
    """Raise UnsupportedMotoError, one line, if the installed moto is not one the patches were written for."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    version = moto_version()
    try:
        supported = Version(version) in SpecifierSet(SUPPORTED_MOTO, prereleases=True)
    except InvalidVersion:
        supported = False
    problems = [problem for seam in SEAMS if (problem := seam.problem()) is not None]
    if supported and not problems:
        return
    if problems:
        reason = problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
    else:
        reason = "the emulator's patches are written for these versions only; `make setup` installs the pinned one"
    raise UnsupportedMotoError(f"moto {version} is not supported (supported: {SUPPORTED_MOTO}): {reason}")


# --- applying the patches --------------------------------------------------------------------------------


def apply(executor: LambdaExecutor, jobs: JobExecutor | None = None) -> None:
    """Route moto's Lambda invocations to `executor`, its ECS tasks to `jobs`, and fix moto where it differs
    from AWS (idempotent). Without `jobs`, ECS tasks do what moto's do: nothing, then stop with exit code 0.

    Raises UnsupportedMotoError, before changing anything, if the installed moto does not fit the patches.
    """
    global _executor, _jobs, _applied
    if not _applied:
        check_moto()
    _executor = executor
    _jobs = jobs
    if _applied:
        return
    from moto.apigateway.models import RestAPI
    from moto.awslambda.models import LambdaFunction, LayerVersion
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.stepfunctions.models import StateMachine
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    # With use_docker false, moto's Invoke API lands here and only echoes the payload back: run the code.
    LambdaSimpleBackend.invoke = _backend_invoke
    # moto's own integrations (S3 and SNS notifications, SQS and DynamoDB stream mappings, log subscriptions,
    # InvokeAsync) call the function model directly, which would try to reach a Docker engine.
    _ORIGINALS["LambdaFunction.invoke"] = LambdaFunction.invoke
    LambdaFunction.invoke = _function_invoke
    # CloudFormation: `!Ref Layer` in a function's Layers resolves to nothing, because moto's LayerVersion has no
    # physical id (moto's clean_json then hands the model object itself on), so the function silently loses its
    # layers; on AWS the Ref is the layer version ARN.
    # Upstream: no issue yet; moto's LayerVersion needs a physical_resource_id that returns its ARN.
    LayerVersion.physical_resource_id = property(lambda self: self.arn)
    # CloudFormation: moto drops a function's Layers property on create (stack updates do apply it), and passes
    # Number parameters into Environment as numbers where Lambda holds strings only.
    # Upstream: no issue yet; LambdaFunction.create_from_cloudformation_json needs "Layers" among the properties
    # it hands create_function (getmoto/moto#10028 moved this path onto get_backend and left Layers out), and
    # Environment values made strings as Lambda's own API makes them.
    _extend_cloudformation_create(LambdaFunction, _with_layers_and_string_environment)
    # CloudFormation: moto ignores a table's TimeToLiveSpecification (the pipeline's predictions expire by TTL).
    # Upstream: no issue yet; Table.create_from_cloudformation_json needs to pass TimeToLiveSpecification to
    # update_time_to_live (LocalStack's provider does the same since localstack/localstack#10238).
    _extend_cloudformation_create(Table, _with_time_to_live)
    # CloudFormation: moto creates state machines in the plain backend, invisible to the executing one that
    # `execute_state_machine` selects, and reads only DefinitionString: Definition, DefinitionS3Location and
    # DefinitionSubstitutions are ignored, so `${CheckArn}` reaches the interpreter literally.
    # Upstream: no issue yet; StateMachine's CloudFormation methods (getmoto/moto#3429 create, #3440 update) need
    # moto.stepfunctions.responses.get_backend, as getmoto/moto#10028 did for Lambda with its get_backend, and the
    # definition handling of the LocalStack provider moto already vendors but never calls
    # (moto/stepfunctions/parser/resource_providers/aws_stepfunctions_statemachine.py).
    StateMachine.create_from_cloudformation_json = classmethod(_create_state_machine)
    StateMachine.update_from_cloudformation_json = classmethod(_update_state_machine)
    StateMachine.delete_from_cloudformation_json = classmethod(_delete_state_machine)
    # CloudFormation: SAM's REST APIs carry their routes in an OpenAPI Body and may omit Name, as AWS allows; moto
    # requires Name and ignores Body, so the stack's Deployment then fails with "The REST API doesn't contain any
    # methods".
    # Upstream: no issue yet; RestAPI.create_from_cloudformation_json (getmoto/moto#3659) needs to name the API
    # after Body's info.title when Name is absent and import Body with put_rest_api (getmoto/moto#5140).
    RestAPI.create_from_cloudformation_json = classmethod(_create_rest_api)
    # CloudFormation: moto has no AWS::S3::BucketPolicy (it warns and skips it), so the reports bucket's public
    # read policy never applies and moto, which does enforce bucket policies, answers anonymous GETs with 403.
    # Upstream: no issue yet; moto needs an AWS::S3::BucketPolicy model that calls put_bucket_policy.
    _register_bucket_policy_resource()
    # The context object's Execution.StartTime is an ISO 8601 string on AWS; moto passes a datetime, which then
    # breaks DescribeExecution's JSON once a state copies it into the output.
    _ORIGINALS["ExecutionWorker._get_evaluation_environment"] = ExecutionWorker._get_evaluation_environment
    ExecutionWorker._get_evaluation_environment = _evaluation_environment
    # moto's TransactWriteItems deep-copies each table it names, once per action, to roll back a cancelled
    # transaction: a transaction costs the size of its tables, and the A/B table's feedback batches ran into the
    # API's timeout. Keep the items the transaction writes instead; moto's logic and errors stay as they are.
    # Upstream: no issue yet; transact_write_items needs to back up the items its actions address.
    for owner, name, value in dynamodb_transaction_patches():
        setattr(owner, name, value)
    # moto's DynamoDB is not thread-safe: TransactWriteItems deep-copied the tables for rollback while another
    # request thread updated them ("dictionary changed size during iteration"). DynamoDB itself serialises
    # conflicting writes, so one lock around the item calls is the faithful fix (and the item snapshot above
    # relies on it: it is taken under the same lock as the transaction).
    for name in _DYNAMODB_CALLS:
        setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name)))
    _patch_ecs_tasks()
    _applied = True


def _require_executor() -> LambdaExecutor:
    if _executor is None:
        raise RuntimeError("moto_patches.apply() has not been called")
    return _executor


def _extend_cloudformation_create(model: type, then: Callable[[Any, Mapping[str, Any], str, str], None]) -> None:
    """Let moto create the resource from CloudFormation as it does, then apply what it left out."""
    create = model.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def extended(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        created = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        then(created, cloudformation_json["Properties"], account_id, region_name)
        return created

    model.create_from_cloudformation_json = classmethod(extended)  # type: ignore[attr-defined]


# --- Lambda ---------------------------------------------------------------------------------------------


def _backend_invoke(
    self: LambdaBackend, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
) -> bytes:
    fn = self.get_function(function_name, qualifier)
    return _execute(fn, self, body, headers, response_headers)


def _function_invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    from moto.awslambda.utils import get_backend
    from moto.core.config import default_user_config

    if default_user_config.get("lambda", {}).get("use_docker", True):
        return _ORIGINALS["LambdaFunction.invoke"](self, body, request_headers, response_headers)
    return _execute(self, get_backend(self.account_id, self.region), body, request_headers, response_headers)


def _execute(fn: LambdaFunction, backend: LambdaBackend, body: Any, headers: Any, response_headers: Any) -> bytes:
    from moto.core.exceptions import JsonRESTError

    invocation_type = _header(headers, "X-Amz-Invocation-Type") or "RequestResponse"
    try:
        result = _require_executor().invoke(function_spec(fn, backend), body, invocation_type)
    except LambdaExecutorError as exc:
        error = JsonRESTError(exc.code, str(exc))
        error.code = exc.status
        raise error from exc
    if result is None:
        payload = b""
    else:
        payload = result.payload
        if result.error:
            # "Unhandled" is what Lambda answers for a raised exception; Step Functions reads the errorType.
            response_headers["x-amz-function-error"] = "Unhandled"
        if (_header(headers, "X-Amz-Log-Type") or "").lower() == "tail":
            response_headers["x-amz-log-result"] = log_tail(result)
    response_headers["Content-Length"] = str(len(payload))
    return payload


def _with_layers_and_string_environment(
    fn: LambdaFunction, properties: Mapping[str, Any], account_id: str, region_name: str
) -> None:
    if properties.get("Layers"):
        fn.layers = fn._get_layers_data(properties["Layers"])
    if fn.environment_vars:
        fn.environment_vars = {key: str(value) for key, value in fn.environment_vars.items()}


def _with_time_to_live(table: Any, properties: Mapping[str, Any], account_id: str, region_name: str) -> None:
    from moto.dynamodb.models import dynamodb_backends

    if properties.get("TimeToLiveSpecification"):
        dynamodb_backends[account_id][region_name].update_time_to_live(
            table.name, properties["TimeToLiveSpecification"]
        )


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def function_spec(fn: LambdaFunction, backend: LambdaBackend) -> FunctionSpec:
    """Snapshot of the moto function model (it changes in place on update) for the executor."""
    layers = []
    for layer in fn.layers:
        version = backend.layers_versions_by_arn(layer["Arn"])
        if version is None:
            raise LambdaExecutorError(f"layer {layer['Arn']} of function {fn.function_name} no longer exists")
        layers.append(version.code_bytes)
    return FunctionSpec(
        name=fn.function_name,
        arn=fn.function_arn,
        version=str(fn.version),
        account_id=fn.account_id,
        region=fn.region,
        handler=fn.handler or "",
        timeout=int(fn.timeout),
        memory_size=int(fn.memory_size),
        environment=dict(fn.environment_vars or {}),
        code=fn.code_bytes,
        layers=tuple(layers),
    )


# --- Step Functions in CloudFormation --------------------------------------------------------------------


def substitute(definition: str, substitutions: Mapping[str, Any]) -> str:
    """Replace `${Name}` placeholders that have a substitution; leave any other `${...}` untouched."""

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        return str(substitutions[key]) if key in substitutions else match.group(0)

    return _PLACEHOLDER.sub(replace, definition)


def state_machine_definition(properties: Mapping[str, Any], account_id: str) -> str:
    """The definition text from DefinitionString, Definition or DefinitionS3Location, substitutions applied."""
    if "Definition" in properties:
        text = json.dumps(properties["Definition"])
    elif "DefinitionS3Location" in properties:
        from moto.s3.models import s3_backends

        location = properties["DefinitionS3Location"]
        key = s3_backends[account_id]["aws"].get_object(location["Bucket"], location["Key"])
        text = key.value.decode("utf-8")
    else:
        text = properties.get("DefinitionString", "")
    return substitute(text, properties.get("DefinitionSubstitutions") or {})


def _sfn_backend(account_id: str, region_name: str) -> Any:
    from moto.stepfunctions.responses import get_backend

    return get_backend(account_id, region_name)


def _create_state_machine(
    cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> Any:
    from moto.stepfunctions.utils import cfn_to_api_tags

    properties = cloudformation_json["Properties"]
    return _sfn_backend(account_id, region_name).create_state_machine(
        properties.get("StateMachineName", resource_name),
        state_machine_definition(properties, account_id),
        properties.get("RoleArn", ""),
        tags=cfn_to_api_tags(properties.get("Tags", [])),
        loggingConfiguration=properties.get("LoggingConfiguration"),
        tracingConfiguration=properties.get("TracingConfiguration"),
        sm_type=properties.get("StateMachineType"),
    )


def _update_state_machine(
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    from moto.stepfunctions.utils import cfn_to_api_tags

    properties = cloudformation_json.get("Properties", {})
    name = properties.get("StateMachineName", original_resource.name)
    if name != original_resource.name:
        replacement = _create_state_machine(cls, name, cloudformation_json, account_id, region_name)
        _delete_state_machine(cls, original_resource.arn, cloudformation_json, account_id, region_name)
        return replacement
    backend = _sfn_backend(account_id, region_name)
    machine = backend.update_state_machine(
        original_resource.arn,
        definition=state_machine_definition(properties, account_id),
        role_arn=properties.get("RoleArn"),
    )
    backend.tagger.tag_resource(machine.arn, cfn_to_api_tags(properties.get("Tags", [])))
    return machine


def _delete_state_machine(
    cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
) -> None:
    _sfn_backend(account_id, region_name).delete_state_machine(resource_name)


# --- API Gateway ----------------------------------------------------------------------------------------


def _create_rest_api(
    cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
) -> Any:
    """moto requires Name and ignores Body; SAM's APIs carry their routes in an OpenAPI Body, as AWS allows."""
    from moto.apigateway.models import apigateway_backends

    properties = cloudformation_json["Properties"]
    body = properties.get("Body") or {}
    name = properties.get("Name") or body.get("info", {}).get("title") or resource_name
    backend = apigateway_backends[account_id][region_name]
    api = backend.create_rest_api(
        name=name,
        description=properties.get("Description", ""),
        endpoint_configuration=properties.get("EndpointConfiguration"),
    )
    if body:
        backend.put_rest_api(api.id, body, fail_on_warnings=False, mode="overwrite")
    return api


# --- Step Functions context object -----------------------------------------------------------------------


def _evaluation_environment(self: Any) -> Any:
    env = _ORIGINALS["ExecutionWorker._get_evaluation_environment"](self)
    execution = env.states.context_object.context_object_data["Execution"]
    started = execution.get("StartTime")
    if isinstance(started, datetime):
        stamp = started.astimezone(UTC) if started.tzinfo else started.replace(tzinfo=UTC)
        execution["StartTime"] = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return env


# --- DynamoDB ---------------------------------------------------------------------------------------------

_DYNAMODB_LOCK = threading.RLock()


def _serialised(method: Any) -> Any:
    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_LOCK:
            return method(self, *args, **kwargs)

    return locked


_WRITES = ("Put", "Update", "Delete")
_transaction = threading.local()


def dynamodb_transaction_patches() -> tuple[tuple[Any, str, Any], ...]:
    """(owner, attribute, replacement) for TransactWriteItems' item snapshot, as `apply` sets them."""
    from moto.dynamodb import models

    return (
        (models, "copy", _TablesKept(models.copy)),
        (models.DynamoDBBackend, "transact_write_items", _snapshot_items(models.DynamoDBBackend.transact_write_items)),
    )


class _TablesKept:
    """moto.dynamodb.models' `copy` module, but for the tables' backup in transact_write_items: while a
    snapshotting transaction runs on this thread, `deepcopy(table)` is the table itself, so moto's rollback
    (`self.tables[name] = backup`) puts back the very table and the snapshot of its items restores them."""

    def __init__(self, module: Any) -> None:
        self._module = module

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.table import Table

        if getattr(_transaction, "snapshotting", False) and isinstance(value, Table):
            return value
        return self._module.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def _snapshot_items(transact_write_items: Any) -> Any:
    @functools.wraps(transact_write_items)
    def snapshotting(self: Any, transact_items: list[dict[str, Any]]) -> None:
        from moto.dynamodb.exceptions import TransactWriteSingleOpException

        snapshot = ItemSnapshot.take(self, transact_items)
        _transaction.snapshotting = True
        try:
            return transact_write_items(self, transact_items)
        except TransactWriteSingleOpException:
            # moto raises this one outside its rollback: the actions before it stay written.
            raise
        except BaseException:
            # Every other way out of moto's function after an action ran is its rollback, then a raise.
            snapshot.restore()
            raise
        finally:
            _transaction.snapshotting = False

    return snapshotting


@dataclass
class ItemSnapshot:
    """The items a transaction's Put, Update and Delete actions address, as they were before it, and the length
    of each table's stream; what moto's backup of the whole tables held that a transaction can change."""

    items: list[tuple[Any, Any, Any, Any, bool]]  # (table, hash key, range key or None, deep copy or None, bucket)
    streams: list[tuple[Any, list[Any], int]]  # (stream shard, its records list, its length)

    @classmethod
    def take(cls, backend: Any, transact_items: list[dict[str, Any]]) -> ItemSnapshot:
        items: list[tuple[Any, Any, Any, Any, bool]] = []
        streams: dict[int, tuple[Any, list[Any], int]] = {}
        seen: set[tuple[int, Any, Any]] = set()
        for action in transact_items:
            located = _location(backend, action)
            if located is None:
                continue
            table, hash_key, range_key = located
            if (id(table), hash_key, range_key) in seen:
                continue  # moto refuses a second action on one item before it writes
            seen.add((id(table), hash_key, range_key))
            bucket = table.items.get(hash_key)
            item = bucket.get(range_key) if range_key is not None and bucket is not None else bucket
            items.append((table, hash_key, range_key, copy.deepcopy(item), bucket is not None))
            shard = table.stream_shard
            if shard is not None and id(shard) not in streams:
                streams[id(shard)] = (shard, shard.items, len(shard.items))
        return cls(items, list(streams.values()))

    def restore(self) -> None:
        for table, hash_key, range_key, item, had_bucket in self.items:
            if range_key is None:
                if item is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = item
                continue
            bucket = table.items.get(hash_key)
            if item is not None:
                table.items[hash_key][range_key] = item
            elif bucket is not None:
                bucket.pop(range_key, None)
                if not bucket and not had_bucket:
                    del table.items[hash_key]
        for shard, records, length in self.streams:
            del records[length:]
            shard.items = records


def _location(backend: Any, action: Mapping[str, Any]) -> tuple[Any, Any, Any] | None:
    """(table, hash key, range key or None) where a write action puts, updates or deletes its item, as moto
    reads them; None for a ConditionCheck and for an action moto refuses before it writes anything."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        (kind, operation), *others = action.items()
        if others or kind not in _WRITES:
            return None
        table = backend.get_table(operation["TableName"])
        source = operation["Item"] if kind == "Put" else operation["Key"]
        hash_key = DynamoType(source[table.hash_key_attr])
        if table.range_key_attr is None:
            return table, hash_key, None
        return table, hash_key, DynamoType(source[table.range_key_attr])
    except Exception:
        return None


# --- S3 bucket policies -----------------------------------------------------------------------------------


def _register_bucket_policy_resource() -> None:
    from moto.cloudformation import parsing
    from moto.core.common_models import CloudFormationModel
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    def backend(account_id: str, region_name: str) -> Any:
        return s3_backends[account_id][get_partition(region_name)]

    def policy_bytes(properties: Mapping[str, Any]) -> bytes:
        document = properties["PolicyDocument"]
        return (document if isinstance(document, str) else json.dumps(document)).encode()

    class BucketPolicy(CloudFormationModel):
        def __init__(self, bucket: str) -> None:
            self.bucket = bucket

        @property
        def physical_resource_id(self) -> str:
            return self.bucket

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::S3::BucketPolicy"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return False

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> BucketPolicy:
            properties = cloudformation_json["Properties"]
            backend(account_id, region_name).put_bucket_policy(properties["Bucket"], policy_bytes(properties))
            return cls(properties["Bucket"])

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[override]
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> BucketPolicy:
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
        ) -> None:
            backend(account_id, region_name).delete_bucket_policy(cloudformation_json["Properties"]["Bucket"])

        def is_created(self) -> bool:
            return True

    # Defined here because moto finds CloudFormation types among CloudFormationModel's subclasses and is imported
    # late; published under the module's name so a stack that holds one can be saved (mlops_local.persistence).
    BucketPolicy.__qualname__ = "BucketPolicy"
    globals()["BucketPolicy"] = BucketPolicy
    # moto caches its type map on first use; the new subclass must be in it.
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()


# --- ECS tasks and Step Functions' ecs:runTask.sync ------------------------------------------------------

ABANDONED_REASON = "Task stopped by Step Functions: the state timed out or the execution stopped"
_POLL_SECONDS = 0.5


def _patch_ecs_tasks() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_ecs import (
        StateTaskServiceEcs,
    )

    # moto never runs a task: RunTask records it RUNNING and each DescribeTasks moves it a step towards STOPPED,
    # exit code 0. Start the container's command instead, and hold the task RUNNING until the command exits.
    _ORIGINALS["ECS.run_task"] = EC2ContainerServiceBackend.run_task
    EC2ContainerServiceBackend.run_task = _run_task
    _ORIGINALS["ECS.stop_task"] = EC2ContainerServiceBackend.stop_task
    EC2ContainerServiceBackend.stop_task = _stop_task
    # moto's service integrations pass Step Functions' parameters to boto3 unconverted and return boto3's
    # response as it comes: its `_normalise_parameters` and `_normalise_response` are stubs, where the
    # LocalStack interpreter it vendors maps names through the API's shapes with helpers moto kept
    # (`_to_boto_request`, `_from_boto_response`). So `ecs:runTask` loses `Cluster` and fails reading `Tasks`,
    # and `aws-sdk:s3:getObject` returns an unreadable stream. Only the two integrations the pipeline uses are
    # switched to the shape mapping; Lambda's integration keeps moto's behaviour.
    # Then `ecs:runTask.sync` returns any STOPPED task as success: AWS fails the state with States.TaskFailed
    # when the essential container did not exit 0, and stops the task when the state times out or the
    # execution stops.
    # Upstream: no issue yet; moto needs the LocalStack normalisers (and the sync failure check) restored.
    for integration in (StateTaskServiceEcs, StateTaskServiceAwsSdk):
        integration._normalise_parameters = _normalise_parameters
        integration._normalise_response = _normalise_response
    _ORIGINALS["StateTaskServiceEcs._build_sync_resolver"] = StateTaskServiceEcs._build_sync_resolver
    StateTaskServiceEcs._build_sync_resolver = _ecs_sync_resolver


def _run_task(self: Any, cluster_str: str, task_definition_str: str, *args: Any, **kwargs: Any) -> Any:
    tasks = _ORIGINALS["ECS.run_task"](self, cluster_str, task_definition_str, *args, **kwargs)
    jobs = _jobs
    if jobs is not None:
        for task in tasks:
            _start_task(self, task, jobs)
    return tasks


def _start_task(backend: Any, task: Any, jobs: JobExecutor) -> None:
    # No transitions left: the status stays RUNNING however often the task is described, until _task_stopped.
    task._transitions = []
    for container in task.containers:
        container.exitCode = None
        container.last_status = "RUNNING"
    try:
        spec = job_spec(backend, task)
        jobs.start(spec, functools.partial(_task_stopped, task))
    except (JobStartError, LambdaExecutorError) as exc:
        _task_stopped(task, JobExit(None, TASK_FAILED_TO_START, str(exc)))


def _task_stopped(task: Any, exit: JobExit) -> None:
    for container in task.containers:
        container.last_status = "STOPPED"
        container.exitCode = exit.exit_code
        if exit.exit_code is None:
            container.reason = exit.reason
    task.stop_code = exit.stop_code
    task.stopped_reason = task.stopped_reason or exit.reason
    task.desired_status = "STOPPED"
    task.last_status = "STOPPED"


def _stop_task(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
    jobs = _jobs
    running = jobs.running() if jobs is not None else []
    tasks = [t for t in self.describe_tasks(cluster_str, [task_str]) if t.task_arn in running]
    if not tasks or jobs is None:
        return _ORIGINALS["ECS.stop_task"](self, cluster_str, task_str, reason)
    # The task stays RUNNING (desired STOPPED) until its process has exited, as ECS reports STOPPING.
    task = tasks[0]
    task.desired_status = "STOPPED"
    task.stopped_reason = reason or "Task stopped by user"
    jobs.stop(task.task_arn, task.stopped_reason)
    return task


def job_spec(backend: Any, task: Any) -> JobSpec:
    """The task's essential container as the job executor runs it; JobStartError when it cannot run here."""
    definition = backend.describe_task_definition(task.task_definition_arn)
    containers = [_camel_keys(c) for c in definition.container_definitions]
    essential = [c for c in containers if c.get("essential", True) is not False]
    if len(essential) != 1:
        raise JobStartError(
            f"the emulator runs tasks with one essential container; {definition.arn} has {len(essential)}"
        )
    container = essential[0]
    name = str(container.get("name", ""))
    overrides = _camel_keys(task.overrides or {}).get("containerOverrides") or []
    override = next((o for o in overrides if o.get("name") == name), {})
    environment = {str(e["name"]): str(e.get("value", "")) for e in container.get("environment") or []}
    environment.update({str(e["name"]): str(e.get("value", "")) for e in override.get("environment") or []})
    command = tuple(container.get("entryPoint") or ()) + tuple(
        override.get("command") or container.get("command") or ()
    )
    log = container.get("logConfiguration") or {}
    options = (log.get("options") or {}) if log.get("logDriver") == "awslogs" else {}
    code = _image_code(str(container.get("image", "")), task)
    return JobSpec(
        task_arn=task.task_arn,
        account_id=task._account_id,
        region=task.region_name,
        container=name,
        command=tuple(str(part) for part in command),
        environment=environment,
        code=code.code,
        layers=code.layers,
        log_group=options.get("awslogs-group"),
        log_stream_prefix=options.get("awslogs-stream-prefix"),
    )


def _image_code(image: str, task: Any) -> FunctionSpec:
    """The deployed code an image stands for: a Lambda function's ARN names that function's code and layers."""
    from moto.awslambda.utils import get_backend

    if not image.startswith("arn:") or ":lambda:" not in image:
        raise JobStartError(
            f"CannotPullContainerError: the emulator has no image registry, so it runs a task whose container "
            f"image is a Lambda function ARN with that function's deployed code; got {image!r}"
        )
    backend = get_backend(task._account_id, task.region_name)
    try:
        fn = backend.get_function(image, None)
    except Exception as exc:
        raise JobStartError(f"CannotPullContainerError: function {image} does not exist: {exc}") from exc
    return function_spec(fn, backend)


def _camel_keys(value: Any) -> Any:
    """CloudFormation registers a task definition in camelCase, but a stack update keeps its PascalCase keys."""
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:] if isinstance(k, str) else k): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(item) for item in value]
    return value


@functools.cache
def _operation_model(service: str, action: str) -> Any:
    import botocore.session

    name = "".join(part.capitalize() for part in action.split("_"))
    return botocore.session.get_session().get_service_model(service).operation_model(name)


def _normalise_parameters(
    self: Any, parameters: dict[str, Any], boto_service_name: str | None = None, service_action_name: str | None = None
) -> None:
    """Step Functions' PascalCase parameters as boto3 names them (`Cluster` -> `cluster`), by the API's shape."""
    operation = _operation_model(
        self._get_boto_service_name(boto_service_name), self._get_boto_service_action(service_action_name)
    )
    if operation.input_shape is not None:
        self._to_boto_request(parameters, operation.input_shape)


def _normalise_response(
    self: Any, response: Any, boto_service_name: str | None = None, service_action_name: str | None = None
) -> None:
    """boto3's response as Step Functions returns it (`taskArn` -> `TaskArn`, streamed bodies read), in place."""
    operation = _operation_model(
        self._get_boto_service_name(boto_service_name), self._get_boto_service_action(service_action_name)
    )
    if operation.output_shape is not None:
        self._from_boto_response(response, operation.output_shape)


def task_failure(task: Mapping[str, Any]) -> str | None:
    """Why Step Functions fails a stopped task (PascalCase description), or None when it succeeded."""
    if task.get("StopCode") not in (None, "EssentialContainerExited"):
        return f"{task.get('StopCode')}: {task.get('StoppedReason', '')}"
    for container in task.get("Containers") or []:
        if container.get("ExitCode") != 0:
            return f"container {container.get('Name')} exited with {container.get('ExitCode')}"
    return None


def _ecs_sync_resolver(
    self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: Any, state_credentials: Any
) -> Callable[[], Any]:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    submitted = env.stack[-1]["Tasks"][0]
    task_arn, cluster_arn = submitted["TaskArn"], submitted["ClusterArn"]
    resolve = _ORIGINALS["StateTaskServiceEcs._build_sync_resolver"](
        self, env, resource_runtime_part, normalised_parameters, state_credentials
    )
    finished = threading.Event()

    def stop_when_abandoned() -> None:
        # The state's frame ends on States.Timeout or when the execution stops; the task must not outlive it.
        while not finished.wait(_POLL_SECONDS):
            if not env.is_running():
                client = boto_client_for(resource_runtime_part.region, "ecs", state_credentials)
                client.stop_task(cluster=cluster_arn, task=task_arn, reason=ABANDONED_REASON)
                return

    threading.Thread(target=stop_when_abandoned, name=f"sfn-ecs-{task_arn.rsplit('/', 1)[-1]}", daemon=True).start()

    def resolver() -> Any:
        described = resolve()
        if described is None:
            return None
        finished.set()
        if task_failure(described) is None:
            return described
        # As moto's own `batch:submitJob.sync` fails a job that did not succeed.
        raise FailureEventException(
            FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(
                    taskFailedEventDetails=TaskFailedEventDetails(
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                        error=StatesErrorNameType.StatesTaskFailed.to_name(),
                        cause=to_json_str(described),
                    )
                ),
            )
        )

    return resolver
