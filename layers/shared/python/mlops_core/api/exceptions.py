"""Errors only the API raises: credential checks on the management endpoints, a registry it cannot reach."""

from __future__ import annotations

from mlops_core.exceptions import MlopsError


class AuthenticationError(MlopsError):
    """No credential was presented to a management endpoint."""


class PermissionDeniedError(MlopsError):
    """A credential was presented but does not match the configured API key."""


class ManagementDisabledError(MlopsError):
    """No API key is configured, so the management endpoints stay closed instead of open."""


class RegistryUnavailableError(MlopsError):
    """No model is loaded and the model registry cannot be asked for one (an outage, not a missing model)."""
