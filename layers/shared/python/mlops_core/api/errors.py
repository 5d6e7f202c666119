"""The one place where library errors become HTTP statuses and JSON error bodies.

Error bodies never echo input at length: a field name, value or label quoted in a message is cut to
MAX_ECHO characters (`mlops_core.quoting.echo`, used where messages are written), and every body is bounded
here again, field MAX_ECHO and message MAX_MESSAGE characters, whatever raised it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from mlops_core.api.exceptions import (
    AuthenticationError,
    ManagementDisabledError,
    PermissionDeniedError,
    RegistryUnavailableError,
)
from mlops_core.exceptions import (
    ConfigurationError,
    DataValidationError,
    InvalidRequestError,
    MlopsError,
    NoModelError,
    NotFoundError,
)
from mlops_core.quoting import clip

# Most specific first: the first class the error is an instance of decides.
_STATUS_BY_ERROR: tuple[tuple[type[MlopsError], int], ...] = (
    (InvalidRequestError, 400),
    (DataValidationError, 400),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (NoModelError, 503),
    (RegistryUnavailableError, 503),
    (ManagementDisabledError, 503),
    (ConfigurationError, 503),
)
# Any other deliberate library error is a refusal given the current state (e.g. nothing to roll back to).
_DEFAULT_STATUS = 409
MAX_MESSAGE = 2000


# Failures of the network, by class name anywhere in the MRO so no client library need be imported: Python's,
# requests', urllib3's and botocore's timeouts; their connection errors, urllib3's retries, DNS lookups.
_TIMEOUT_TYPES = frozenset({"TimeoutError", "Timeout", "ReadTimeoutError", "ConnectTimeoutError"})
_UNREACHABLE_TYPES = frozenset(
    {"ConnectionError", "NewConnectionError", "MaxRetryError", "EndpointConnectionError", "gaierror"}
)
_CODE = re.compile(r"^[A-Za-z0-9_.]{1,64}$")
_NOT_A_REFUSAL = frozenset({"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE"})


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and the errors it was raised from or while handling, each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _type_names(error: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(error).__mro__}


def _error_code(error: BaseException) -> str | None:
    """The service's own error code: botocore's ClientError code, MLflow's error_code."""
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, Mapping) else None
    code = code if code is not None else getattr(error, "error_code", None)
    return str(code) if code is not None and _CODE.match(str(code)) else None


def failure_reason(error: BaseException) -> str:
    """A short, public class of failure for an exception, its causes considered; never its message."""
    # The outermost network error decides: requests' ConnectionError wraps a urllib3 error named a timeout.
    for link in _chain(error):
        names = _type_names(link)
        if names & _TIMEOUT_TYPES:
            return "timed out"
        if names & _UNREACHABLE_TYPES:
            return "unreachable"
    code = _error_code(error)
    if code is not None and code not in _NOT_A_REFUSAL:
        return f"refused ({code})"
    return f"failed ({type(error).__name__})"


def http_status(error: MlopsError) -> int:
    for error_class, status in _STATUS_BY_ERROR:
        if isinstance(error, error_class):
            return status
    return _DEFAULT_STATUS


def error_body(error: MlopsError) -> dict[str, Any]:
    """`{"error": message}` plus `field` when the error names the culprit."""
    body: dict[str, Any] = {"error": clip(str(error) or type(error).__name__, MAX_MESSAGE)}
    field = getattr(error, "field", None)
    if field is not None:
        body["field"] = clip(str(field))
    return body


def to_http(error: MlopsError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, JSON body and extra headers for a library error."""
    status = http_status(error)
    headers = {"WWW-Authenticate": 'Bearer realm="mlops-management"'} if status == 401 else {}
    return status, error_body(error), headers
