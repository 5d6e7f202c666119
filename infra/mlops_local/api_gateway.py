"""API Gateway for the emulator: the REST APIs a stack deploys answer on the emulator's own port.

Two URL forms, both LocalStack's, so clients written for LocalStack work unchanged:
- `http://127.0.0.1:<port>/restapis/<api id>/<stage>/_user_request_/<path>`, built by `invoke_url`;
- `http://<api id>.execute-api.localhost.localstack.cloud:<port>/<stage>/<path>` (the Host header decides),
  built by `execute_api_url`.

`ApiGateway` is a WSGI layer in front of moto's app. It answers those requests itself and hands every other
request on. It finds the REST API and its stage in moto's API Gateway backend. It matches the path and method
against the API's resources: a literal part before a `{param}` before a `{proxy+}`, and the method before ANY.
It then invokes the method's AWS_PROXY integration through the emulator's Lambda executor, with a Lambda proxy
event (REST API, payload format 1.0), and turns the function's proxy response into the HTTP answer.

Errors are API Gateway's default gateway responses, `{"message": ...}`:
- no such API or stage: 403 Forbidden;
- no resource and method for the path: 403 Missing Authentication Token;
- a function error or a malformed proxy response: 502 Internal server error;
- no answer within the integration's timeout (`timeoutInMillis`, 29 s by default): 504 Endpoint request timed out.

Where this differs from AWS:
- the function sees header names in canonical case (`Content-Type`), and a repeated header as one
  comma-joined value: the WSGI server in front keeps neither the client's spelling nor the repetition;
- a stage serves the REST API's current resources, not the snapshot its deployment took;
- only AWS_PROXY integrations to Lambda are served; authorizers, API keys, request validators and usage
  plans are not applied.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from mlops_local.lambda_executor import FunctionSpec, InvocationResult, LambdaExecutor

LOG = logging.getLogger(__name__)

USER_REQUEST = "_user_request_"
EXECUTE_API_DOMAIN = "execute-api.localhost.localstack.cloud"
ANY_METHOD = "ANY"
# moto keeps the OpenAPI extension's name as the method of an imported `x-amazon-apigateway-any-method`.
_OPENAPI_ANY_METHOD = "X-AMAZON-APIGATEWAY-ANY-METHOD"
DEFAULT_TIMEOUT_MS = 29_000
# What AWS allows at most in one account at once; threads are made only as requests need them.
MAX_CONCURRENT_INVOCATIONS = 1000
# How long a stage's routes and functions, once read from moto, serve further requests. Any request that may
# change an API or a function (see `_may_change_routes`) forgets them at once; this bounds what nothing announced.
STAGE_CACHE_SECONDS = 1.0
# Services whose writes can change what a stage routes to: the API itself, a stack update, a function's code.
_ROUTING_SERVICES = ("/apigateway/", "/cloudformation/", "/lambda/")
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Request and trace ids need to be unique, not secret: os.urandom costs a system call per request.
_random = random.Random()

_USER_REQUEST_PATH = re.compile(rf"^/restapis/(?P<api>[^/]+)/(?P<stage>[^/]+)/{USER_REQUEST}(?:/.*)?$")
_EXECUTE_API_HOST = re.compile(r"^(?P<api>[A-Za-z0-9]+)\.execute-api\.[A-Za-z0-9.-]+(?::\d+)?$")
_LAMBDA_URI = re.compile(r"^arn:[^:]+:apigateway:[^:]+:lambda:path/[^/]+/functions/(?P<arn>.+)/invocations$")
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
_PROXY_RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
# Not passed to the function: hop-by-hop, and the length of a body the event carries itself.
_DROPPED_REQUEST_HEADERS = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding"})
# A function's own values of these would clash with the server's: API Gateway returns them renamed.
_REMAPPED_RESPONSE_HEADERS = frozenset({"connection", "content-length", "date", "server", "transfer-encoding"})


def invoke_url(endpoint_url: str, api_id: str, stage: str) -> str:
    """The base URL of a deployed stage on the emulator (or LocalStack): append the resource path to it."""
    return f"{endpoint_url.rstrip('/')}/restapis/{api_id}/{stage}/{USER_REQUEST}"


def execute_api_url(endpoint_url: str, api_id: str, stage: str) -> str:
    """The same stage by host name, `<api id>.execute-api.localhost.localstack.cloud` (needs that name to
    resolve to the emulator; LocalStack's public DNS answers 127.0.0.1 for it)."""
    parts = urlsplit(endpoint_url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme or 'http'}://{api_id}.{EXECUTE_API_DOMAIN}{port}/{stage}"


# --- which requests are the gateway's ---------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A request to a deployed stage: the API, the stage and the path below the stage, as sent (not decoded)."""

    api_id: str
    stage: str
    path: str


def gateway_target(environ: Mapping[str, Any]) -> Target | None:
    """The stage a request is for, or None when it is a request to moto's own APIs."""
    raw_path = _raw_path(environ)
    match = _USER_REQUEST_PATH.match(environ.get("PATH_INFO", ""))
    if match is not None:
        below = raw_path.partition(USER_REQUEST)[2]
        return Target(match["api"], match["stage"], below if below.startswith("/") else "/" + below)
    match = _EXECUTE_API_HOST.match(environ.get("HTTP_HOST", ""))
    if match is not None:
        stage, _, below = raw_path.lstrip("/").partition("/")
        return Target(match["api"], stage, "/" + below)
    return None


def _raw_path(environ: Mapping[str, Any]) -> str:
    # API Gateway passes the path as the client sent it, percent-escapes included; PATH_INFO is decoded.
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    return urlsplit(raw).path or "/"


# --- the deployed API, read from moto ---------------------------------------------------------------------


@dataclass(frozen=True)
class DeployedStage:
    """What one invocation needs of a REST API and its stage, as the API Gateway API describes them."""

    api_id: str
    account_id: str
    region: str
    api: Mapping[str, Any]  # GetRestApi's shape: binaryMediaTypes
    stage: Mapping[str, Any]  # GetStage's shape: variables, deploymentId
    resources: list[Mapping[str, Any]]  # GetResources' shape: id, path, resourceMethods


def find_stage(api_id: str, stage_name: str) -> DeployedStage | None:
    """The stage of the REST API with this id, in whichever account and region holds it; None if either is
    missing."""
    from moto.apigateway.exceptions import RestAPINotFound, StageNotFoundException
    from moto.apigateway.models import apigateway_backends

    for attempt in range(3):
        try:
            for account_id, region, backend in list(apigateway_backends.iter_backends()):
                try:
                    api = backend.get_rest_api(api_id)
                except RestAPINotFound:
                    continue
                try:
                    stage = backend.get_stage(api_id, stage_name).to_json()
                except StageNotFoundException:
                    return None
                resources = [resource.to_dict() for resource in backend.get_resources(api_id)]
                return DeployedStage(api_id, account_id, region, api.to_dict(), stage, resources)
            return None
        except RuntimeError:
            # A deploy resized one of moto's dicts while it was read ("changed size during iteration").
            if attempt == 2:
                raise
    return None


# --- routing ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """The resource and method a request matched, with the path parameters taken from the path."""

    resource: Mapping[str, Any]
    method: Mapping[str, Any]
    path_parameters: dict[str, str]


def match_route(resources: Iterable[Mapping[str, Any]], http_method: str, path: str) -> Route | None:
    """The most specific resource whose path matches and that has the method (or ANY); None if there is none.

    Specific means literal parts before `{param}` before `{proxy+}`, part by part from the left; the method
    itself before ANY. A trailing slash is ignored; `{proxy+}` takes one or more whole segments.
    """
    segments = path.rstrip("/").split("/")[1:]
    best: tuple[tuple[tuple[int, ...], int], Route] | None = None
    for resource in resources:
        matched = _match_parts(_parts(resource.get("path", "")), segments)
        if matched is None:
            continue
        rank, parameters = matched
        methods = {_method_name(name): method for name, method in (resource.get("resourceMethods") or {}).items()}
        for name, preference in ((http_method.upper(), 0), (ANY_METHOD, 1)):
            if name in methods:
                key = (rank, preference)
                if best is None or key < best[0]:
                    best = (key, Route(resource, methods[name], parameters))
                break
    return None if best is None else best[1]


def _parts(resource_path: str) -> list[str]:
    return [part for part in resource_path.split("/") if part]


def _method_name(name: str) -> str:
    upper = name.upper()
    return ANY_METHOD if upper == _OPENAPI_ANY_METHOD else upper


def _match_parts(parts: list[str], segments: list[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
    rank: list[int] = []
    parameters: dict[str, str] = {}
    for index, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}"):
            rest = segments[index:]
            if index != len(parts) - 1 or not rest or not any(rest):
                return None
            parameters[part[1:-2]] = "/".join(rest)
            return (*rank, 2), parameters
        if index >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            if not segments[index]:
                return None
            parameters[part[1:-1]] = segments[index]
            rank.append(1)
        elif part == segments[index]:
            rank.append(0)
        else:
            return None
    if len(parts) != len(segments):
        return None
    return tuple(rank), parameters


# --- the Lambda proxy event and response --------------------------------------------------------------------


def media_type_matches(media_type: str | None, binary_media_types: Iterable[str]) -> bool:
    """Whether a Content-Type or the first Accept value is one of the API's binary media types (`*` allowed)."""
    if not media_type:
        return False
    wanted = media_type.split(",")[0].split(";")[0].strip().lower()
    kind, _, subtype = wanted.partition("/")
    for pattern in binary_media_types:
        p_kind, _, p_subtype = pattern.split(";")[0].strip().lower().partition("/")
        if p_kind in ("*", kind) and p_subtype in ("*", subtype):
            return True
    return False


def request_body(data: bytes, content_type: str | None, binary_media_types: Iterable[str]) -> tuple[str | None, bool]:
    """(body, isBase64Encoded): base64 for a binary media type, else text; bytes that are not UTF-8 go as
    base64 rather than being mangled."""
    if not data:
        return None, False
    if not media_type_matches(content_type, binary_media_types):
        try:
            return data.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(data).decode("ascii"), True


def proxy_event(
    request: Request,
    target: Target,
    deployed: DeployedStage,
    route: Route,
    *,
    request_id: str,
    trace_id: str,
    now: float,
) -> dict[str, Any]:
    """The event an AWS_PROXY integration hands the function (REST API, payload format 1.0)."""
    headers = _event_headers(request, trace_id)
    single, multi = _single_and_multi(headers)
    query_single, query_multi = _single_and_multi(request.args.items(multi=True))
    body, is_base64 = request_body(
        request.get_data(cache=False), request.headers.get("Content-Type"), deployed.api.get("binaryMediaTypes") or []
    )
    host = request.headers.get("Host", "")
    domain = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    user_agent = request.headers.get("User-Agent")
    return {
        "resource": route.resource.get("path"),
        "path": target.path,
        "httpMethod": request.method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": query_single or None,
        "multiValueQueryStringParameters": query_multi or None,
        "pathParameters": dict(route.path_parameters) or None,
        "stageVariables": dict(deployed.stage.get("variables") or {}) or None,
        "requestContext": {
            "resourceId": route.resource.get("id"),
            "resourcePath": route.resource.get("path"),
            "httpMethod": request.method,
            "extendedRequestId": f"{_random.getrandbits(64):016x}",
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{target.stage}{target.path}",
            "accountId": deployed.account_id,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "stage": target.stage,
            "domainPrefix": domain.split(".")[0],
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": request.remote_addr,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": user_agent,
                "user": None,
            },
            "domainName": domain,
            "deploymentId": deployed.stage.get("deploymentId"),
            "apiId": target.api_id,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _event_headers(request: Request, trace_id: str) -> list[tuple[str, str]]:
    """The client's headers, then what API Gateway adds: the client address, port, scheme and trace id."""
    forwarded_for = request.headers.get("X-Forwarded-For")
    client = request.remote_addr or ""
    added = {
        "X-Forwarded-For": f"{forwarded_for}, {client}" if forwarded_for else client,
        "X-Forwarded-Port": str(request.environ.get("SERVER_PORT", "")),
        "X-Forwarded-Proto": request.scheme,
        "X-Amzn-Trace-Id": request.headers.get("X-Amzn-Trace-Id") or trace_id,
    }
    skipped = _DROPPED_REQUEST_HEADERS | {name.lower() for name in added}
    return [(name, value) for name, value in request.headers.items() if name.lower() not in skipped] + list(
        added.items()
    )


def _single_and_multi(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    # API Gateway keeps the last of repeated query parameters in the single-value map.
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


class MalformedProxyResponseError(ValueError):
    """The function's answer is not a Lambda proxy response."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def status_line(self) -> str:
        try:
            return f"{self.status} {HTTPStatus(self.status).phrase}"
        except ValueError:
            return f"{self.status} Status {self.status}"


def proxy_answer(payload: bytes, accept: str | None, binary_media_types: Iterable[str]) -> Answer:
    """The HTTP answer for a function's proxy response. Raises MalformedProxyResponseError when it is not one.

    `headers` and `multiValueHeaders` merge, a name in both keeping the multi-value list. A base64 body is
    decoded when the request's first Accept type is a binary media type of the API, else passed on as text.
    """
    try:
        document = json.loads(payload)
    except ValueError as exc:
        raise MalformedProxyResponseError(f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise MalformedProxyResponseError(f"a JSON {type(document).__name__}, not an object")
    unknown = sorted(set(document) - _PROXY_RESPONSE_KEYS)
    if unknown:
        raise MalformedProxyResponseError(f"unexpected field {unknown[0]!r}")
    try:
        status = int(document.get("statusCode") or 200)
    except (TypeError, ValueError) as exc:
        raise MalformedProxyResponseError(f"statusCode {document.get('statusCode')!r} is not a number") from exc
    if not 100 <= status <= 599:
        raise MalformedProxyResponseError(f"statusCode {status} is not an HTTP status")
    merged: dict[str, list[str]] = {}
    for name, value in _header_map(document, "headers").items():
        merged[name] = [_header_value(value)]
    for name, values in _header_map(document, "multiValueHeaders").items():
        if not isinstance(values, list):
            raise MalformedProxyResponseError(f"multiValueHeaders[{name!r}] is not a list")
        merged[name] = [_header_value(value) for value in values]
    body = document.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedProxyResponseError(f"body is a {type(body).__name__}, not a string")
    data = (body or "").encode("utf-8")
    if document.get("isBase64Encoded") is True and media_type_matches(accept, binary_media_types):
        try:
            data = base64.b64decode(data, validate=True)
        except binascii.Error as exc:
            raise MalformedProxyResponseError(f"isBase64Encoded but the body is not base64: {exc}") from exc
    headers: list[tuple[str, str]] = []
    for name, values in merged.items():
        header = f"x-amzn-Remapped-{name}" if name.lower() in _REMAPPED_RESPONSE_HEADERS else name
        headers += [(header, value) for value in values]
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return Answer(status, headers, data)


def _header_map(document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = document.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedProxyResponseError(f"{key} is not an object")
    return value


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.replace("\r", "").replace("\n", "")
    raise MalformedProxyResponseError(f"header value {value!r} is not a string")


def gateway_response(status: int, message: str, request_id: str, error_type: str | None = None) -> Answer:
    """One of API Gateway's default gateway responses."""
    headers = [("Content-Type", "application/json")]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    return Answer(status, headers, json.dumps({"message": message}, separators=(",", ":")).encode())


def lambda_function_arn(uri: str, stage_variables: Mapping[str, str]) -> str | None:
    """The function ARN in an AWS_PROXY integration's URI, stage variables filled in; None for another URI."""
    rendered = _STAGE_VARIABLE.sub(lambda m: str(stage_variables.get(m.group(1), "")), uri or "")
    match = _LAMBDA_URI.match(rendered)
    return match["arn"] if match else None


def trace_id(now: float) -> str:
    return f"Root=1-{int(now):08x}-{_random.getrandbits(96):024x}"


def request_id() -> str:
    """A version 4 UUID, as API Gateway's request ids are."""
    return str(uuid.UUID(int=_random.getrandbits(128), version=4))


# --- the WSGI layer ---------------------------------------------------------------------------------------


class ApiGateway:
    """WSGI middleware: requests to a deployed stage are answered here, through `executor`; the rest go to `app`.

    Put it outside the durability layer: a request to the user API changes no emulator state itself (what the
    function writes arrives as requests of its own), so it never waits for a snapshot.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], executor: LambdaExecutor) -> None:
        self.app = app
        self.executor = executor
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._stages: dict[tuple[str, str], tuple[float, DeployedStage]] = {}
        self._functions: dict[str, tuple[float, FunctionSpec]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = gateway_target(environ)
        if target is None:
            result = self.app(environ, start_response)
            if _may_change_routes(environ):
                # moto has applied the request by now: the next gateway request reads the stage afresh.
                self._stages.clear()
                self._functions.clear()
            return result
        from werkzeug.wrappers import Request

        request = Request(environ)
        rid = request_id()
        answer = self.handle(request, target, rid)
        headers = [*answer.headers, ("x-amzn-RequestId", rid), ("Content-Length", str(len(answer.body)))]
        start_response(answer.status_line, headers)
        return [answer.body]

    def handle(self, request: Request, target: Target, request_id: str) -> Answer:
        deployed = _cached(self._stages, (target.api_id, target.stage), lambda: find_stage(target.api_id, target.stage))
        if deployed is None:
            return gateway_response(403, "Forbidden", request_id, "ForbiddenException")
        route = match_route(deployed.resources, request.method, target.path)
        if route is None:
            return gateway_response(
                403, "Missing Authentication Token", request_id, "MissingAuthenticationTokenException"
            )
        integration = route.method.get("methodIntegration") or {}
        stage_variables = deployed.stage.get("variables") or {}
        function_arn = lambda_function_arn(integration.get("uri", ""), stage_variables)
        if str(integration.get("type", "")).upper() != "AWS_PROXY" or function_arn is None:
            LOG.warning(
                "%s %s on REST API %s: only AWS_PROXY integrations to Lambda are served (this one is %s %s)",
                request.method,
                route.resource.get("path"),
                target.api_id,
                integration.get("type"),
                integration.get("uri"),
            )
            return gateway_response(500, "Internal server error", request_id)
        try:
            spec = _cached(self._functions, function_arn, lambda: deployed_function_spec(function_arn))
        except Exception as exc:
            LOG.warning("REST API %s: cannot invoke %s: %s", target.api_id, function_arn, exc)
            return gateway_response(500, "Internal server error", request_id)
        now = time.time()
        event = proxy_event(request, target, deployed, route, request_id=request_id, trace_id=trace_id(now), now=now)
        timeout = _timeout_seconds(integration.get("timeoutInMillis"))
        future = self._invocations().submit(self.executor.invoke, spec, json.dumps(event), "RequestResponse")
        try:
            result: InvocationResult | None = future.result(timeout=timeout)
        except FutureTimeout:
            LOG.warning("REST API %s: %s did not answer within %.1f s", target.api_id, spec.name, timeout)
            return gateway_response(504, "Endpoint request timed out", request_id)
        except Exception as exc:
            LOG.warning("REST API %s: invoking %s failed: %s", target.api_id, spec.name, exc)
            return gateway_response(502, "Internal server error", request_id)
        if result is None or result.error:
            LOG.warning("REST API %s: %s failed: %s", target.api_id, spec.name, result.payload[:500] if result else b"")
            return gateway_response(502, "Internal server error", request_id)
        try:
            return proxy_answer(
                result.payload, request.headers.get("Accept"), deployed.api.get("binaryMediaTypes") or []
            )
        except MalformedProxyResponseError as exc:
            LOG.warning("REST API %s: malformed Lambda proxy response from %s: %s", target.api_id, spec.name, exc)
            return gateway_response(502, "Internal server error", request_id)

    def _invocations(self) -> ThreadPoolExecutor:
        # Invocations run beside the request thread, so a timeout can answer 504 while the function goes on, as
        # on AWS; the pool is made on first use and its threads as concurrency needs them.
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(MAX_CONCURRENT_INVOCATIONS, thread_name_prefix="api-gateway")
            return self._pool


def _may_change_routes(environ: Mapping[str, Any]) -> bool:
    """A write to API Gateway, CloudFormation or Lambda (by its signature's scope), or a write not signed."""
    if environ.get("REQUEST_METHOD", "GET").upper() in _READ_METHODS:
        return False
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    return not authorization or any(service in authorization for service in _ROUTING_SERVICES)


def _cached(store: dict[Any, tuple[float, Any]], key: Any, load: Callable[[], Any]) -> Any:
    """`load()`, kept for STAGE_CACHE_SECONDS; None (nothing found) is not kept."""
    now = time.monotonic()
    kept = store.get(key)
    if kept is not None and kept[0] > now:
        return kept[1]
    value = load()
    if value is None:
        store.pop(key, None)
    else:
        store[key] = (now + STAGE_CACHE_SECONDS, value)
    return value


def _timeout_seconds(value: Any) -> float:
    try:
        milliseconds = int(value) if value not in (None, "") else DEFAULT_TIMEOUT_MS
    except (TypeError, ValueError):
        milliseconds = DEFAULT_TIMEOUT_MS
    return max(milliseconds, 1) / 1000


def deployed_function_spec(function_arn: str) -> FunctionSpec:
    """The executor's view of the deployed function an ARN names (a version or alias suffix included)."""
    from moto.awslambda.utils import get_backend

    from mlops_local.moto_patches import function_spec

    parts = function_arn.split(":")
    if len(parts) < 7 or parts[2] != "lambda":
        raise LookupError(f"{function_arn} is not a Lambda function ARN")
    region, account_id = parts[3], parts[4]
    qualifier = parts[7] if len(parts) > 7 else None
    backend = get_backend(account_id, region)
    return function_spec(backend.get_function(":".join(parts[:7]), qualifier), backend)
