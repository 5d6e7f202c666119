"""/health's verdict and the public reason classes of failures: pure, with stand-ins for the registry and stores."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from mlops_core.api import RegistryUnavailableError, aliases_in, check_health, failure_reason

INTERNAL = "http://127.0.0.1:5000/api/2.0/mlflow/registered-models/alias"


def mlflow_wrapped(error: Exception) -> Exception:
    """What MLflow's REST client raises for a failed request: its own error, raised while handling the cause."""
    from mlflow.exceptions import MlflowException

    try:
        raise error
    except Exception as cause:
        try:
            raise MlflowException(f"API request to {INTERNAL} failed with exception {cause}")
        except MlflowException as wrapped:
            return wrapped


def client_error(code: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": f"see {INTERNAL}"}}, "HeadBucket")


def reasons() -> list[tuple[Exception, str]]:
    import requests
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import PERMISSION_DENIED

    return [
        (
            mlflow_wrapped(requests.exceptions.ConnectionError(f"Max retries exceeded with url: {INTERNAL}")),
            "unreachable",
        ),
        (mlflow_wrapped(requests.exceptions.ReadTimeout(f"read timed out: {INTERNAL}")), "timed out"),
        (requests.exceptions.ConnectTimeout(INTERNAL), "timed out"),
        (ConnectionRefusedError(111, "Connection refused"), "unreachable"),
        (TimeoutError("timed out"), "timed out"),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/"), "unreachable"),
        (ConnectTimeoutError(endpoint_url="http://127.0.0.1:4566/"), "timed out"),
        (client_error("ResourceNotFoundException"), "refused (ResourceNotFoundException)"),
        (client_error("404"), "refused (404)"),
        (MlflowException(f"denied at {INTERNAL}", error_code=PERMISSION_DENIED), "refused (PERMISSION_DENIED)"),
        (MlflowException(f"boom at {INTERNAL}"), "failed (MlflowException)"),
        (client_error(f"odd code {INTERNAL}"), "failed (ClientError)"),
        (RegistryUnavailableError("no model can serve"), "failed (RegistryUnavailableError)"),
        (ValueError(INTERNAL), "failed (ValueError)"),
    ]


def test_failure_reasons_are_short_classes_that_never_carry_the_message() -> None:
    for error, reason in reasons():
        assert failure_reason(error) == reason, repr(error)
        assert "127.0.0.1" not in failure_reason(error)


def test_a_chain_is_classified_by_its_outermost_network_error() -> None:
    try:
        try:
            raise ConnectionRefusedError("refused")
        except ConnectionRefusedError as cause:
            raise RegistryUnavailableError("no model can serve") from cause
    except RegistryUnavailableError as error:
        assert failure_reason(error) == "unreachable"


def fails(error: Exception):
    def probe():
        raise error

    return probe


def ok() -> None:
    return None


BOTH = {"production": "3", "staging": "4"}
DOWN = ConnectionRefusedError(111, f"cannot reach {INTERNAL}")


@pytest.mark.parametrize(
    ("serving", "aliases", "storage", "status", "state", "reason"),
    [
        (BOTH, BOTH, ok, 200, "ready", None),
        ({"production": "3"}, {"production": "3"}, ok, 200, "ready", None),
        ({"production": "3"}, BOTH, ok, 200, "degraded", "staging v4 not loaded"),
        (BOTH, DOWN, ok, 200, "degraded", "registry unreachable"),
        ({"production": "3"}, DOWN, ok, 200, "degraded", "registry unreachable"),
        (BOTH, BOTH, fails(client_error("404")), 200, "degraded", "bucket refused (404)"),
        ({}, {}, ok, 503, "unavailable", "no model can serve: no model registered yet"),
        (DOWN, DOWN, ok, 503, "unavailable", "no model can serve: loading models failed (unreachable); registry"),
        ({}, BOTH, ok, 503, "unavailable", "no model can serve: production v3 not loaded; staging v4 not loaded"),
    ],
)
def test_ready_degraded_and_unavailable(serving, aliases, storage, status, state, reason) -> None:
    def answer(value):
        return fails(value) if isinstance(value, Exception) else lambda: value

    code, body = check_health(answer(serving), answer(aliases), {"bucket": storage})

    assert (code, body["status"]) == (status, state)
    assert (body.get("reason") is None) if reason is None else body["reason"].startswith(reason)
    assert body["models"] == ({} if isinstance(serving, Exception) else serving)
    assert body["registry"] == (
        {"ok": False, "error": "unreachable"} if aliases is DOWN else {"ok": True, "aliases": aliases}
    )
    assert "127.0.0.1" not in json.dumps(body)


def test_aliases_in_asks_the_registry_for_each_variant() -> None:
    versions = {"production": SimpleNamespace(version=7), "staging": None}
    registry = SimpleNamespace(version_for=versions.__getitem__)
    assert aliases_in(registry) == {"production": "7"}
