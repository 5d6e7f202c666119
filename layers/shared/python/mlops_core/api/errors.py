"""The one place where library errors become HTTP statuses and JSON error bodies.

Error bodies never echo input at length: a field name, value or label quoted in a message is cut to
MAX_ECHO characters (`echo`, used where messages are written), and every body is bounded here again, field
MAX_ECHO and message MAX_MESSAGE characters, whatever raised it.
"""

from __future__ import annotations

from typing import Any

from mlops_core.api.exceptions import AuthenticationError, ManagementDisabledError, PermissionDeniedError
from mlops_core.exceptions import (
    ConfigurationError,
    DataValidationError,
    InvalidRequestError,
    MlopsError,
    NoModelError,
    NotFoundError,
)

# Most specific first: the first class the error is an instance of decides.
_STATUS_BY_ERROR: tuple[tuple[type[MlopsError], int], ...] = (
    (InvalidRequestError, 400),
    (DataValidationError, 400),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (NoModelError, 503),
    (ManagementDisabledError, 503),
    (ConfigurationError, 503),
)
# Any other deliberate library error is a refusal given the current state (e.g. nothing to roll back to).
_DEFAULT_STATUS = 409
MAX_ECHO = 100
MAX_MESSAGE = 2000


def clip(text: str, limit: int = MAX_ECHO) -> str:
    """`text` when it has at most `limit` characters, else its start, an ellipsis and its length."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def echo(value: Any, limit: int = MAX_ECHO) -> str:
    """How a message quotes input: repr() of at most `limit` characters of it, then how long it really was."""
    text = value if isinstance(value, str) else repr(value)
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}… ({len(text)} characters)"


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
