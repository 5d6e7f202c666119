"""One error hierarchy for the library; entry points map these to HTTP codes or Step Functions errors."""

from __future__ import annotations


class MlopsError(Exception):
    """Base of every error the library raises on purpose."""


class ConfigurationError(MlopsError):
    """A required setting is missing or malformed."""


class DataValidationError(MlopsError):
    """A dataset or batch does not match what the dataset configuration promises."""


class NotFoundError(MlopsError):
    """A requested object (batch, report, model version) does not exist."""


class NoModelError(MlopsError):
    """No model is registered under the requested alias yet."""


class RegistryError(MlopsError):
    """A registered model version cannot be served (for example it was logged without a signature)."""


class DuplicateFeedbackError(MlopsError):
    """A label was already recorded for this prediction id (HTTP 409)."""


class InvalidRequestError(MlopsError):
    """A caller sent input that cannot be processed; `field` names the culprit when known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ProductionChangedError(MlopsError):
    """Production is no longer the version a promotion was decided against (another promotion or rollback ran
    meanwhile), so nothing was promoted."""


class LeaseTimeoutError(MlopsError):
    """Another execution held a registry lease (a registration claim, the production lock) for longer than this
    one may wait."""


class LeaseLostError(MlopsError):
    """A lease this execution held ran out and another execution took it, so the write it guarded was not made."""


class GatesNotPassedError(MlopsError):
    """A manual promotion without force found a gate the staged version has not passed (HTTP 409)."""
