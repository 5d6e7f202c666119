"""Every monkeypatch the emulator applies to moto 5.2.5, in one place, each with the reason it exists.

These seams are private moto APIs: moto is pinned, and the integration tests fail loudly if one moves.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlops_local.lambda_executor import FunctionSpec, LambdaExecutor, LambdaExecutorError, log_tail

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaBackend, LambdaFunction

_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
_ORIGINALS: dict[str, Any] = {}
_executor: LambdaExecutor | None = None


def apply(executor: LambdaExecutor) -> None:
    """Route moto's Lambda invocations to `executor` and fix its CloudFormation state machines (idempotent)."""
    global _executor
    _executor = executor
    if _ORIGINALS:
        return
    from moto.apigateway.models import RestAPI
    from moto.awslambda.models import LambdaFunction, LayerVersion
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.stepfunctions.models import StateMachine
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    _ORIGINALS["LambdaSimpleBackend.invoke"] = LambdaSimpleBackend.invoke
    _ORIGINALS["LambdaFunction.invoke"] = LambdaFunction.invoke
    # With use_docker false, moto's Invoke API lands here and only echoes the payload back: run the code.
    LambdaSimpleBackend.invoke = _backend_invoke
    # moto's own integrations (S3 and SNS notifications, SQS and DynamoDB stream mappings, log subscriptions,
    # InvokeAsync) call the function model directly, which would try to reach a Docker engine.
    LambdaFunction.invoke = _function_invoke
    # moto's LayerVersion has no physical id, so `!Ref Layer` in a function's Layers resolves to nothing and the
    # function silently loses its layers; on AWS the Ref is the layer version ARN.
    LayerVersion.physical_resource_id = property(lambda self: self.arn)
    # moto's CloudFormation drops a function's Layers property on create (stack updates do apply it).
    _ORIGINALS["LambdaFunction.create_from_cloudformation_json"] = (
        LambdaFunction.create_from_cloudformation_json.__func__
    )
    LambdaFunction.create_from_cloudformation_json = classmethod(_create_function)
    # moto's CloudFormation ignores a table's TimeToLiveSpecification (the pipeline's predictions expire by TTL).
    _ORIGINALS["Table.create_from_cloudformation_json"] = Table.create_from_cloudformation_json.__func__
    Table.create_from_cloudformation_json = classmethod(_create_table)
    # moto's CloudFormation creates state machines in the plain backend, invisible to the executing one that
    # `execute_state_machine` selects, and ignores Definition, DefinitionS3Location and DefinitionSubstitutions.
    StateMachine.create_from_cloudformation_json = classmethod(_create_state_machine)
    StateMachine.update_from_cloudformation_json = classmethod(_update_state_machine)
    StateMachine.delete_from_cloudformation_json = classmethod(_delete_state_machine)
    # SAM's REST APIs carry their routes in an OpenAPI Body and may omit Name, as AWS allows; moto requires Name
    # and ignores Body, so the stack's Deployment then fails with "The REST API doesn't contain any methods".
    _ORIGINALS["RestAPI.create_from_cloudformation_json"] = RestAPI.create_from_cloudformation_json.__func__
    RestAPI.create_from_cloudformation_json = classmethod(_create_rest_api)
    # moto's CloudFormation has no AWS::S3::BucketPolicy (it warns and skips it), so the reports bucket's public
    # read policy never applies and moto, which does enforce bucket policies, answers anonymous GETs with 403.
    _register_bucket_policy_resource()
    # The context object's Execution.StartTime is an ISO 8601 string on AWS; moto passes a datetime, which then
    # breaks DescribeExecution's JSON once a state copies it into the output.
    _ORIGINALS["ExecutionWorker._get_evaluation_environment"] = ExecutionWorker._get_evaluation_environment
    ExecutionWorker._get_evaluation_environment = _evaluation_environment
    # moto's DynamoDB is not thread-safe: TransactWriteItems deep-copies the tables for rollback while another
    # request thread updates them ("dictionary changed size during iteration"). DynamoDB itself serialises
    # conflicting writes, so one lock around the item calls is the faithful fix.
    for name in _DYNAMODB_CALLS:
        _ORIGINALS[f"DynamoDBBackend.{name}"] = getattr(DynamoDBBackend, name)
        setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name)))


def _require_executor() -> LambdaExecutor:
    if _executor is None:
        raise RuntimeError("moto_patches.apply() has not been called")
    return _executor


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


def _create_function(
    cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> LambdaFunction:
    create = _ORIGINALS["LambdaFunction.create_from_cloudformation_json"]
    fn = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    layers = cloudformation_json["Properties"].get("Layers")
    if layers:
        fn.layers = fn._get_layers_data(layers)
    # CloudFormation passes Number parameters through as numbers; Lambda's environment holds strings only.
    if fn.environment_vars:
        fn.environment_vars = {key: str(value) for key, value in fn.environment_vars.items()}
    return fn


def _create_table(
    cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    create = _ORIGINALS["Table.create_from_cloudformation_json"]
    table = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    ttl = cloudformation_json["Properties"].get("TimeToLiveSpecification")
    if ttl:
        dynamodb_backends[account_id][region_name].update_time_to_live(table.name, ttl)
    return table


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
_DYNAMODB_LOCK = threading.RLock()


def _serialised(method: Any) -> Any:
    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_LOCK:
            return method(self, *args, **kwargs)

    return locked


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

    _ORIGINALS["BucketPolicy"] = BucketPolicy
    # moto caches its type map on first use; the new subclass must be in it.
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
