"""The HTTP API's logic: request parsing and validation, credentials, error mapping, predictions, feedback."""

from mlops_core.api.auth import check_management_credential, presented_credential
from mlops_core.api.errors import error_body, failure_reason, http_status, to_http
from mlops_core.api.exceptions import (
    AuthenticationError,
    ManagementDisabledError,
    PermissionDeniedError,
    RegistryUnavailableError,
)
from mlops_core.api.features import FeatureSchema, to_frame, validate_records
from mlops_core.api.feedback import record_feedback
from mlops_core.api.health import aliases_in, check_health
from mlops_core.api.parsing import (
    FeedbackRequest,
    ManagementRequest,
    PredictRequest,
    parse_experiment_query,
    parse_feedback_request,
    parse_json_body,
    parse_management_request,
    parse_predict_request,
    parse_traffic_request,
    require_object,
)
from mlops_core.api.reports import ReportsReader

__all__ = [
    "AuthenticationError",
    "FeatureSchema",
    "FeedbackRequest",
    "ManagementDisabledError",
    "ManagementRequest",
    "PermissionDeniedError",
    "PredictRequest",
    "RegistryUnavailableError",
    "ReportsReader",
    "aliases_in",
    "check_health",
    "check_management_credential",
    "error_body",
    "failure_reason",
    "http_status",
    "parse_experiment_query",
    "parse_feedback_request",
    "parse_json_body",
    "parse_management_request",
    "parse_predict_request",
    "parse_traffic_request",
    "presented_credential",
    "record_feedback",
    "require_object",
    "to_frame",
    "to_http",
    "validate_records",
]
