"""A REST API deployed from an OpenAPI body answers on the emulator's port, as API Gateway would: Lambda proxy
events (payload 1.0) into the emulator's Lambda executor, proxy responses back, API Gateway's errors."""

from __future__ import annotations

import base64
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from mlops_local.api_gateway import EXECUTE_API_DOMAIN, ApiGateway, execute_api_url, invoke_url
from mlops_local.durability import DurableApp, WriteGate
from werkzeug.test import Client

pytestmark = pytest.mark.integration

STAGE = "test"
BINARY = bytes(range(256))
HANDLER = """
import base64
import json
import os
import time


def handler(event, context):
    path = event["path"]
    query = event["queryStringParameters"] or {}
    if path == "/error":
        raise RuntimeError("the function failed")
    if path == "/respond":
        return json.loads(event["body"])
    if path == "/binary":
        body = base64.b64encode(bytes(range(256))).decode()
        return {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"}, "body": body,
                "isBase64Encoded": True}
    if path in ("/integration-timeout", "/function-timeout"):
        time.sleep(float(query["seconds"]))
    if path == "/meet":
        return meet(query, context)
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}


# Check in under the folder, then wait (up to `seconds`) until `expected` invocations have checked in.
def meet(query, context):
    started = time.time()
    folder = query["folder"]
    open(os.path.join(folder, context.aws_request_id), "w").close()
    deadline = time.monotonic() + float(query["seconds"])
    while len(os.listdir(folder)) < int(query["expected"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    result = {"pid": os.getpid(), "met": len(os.listdir(folder)), "started": started, "ended": time.time()}
    return {"statusCode": 200, "body": json.dumps(result)}
"""


@dataclass(frozen=True)
class DeployedApi:
    api_id: str
    url: str  # the stage's invoke URL
    function_arn: str
    port: int

    @property
    def function(self) -> str:
        return self.function_arn.split(":")[6]


def lambda_uri(region: str, function_arn: str) -> str:
    return f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"


def proxy(uri: str, timeout_ms: int | None = None) -> dict[str, Any]:
    """An OpenAPI operation integrated as SAM writes it: aws_proxy, POST to the function."""
    integration: dict[str, Any] = {"type": "aws_proxy", "httpMethod": "POST", "uri": uri}
    if timeout_ms is not None:
        integration["timeoutInMillis"] = timeout_ms
    return {"x-amazon-apigateway-integration": integration, "responses": {}}


def openapi(region: str, echo_arn: str, slow_arn: str) -> dict[str, Any]:
    echo = proxy(lambda_uri(region, echo_arn))
    return {
        "openapi": "3.0.1",
        "info": {"title": "gateway-test", "version": "1.0"},
        "paths": {
            "/echo": {"get": echo, "post": echo},
            "/items/{id}": {"x-amazon-apigateway-any-method": echo},
            "/items/special": {"get": echo},
            "/files/{proxy+}": {"x-amazon-apigateway-any-method": echo},
            "/respond": {"post": echo},
            "/error": {"get": echo},
            "/binary": {"get": echo},
            "/meet": {"get": echo},
            "/integration-timeout": {"get": proxy(lambda_uri(region, echo_arn), timeout_ms=500)},
            "/function-timeout": {"get": proxy(lambda_uri(region, slow_arn))},
            "/by-stage-variable": {"get": proxy(lambda_uri(region, "${stageVariables.function}"))},
        },
    }


def create_function(emulator: Any, make_zip: Any, role: str, timeout: int) -> str:
    name = f"gw-{uuid.uuid4().hex[:10]}"
    emulator.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": HANDLER})},
        Timeout=timeout,
        MemorySize=128,
    )
    return emulator.client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]


@pytest.fixture(scope="module")
def api(emulator: Any, make_zip: Any, lambda_role: str) -> DeployedApi:
    echo_arn = create_function(emulator, make_zip, lambda_role, timeout=60)
    slow_arn = create_function(emulator, make_zip, lambda_role, timeout=1)
    apigateway = emulator.client("apigateway")
    api_id = apigateway.create_rest_api(name=f"gateway-test-{uuid.uuid4().hex[:6]}")["id"]
    # AWS names the type in the path (application~1octet-stream); moto reads the value.
    apigateway.update_rest_api(
        restApiId=api_id,
        patchOperations=[
            {"op": "add", "path": "/binaryMediaTypes/application~1octet-stream", "value": "application/octet-stream"}
        ],
    )
    body = json.dumps(openapi(emulator.region, echo_arn, slow_arn))
    apigateway.put_rest_api(restApiId=api_id, mode="overwrite", body=body.encode())
    apigateway.create_deployment(restApiId=api_id, stageName=STAGE, variables={"function": echo_arn, "colour": "blue"})
    return DeployedApi(api_id, invoke_url(emulator.endpoint_url, api_id, STAGE), echo_arn, emulator.port)


@pytest.fixture(scope="module")
def http() -> requests.Session:
    return requests.Session()


def event_of(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


# --- the event ---------------------------------------------------------------------------------------------


def test_the_event_is_a_rest_api_proxy_event(api: DeployedApi, http: requests.Session) -> None:
    response = http.get(f"{api.url}/echo", headers={"User-Agent": "gateway-test/1.0"})
    event = event_of(response)

    assert set(event) == {
        "resource",
        "path",
        "httpMethod",
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
        "requestContext",
        "body",
        "isBase64Encoded",
    }
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/echo", "/echo", "GET")
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    assert event["stageVariables"] == {"function": api.function_arn, "colour": "blue"}
    assert (event["body"], event["isBase64Encoded"]) == (None, False)
    context = event["requestContext"]
    assert context["resourcePath"] == "/echo"
    assert context["httpMethod"] == "GET"
    assert context["stage"] == STAGE
    assert context["path"] == f"/{STAGE}/echo"
    assert context["apiId"] == api.api_id
    assert context["protocol"] == "HTTP/1.1"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "gateway-test/1.0"
    assert context["accountId"] == "123456789012"
    assert isinstance(context["requestTimeEpoch"], int) and context["requestTimeEpoch"] > 0
    assert context["requestId"] == response.headers["x-amzn-RequestId"]
    assert uuid.UUID(context["requestId"])


def test_headers_arrive_with_what_api_gateway_adds(api: DeployedApi, http: requests.Session) -> None:
    event = event_of(http.get(f"{api.url}/echo", headers={"X-User-Id": "u-42", "Authorization": "Bearer k"}))

    headers = event["headers"]
    assert headers["X-User-Id"] == "u-42"
    assert headers["Authorization"] == "Bearer k"
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Forwarded-Port"] == str(api.port)
    assert headers["X-Amzn-Trace-Id"].startswith("Root=1-")
    assert "Connection" not in headers and "Content-Length" not in headers
    assert event["multiValueHeaders"] == {name: [value] for name, value in headers.items()}


def test_query_strings_single_and_multi_value(api: DeployedApi, http: requests.Session) -> None:
    event = event_of(http.get(f"{api.url}/echo?tag=a&tag=b&q=two%20words&empty="))

    # The single-value map keeps the last of repeated parameters, as API Gateway does.
    assert event["queryStringParameters"] == {"tag": "b", "q": "two words", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "q": ["two words"], "empty": [""]}


def test_path_parameters_and_the_most_specific_resource(api: DeployedApi, http: requests.Session) -> None:
    item = event_of(http.delete(f"{api.url}/items/42"))
    special = event_of(http.get(f"{api.url}/items/special"))
    files = event_of(http.put(f"{api.url}/files/a/b/c.txt"))

    assert (item["resource"], item["pathParameters"], item["httpMethod"]) == ("/items/{id}", {"id": "42"}, "DELETE")
    assert (special["resource"], special["pathParameters"]) == ("/items/special", None)
    assert files["resource"] == "/files/{proxy+}"
    assert files["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert files["path"] == "/files/a/b/c.txt"
    assert files["requestContext"]["resourcePath"] == "/files/{proxy+}"


def test_a_trailing_slash_reaches_the_same_resource(api: DeployedApi, http: requests.Session) -> None:
    event = event_of(http.get(f"{api.url}/echo/"))

    assert (event["resource"], event["path"]) == ("/echo", "/echo/")


def test_a_json_body_arrives_as_text(api: DeployedApi, http: requests.Session) -> None:
    event = event_of(http.post(f"{api.url}/echo", json={"features": {"a": 1.5}, "user": "ü"}))

    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"features": {"a": 1.5}, "user": "ü"}
    assert event["headers"]["Content-Type"] == "application/json"


def test_a_binary_media_type_arrives_base64_encoded(api: DeployedApi, http: requests.Session) -> None:
    event = event_of(http.post(f"{api.url}/echo", data=BINARY, headers={"Content-Type": "application/octet-stream"}))

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == BINARY


def test_bytes_that_are_not_utf8_arrive_base64_encoded_whatever_the_type(
    api: DeployedApi, http: requests.Session
) -> None:
    event = event_of(http.post(f"{api.url}/echo", data=b"\xff\xfe\x00", headers={"Content-Type": "text/plain"}))

    assert (event["isBase64Encoded"], base64.b64decode(event["body"])) == (True, b"\xff\xfe\x00")


def test_a_function_chosen_by_stage_variable(api: DeployedApi, http: requests.Session) -> None:
    event = event_of(http.get(f"{api.url}/by-stage-variable"))

    assert event["resource"] == "/by-stage-variable"


def test_the_host_name_form_reaches_the_same_stage(api: DeployedApi, http: requests.Session) -> None:
    host = f"{api.api_id}.{EXECUTE_API_DOMAIN}:{api.port}"
    assert execute_api_url(f"http://127.0.0.1:{api.port}", api.api_id, STAGE) == f"http://{host}/{STAGE}"

    event = event_of(http.get(f"http://127.0.0.1:{api.port}/{STAGE}/items/7?x=1", headers={"Host": host}))

    assert (event["resource"], event["path"], event["pathParameters"]) == ("/items/{id}", "/items/7", {"id": "7"})
    assert event["requestContext"]["path"] == f"/{STAGE}/items/7"
    assert event["requestContext"]["domainName"] == host.rsplit(":", 1)[0]


# --- the response ------------------------------------------------------------------------------------------


def respond(api: DeployedApi, http: requests.Session, proxy_response: Any) -> requests.Response:
    """The function answers with `proxy_response` as it is."""
    return http.post(f"{api.url}/respond", json=proxy_response)


def test_status_headers_and_body_come_back(api: DeployedApi, http: requests.Session) -> None:
    response = respond(
        api,
        http,
        {
            "statusCode": 201,
            "headers": {"X-One": "1", "X-Flag": True, "Content-Type": "text/plain; charset=utf-8"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": "créé",
        },
    )

    assert response.status_code == 201
    assert response.headers["X-One"] == "1"
    assert response.headers["X-Flag"] == "true"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert response.content == "créé".encode()


def test_a_response_without_content_type_is_json_and_defaults_to_200(api: DeployedApi, http: requests.Session) -> None:
    response = respond(api, http, {"body": '{"ok": true}'})

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"ok": True}


def test_a_multi_value_header_wins_over_the_single_one(api: DeployedApi, http: requests.Session) -> None:
    response = respond(api, http, {"headers": {"X-Both": "single"}, "multiValueHeaders": {"X-Both": ["m1", "m2"]}})

    assert response.raw.headers.getlist("X-Both") == ["m1", "m2"]


def test_a_base64_body_is_binary_only_for_an_accept_of_a_binary_type(api: DeployedApi, http: requests.Session) -> None:
    binary = http.get(f"{api.url}/binary", headers={"Accept": "application/octet-stream"})
    text = http.get(f"{api.url}/binary", headers={"Accept": "*/*"})

    assert (binary.status_code, binary.content) == (200, BINARY)
    assert binary.headers["Content-Type"] == "application/octet-stream"
    # API Gateway decides by the first Accept type; */* is not among the API's binary media types.
    assert base64.b64decode(text.content) == BINARY


# --- errors ------------------------------------------------------------------------------------------------


def assert_gateway_error(response: requests.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"message": message}
    assert response.headers["Content-Type"] == "application/json"


def test_a_function_error_is_a_502(api: DeployedApi, http: requests.Session) -> None:
    assert_gateway_error(http.get(f"{api.url}/error"), 502, "Internal server error")


@pytest.mark.parametrize(
    "proxy_response",
    [
        "not an object",
        {"statusCode": 200, "body": {"a": "dict"}},
        {"statusCode": 200, "unexpected": True},
        {"statusCode": "two hundred"},
        {"headers": {"X-Number": 3}},
        {"multiValueHeaders": {"X-List": "not a list"}},
    ],
)
def test_a_malformed_proxy_response_is_a_502(api: DeployedApi, http: requests.Session, proxy_response: Any) -> None:
    assert_gateway_error(respond(api, http, proxy_response), 502, "Internal server error")


def test_no_answer_within_the_integration_timeout_is_a_504(api: DeployedApi, http: requests.Session) -> None:
    response = http.get(f"{api.url}/integration-timeout?seconds=3")

    assert_gateway_error(response, 504, "Endpoint request timed out")


def test_the_function_timing_out_first_is_a_502(api: DeployedApi, http: requests.Session) -> None:
    assert_gateway_error(http.get(f"{api.url}/function-timeout?seconds=3"), 502, "Internal server error")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nowhere"), ("GET", "/"), ("DELETE", "/echo"), ("GET", "/files"), ("GET", "/items/1/extra")],
)
def test_a_route_the_api_lacks_is_missing_authentication_token(
    api: DeployedApi, http: requests.Session, method: str, path: str
) -> None:
    response = http.request(method, f"{api.url}{path}")

    assert_gateway_error(response, 403, "Missing Authentication Token")
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_an_unknown_stage_or_api_is_forbidden(emulator: Any, api: DeployedApi, http: requests.Session) -> None:
    for url in (
        invoke_url(emulator.endpoint_url, api.api_id, "nostage"),
        invoke_url(emulator.endpoint_url, "x1", STAGE),
    ):
        response = http.get(f"{url}/echo")
        assert_gateway_error(response, 403, "Forbidden")
        assert response.headers["x-amzn-ErrorType"] == "ForbiddenException"


def test_moto_still_answers_its_own_api_gateway_api(emulator: Any, api: DeployedApi) -> None:
    stages = emulator.client("apigateway").get_stages(restApiId=api.api_id)["item"]

    assert [stage["stageName"] for stage in stages] == [STAGE]


# --- the API's life in CloudFormation --------------------------------------------------------------------


def stack_template(region: str, function_arn: str, paths: list[str], deployment: str, colour: str) -> str:
    """A REST API from an OpenAPI Body, a Deployment and a Stage naming it: what SAM makes of a Serverless::Api."""
    body = {
        "openapi": "3.0.1",
        "info": {"title": "gateway-stack", "version": "1.0"},
        "paths": {path: {"get": proxy(lambda_uri(region, function_arn))} for path in paths},
    }
    return json.dumps(
        {
            "Resources": {
                "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Body": body}},
                deployment: {"Type": "AWS::ApiGateway::Deployment", "Properties": {"RestApiId": {"Ref": "Api"}}},
                "Stage": {
                    "Type": "AWS::ApiGateway::Stage",
                    "Properties": {
                        "RestApiId": {"Ref": "Api"},
                        "StageName": "live",
                        "DeploymentId": {"Ref": deployment},
                        "Variables": {"colour": colour},
                    },
                },
            },
            "Outputs": {"ApiId": {"Value": {"Ref": "Api"}}, "Stage": {"Value": {"Ref": "Stage"}}},
        }
    )


def stack_outputs(cloudformation: Any, name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}, stack["StackStatus"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}


def test_a_stack_creates_updates_and_deletes_the_api_and_its_stage(
    emulator: Any, api: DeployedApi, http: requests.Session
) -> None:
    cloudformation = emulator.client("cloudformation")
    name = f"gateway-{uuid.uuid4().hex[:8]}"
    region = emulator.region
    cloudformation.create_stack(
        StackName=name, TemplateBody=stack_template(region, api.function_arn, ["/echo"], "DeploymentA", "green")
    )
    outputs = stack_outputs(cloudformation, name)
    url = invoke_url(emulator.endpoint_url, outputs["ApiId"], outputs["Stage"])
    assert outputs["Stage"] == "live"
    assert event_of(http.get(f"{url}/echo"))["stageVariables"] == {"colour": "green"}
    assert http.get(f"{url}/added").status_code == 403

    # A route added, so SAM would name a new deployment: the API keeps its id, the stage follows at once.
    cloudformation.update_stack(
        StackName=name,
        TemplateBody=stack_template(region, api.function_arn, ["/echo", "/added"], "DeploymentB", "red"),
    )
    assert stack_outputs(cloudformation, name)["ApiId"] == outputs["ApiId"]
    added = event_of(http.get(f"{url}/added"))
    assert (added["resource"], added["stageVariables"]) == ("/added", {"colour": "red"})

    cloudformation.delete_stack(StackName=name)
    assert_gateway_error(http.get(f"{url}/echo"), 403, "Forbidden")


def test_routes_put_through_the_api_answer_at_once(emulator: Any, api: DeployedApi, http: requests.Session) -> None:
    apigateway = emulator.client("apigateway")
    api_id = apigateway.create_rest_api(name=f"gateway-put-{uuid.uuid4().hex[:6]}")["id"]
    first = {
        "openapi": "3.0.1",
        "info": {"title": "t", "version": "1"},
        "paths": {"/one": {"get": proxy(lambda_uri(emulator.region, api.function_arn))}},
    }
    apigateway.put_rest_api(restApiId=api_id, mode="overwrite", body=json.dumps(first).encode())
    apigateway.create_deployment(restApiId=api_id, stageName=STAGE)
    url = invoke_url(emulator.endpoint_url, api_id, STAGE)
    assert event_of(http.get(f"{url}/one"))["resource"] == "/one"

    second = {**first, "paths": {"/two": first["paths"]["/one"]}}
    apigateway.put_rest_api(restApiId=api_id, mode="overwrite", body=json.dumps(second).encode())

    assert event_of(http.get(f"{url}/two"))["resource"] == "/two"
    assert http.get(f"{url}/one").status_code == 403


# --- the executor behind it --------------------------------------------------------------------------------


def test_concurrent_requests_run_on_parallel_warm_workers(api: DeployedApi, tmp_path: Path) -> None:
    # Each invocation checks in and waits for all the others: served one after another, none would meet the rest.
    # Four: the most workers the executor gives one function on a 2-core machine.
    clients = 4
    query = {"folder": str(tmp_path), "expected": clients, "seconds": 60}

    def call(_: int) -> dict[str, Any]:
        response = requests.get(f"{api.url}/meet", params=query, timeout=120)
        assert response.status_code == 200, response.text
        return response.json()

    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(call, range(clients)))

    assert [result["met"] for result in results] == [clients] * clients
    assert len({result["pid"] for result in results}) == clients
    # As the functions saw it: every one started before any ended.
    assert max(result["started"] for result in results) < min(result["ended"] for result in results)


def test_many_concurrent_clients_get_no_errors(api: DeployedApi) -> None:
    def call(n: int) -> int:
        with requests.Session() as session:
            statuses = [session.get(f"{api.url}/items/{n}-{i}").status_code for i in range(5)]
        return sum(status != 200 for status in statuses)

    with ThreadPoolExecutor(32) as pool:
        failures = sum(pool.map(call, range(32)))

    assert failures == 0


def test_invocations_go_through_the_emulators_lambda_executor(
    emulator: Any, api: DeployedApi, http: requests.Session
) -> None:
    request_id = event_of(http.get(f"{api.url}/echo"))["requestContext"]["requestId"]
    assert request_id

    logs = emulator.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{api.function}")["events"]

    assert any(event["message"].startswith("START RequestId: ") for event in logs)


# --- the WSGI layer ----------------------------------------------------------------------------------------


class RecordingCommitter:
    def __init__(self) -> None:
        self.writes = 0

    def note_write(self) -> int:
        self.writes += 1
        return self.writes

    def wait_durable(self, ticket: int) -> bool:
        return True

    def mark_dirty(self) -> None:
        pass


def test_a_request_to_a_stage_never_reaches_the_durability_layer() -> None:
    reached: list[str] = []

    def moto(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        reached.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"moto"]

    committer = RecordingCommitter()
    client = Client(ApiGateway(DurableApp(moto, WriteGate(), committer), executor=None))  # type: ignore[arg-type]

    gateway = client.post(f"/restapis/nosuchapi/{STAGE}/_user_request_/predict", data=b"{}")
    plain = client.post("/", data=b"Action=CreateStack", content_type="application/x-www-form-urlencoded")

    assert gateway.status_code == 403  # answered by the gateway: no such API in this process
    assert plain.status_code == 200
    assert reached == ["/"]
    assert committer.writes == 1  # the CreateStack only: the user API's POST waited for no snapshot
