"""The credential check of the management endpoints: an API key as a bearer token or in `x-api-key`."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from mlops_core.api.exceptions import AuthenticationError, ManagementDisabledError, PermissionDeniedError

_BEARER = "bearer "


def presented_credential(headers: Mapping[str, str]) -> str | None:
    """The key the caller sent, from `Authorization: Bearer <key>` or `x-api-key: <key>`, else None."""
    lowered = {name.lower(): value for name, value in headers.items()}
    authorization = lowered.get("authorization", "").strip()
    if authorization.lower().startswith(_BEARER) and authorization[len(_BEARER) :].strip():
        return authorization[len(_BEARER) :].strip()
    api_key = lowered.get("x-api-key", "").strip()
    return api_key or None


def check_management_credential(headers: Mapping[str, str], api_key: str | None) -> None:
    """Raise unless the request carries the configured API key.

    With no key configured the endpoints refuse rather than open up: a forgotten setting must not
    hand out promotion rights.
    """
    if not api_key:
        raise ManagementDisabledError("management API disabled: set API_KEY")
    presented = presented_credential(headers)
    if presented is None:
        raise AuthenticationError("missing credential: send 'Authorization: Bearer <API key>' or 'x-api-key'")
    # Constant-time comparison so response timing does not leak how much of a guess was right.
    if not hmac.compare_digest(presented.encode("utf-8"), api_key.encode("utf-8")):
        raise PermissionDeniedError("invalid credential")
