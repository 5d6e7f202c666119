"""redact(): internal addresses and credentials kept out of the public failure report."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from mlops_core.report import ReportLinks, build_report, parse_error, redact, render_report_html
from mlops_core.report.redact import INTERNAL_HOST, INTERNAL_URL, is_internal_host

MLFLOW_DOWN = (
    "API request to http://127.0.0.1:5000/api/2.0/mlflow/registered-models/alias?name=iris&alias=production "
    "failed with exception HTTPConnectionPool(host='127.0.0.1', port=5000): Max retries exceeded with url: "
    "/api/2.0/mlflow/registered-models/alias (Caused by NewConnectionError('<urllib3.connection.HTTPConnection "
    "object at 0x7f3a>: Failed to establish a new connection: [Errno 111] Connection refused'))"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MLFLOW_DOWN, MLFLOW_DOWN.split(" http")[0] + f" {INTERNAL_URL} failed"),
        ('Could not connect to the endpoint URL: "http://localhost:4566/mlops-data"', f'URL: "{INTERNAL_URL}"'),
        ("tracking server http://mlflow:5000/ is down", f"tracking server {INTERNAL_URL} is down"),
        ("http://host.docker.internal:8000/predict.", f"{INTERNAL_URL}."),
        ("(see http://10.1.2.3:9000/x)", f"(see {INTERNAL_URL})"),
        ("http://[::1]:5000/api and http://169.254.169.254/latest", f"{INTERNAL_URL} and {INTERNAL_URL}"),
        ("postgresql://mlflow:secret@postgres:5432/mlflow", INTERNAL_URL),
        ("https://alice:s3cret@mlflow.example.com/#/runs/1", "https://<redacted>@mlflow.example.com/#/runs/1"),
        (
            "https://b.s3.amazonaws.com/k.csv?X-Amz-Credential=AKIA1&X-Amz-Signature=ab12&versionId=3",
            "https://b.s3.amazonaws.com/k.csv?X-Amz-Credential=<redacted>&X-Amz-Signature=<redacted>&versionId=3",
        ),
        ("connect to 127.0.0.1:5000 failed", f"connect to {INTERNAL_HOST} failed"),
        ("reach mlflow.internal:5000 or localhost", f"reach {INTERNAL_HOST} or {INTERNAL_HOST}"),
        ("HTTPConnectionPool(host='mlflow', port=5000)", f"HTTPConnectionPool(host='{INTERNAL_HOST}', port=5000)"),
    ],
)
def test_internal_addresses_and_credentials_are_redacted(text, expected) -> None:
    redacted = redact(text)
    assert expected in redacted or redacted == expected, redacted
    for secret in ("127.0.0.1", "localhost", "secret", "s3cret", "ab12", "10.1.2.3", "mlflow:5000"):
        assert secret not in redacted


@pytest.mark.parametrize(
    "text",
    [
        "batch s3://mlops-data/datasets/iris/current/b.csv lacks columns: petal_width",
        "see https://docs.example.com/errors#drift (8.8.8.8 answered)",
        "pandas 2.1.4 and numpy 1.26.4 on python 3.11",
        "KeyError: 'sepal_length'",
        "",
    ],
)
def test_public_text_stays_as_it_is(text) -> None:
    assert redact(text) == text


def test_what_counts_as_internal() -> None:
    internal = ["127.0.0.1", "10.0.0.8", "192.168.1.2", "172.20.0.5", "0.0.0.0", "[::1]", "localhost", "mlflow"]
    internal += ["mlflow.internal", "box.local", "api.localhost", "svc.localdomain", ""]
    public = ["8.8.8.8", "mlflow.example.com", "s3.amazonaws.com", "abc.execute-api.us-east-1.amazonaws.com"]
    assert all(is_internal_host(host) for host in internal)
    assert not any(is_internal_host(host) for host in public)


FAILED_IN_MLFLOW = {
    "Error": "MlflowException",
    "Cause": json.dumps(
        {
            "errorType": "MlflowException",
            "errorMessage": MLFLOW_DOWN,
            "stackTrace": [
                '  File "/var/task/app.py", line 14, in lambda_handler\n',
                f"    raise MlflowException(msg)  # {MLFLOW_DOWN[:120]}\n",
            ],
        }
    ),
}


def test_a_failure_keeps_its_type_and_message_without_internal_addresses() -> None:
    error = parse_error(FAILED_IN_MLFLOW)
    assert error["type"] == "MlflowException"
    assert error["message"].startswith(f"API request to {INTERNAL_URL} failed with exception HTTPConnectionPool(")
    assert "Connection refused" in error["message"]
    assert "127.0.0.1" not in json.dumps(error)


def test_plain_text_causes_are_redacted_too() -> None:
    error = parse_error({"Error": "States.TaskFailed", "Cause": "endpoint http://127.0.0.1:4566/ unreachable"})
    assert error["message"] == f"endpoint {INTERNAL_URL} unreachable"


def test_the_public_failure_report_json_and_html_hold_no_internal_address() -> None:
    state = {"run_id": "run-1", "error": FAILED_IN_MLFLOW}
    report = build_report(state, now=datetime(2026, 11, 28, 6, tzinfo=UTC), links=ReportLinks())
    page = render_report_html(report)
    for public in (json.dumps(report), page):
        assert "127.0.0.1" not in public and "5000/api" not in public
    assert "Run failed: MlflowException: API request to <internal URL> failed" in report["summary"][0]
