"""Property-based fuzzing of every operation in app/openapi.yaml through the Chalice app in process:
no 5xx, and every status, content type and body conforms to the document."""

from __future__ import annotations

import base64
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from test_api_routes import (  # noqa: F401 (fixtures)
    IRIS_ROW,
    chalice_app,
    client,
    clock,
    put_report,
    registry_template,
)

OPENAPI = Path(__file__).resolve().parents[2] / "app" / "openapi.yaml"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def wsgi(app_object: Any) -> Any:
    """A WSGI face on Chalice's own API Gateway emulation (what chalice.test.Client drives), so schemathesis
    reaches the app in process through the same routing, events and handler."""
    from chalice.config import Config
    from chalice.local import LocalGateway, LocalGatewayException

    gateway = LocalGateway(app_object, Config.create())

    def application(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        path = environ.get("RAW_URI") or quote(environ.get("PATH_INFO", "/"))
        if "?" not in path and environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        try:
            response = gateway.handle_request(environ["REQUEST_METHOD"], path, headers, body)
            status, payload = response["statusCode"], response.get("body") or ""
            all_headers = {**response["headers"], **response["multiValueHeaders"]}
        except LocalGatewayException as error:  # API Gateway's own refusals, e.g. an unknown route
            status, payload, all_headers = error.CODE, error.body or b"", dict(error.headers)
            response = {}
        if response.get("isBase64Encoded"):
            payload = base64.b64decode(payload)
        header_list = []
        for name, value in all_headers.items():
            header_list.extend((name, str(item)) for item in (value if isinstance(value, list) else [value]))
        start_response(f"{status} {HTTPStatus(status).phrase}", header_list)
        return [payload.encode() if isinstance(payload, str) else payload]

    return application


SCHEMA = schemathesis.openapi.from_path(str(OPENAPI))


@pytest.fixture
def fuzz_app(chalice_app: Any) -> Any:  # noqa: F811
    """The schema pointed at this test's app, with a report in S3 so the report routes can answer 200."""
    put_report("2026-01-01T06-00-00Z-run")
    return wsgi(chalice_app.app)


@SCHEMA.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_and_never_fails(fuzz_app: Any, case: Any) -> None:
    case.call_and_validate(checks=CHECKS, app=fuzz_app)


def test_the_document_lists_every_route(chalice_app: Any) -> None:  # noqa: F811
    import yaml

    document = yaml.safe_load(OPENAPI.read_text())
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    routed = {(path, method) for path, methods in chalice_app.app.routes.items() for method in methods}
    assert documented == routed


def test_a_valid_prediction_conforms(fuzz_app: Any) -> None:
    operation = SCHEMA["/predict"]["POST"]
    case = operation.Case(body={"features": IRIS_ROW}, media_type="application/json")
    response = case.call_and_validate(checks=CHECKS, app=fuzz_app)
    assert response.status_code == 200


def test_a_routed_batch_and_feedback_on_it_conform(fuzz_app: Any) -> None:
    predict = SCHEMA["/predict"]["POST"].Case(
        body={"instances": [IRIS_ROW] * 6, "user_ids": [f"u-{i}" for i in range(6)]}, media_type="application/json"
    )
    predictions = predict.call_and_validate(checks=CHECKS, app=fuzz_app).json()["predictions"]
    assert {item["variant"] for item in predictions} == {"production", "staging"}
    ids = [item["prediction_id"] for item in predictions]
    single = SCHEMA["/feedback"]["POST"].Case(
        body={"prediction_id": ids[0], "label": "setosa"}, media_type="application/json"
    )
    assert single.call_and_validate(checks=CHECKS, app=fuzz_app).status_code == 200
    items = [{"prediction_id": i, "label": "setosa"} for i in ids] + [{"prediction_id": "x.y", "label": 3}]
    batch = SCHEMA["/feedback"]["POST"].Case(body={"feedback": items}, media_type="application/json")
    body = batch.call_and_validate(checks=CHECKS, app=fuzz_app).json()
    assert (body["recorded"], body["duplicates"], body["rejected"]) == (5, 1, 1)
