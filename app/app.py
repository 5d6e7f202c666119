"""HTTP routes of the MLOps API. Wiring only: each view reads the request, calls one library function, returns.

Clients, the registry and the A/B store are built lazily, once per process, from the environment.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice import Chalice, Response
from mlops_core import settings
from mlops_core.api import (
    ReportsReader,
    aliases_in,
    check_health,
    check_management_credential,
    parse_experiment_query,
    parse_feedback_request,
    parse_json_body,
    parse_management_request,
    parse_predict_request,
    parse_traffic_request,
    record_feedback,
    to_http,
)
from mlops_core.api.prediction import PredictionService, shadow_mode_setting
from mlops_core.api.reports import HTML_HEADERS
from mlops_core.exceptions import InvalidRequestError, MlopsError
from mlops_core.variants import PRODUCTION, STAGING

app = Chalice(app_name="mlops-api")
app.debug = False

# The views check the content type themselves, so a wrong one is a 400 naming the header like every other
# input error, instead of Chalice's 415 in its own error format.
ANY_CONTENT = ["*/*"]
JSON_HEADERS = {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff"}


# wiring: built on first use, once per process
@functools.lru_cache(maxsize=1)
def model_registry() -> Any:
    from mlops_core.registry import ModelRegistry

    return ModelRegistry()


@functools.lru_cache(maxsize=1)
def ab_store() -> Any:
    from mlops_core.ab_store import AbStore

    return AbStore()


@functools.lru_cache(maxsize=1)
def s3_client() -> Any:
    import boto3

    return boto3.client("s3")


@functools.lru_cache(maxsize=1)
def reports_reader() -> ReportsReader:
    return ReportsReader(s3_client(), settings.require(settings.REPORTS_BUCKET))


@functools.lru_cache(maxsize=1)
def prediction_service() -> PredictionService:
    from mlops_core.prediction_ids import default_secret

    store = ab_store()
    return PredictionService(
        model_registry(), store.get_traffic, store.recorder, default_secret(), shadow_mode=shadow_mode_setting()
    )


def reset_wiring() -> None:
    """Forget every built client, so the next request builds them from the current environment."""
    for getter in (model_registry, ab_store, s3_client, reports_reader, prediction_service):
        getter.cache_clear()


# request helpers
def api_view(view: Callable[..., Any]) -> Callable[..., Any]:
    """Library errors become their HTTP status and JSON body (mapping in mlops_core.api.errors)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            result = view(*args, **kwargs)
        except MlopsError as error:
            status, body, headers = to_http(error)
            return json_response(body, status, headers)
        return result if isinstance(result, Response) else json_response(result)

    return wrapper


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # API Gateway would add the header; chalice local and the in-process handler do not.
    return Response(body=body, status_code=status, headers={**JSON_HEADERS, **(headers or {})})


def json_body(*, required: bool = True) -> Any:
    request = app.current_request
    return parse_json_body(request.headers.get("content-type"), request.raw_body, required=required)


def authorize() -> None:
    check_management_credential(app.current_request.headers, settings.get(settings.API_KEY))


def query(name: str) -> str | None:
    return (app.current_request.query_params or {}).get(name)


def base_path() -> str:
    """The path prefix the API is served under (the stage name on API Gateway, nothing locally)."""
    context = app.current_request.context
    path, resource = context.get("path", ""), context.get("resourcePath", "")
    return path[: -len(resource)] if resource and path.endswith(resource) else ""


def report_response(report_id: str) -> Response:
    fmt = query("format")
    fmt = "json" if fmt is None else fmt
    if fmt == "html":
        return Response(body=reports_reader().read_html(report_id), headers=dict(HTML_HEADERS))
    if fmt != "json":
        raise InvalidRequestError("format must be 'json' or 'html'", "format")
    return json_response(reports_reader().read_json(report_id))


def traffic_body(share: float, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**(extra or {}), PRODUCTION: share, STAGING: round(1.0 - share, 12)}


# inference
@app.route("/predict", methods=["POST"], content_types=ANY_CONTENT)
@api_view
def predict() -> Any:
    request = parse_predict_request(
        json_body(), settings.get_int(settings.MAX_BATCH), app.current_request.headers.get("x-user-id")
    )
    return prediction_service().predict(request)


@app.route("/feedback", methods=["POST"], content_types=ANY_CONTENT)
@api_view
def feedback() -> Any:
    request = parse_feedback_request(json_body(), settings.get_int(settings.MAX_BATCH))
    return record_feedback(ab_store(), request, prediction_service().classes_of)


@app.route("/health", methods=["GET"])
@api_view
def health() -> Response:
    status, details = check_health(
        lambda: {alias: m.version for alias, m in prediction_service().available_models().items()},
        lambda: aliases_in(model_registry()),
        {
            "ab_table": lambda: ab_store().client.describe_table(TableName=ab_store().table_name),
            "reports_bucket": lambda: s3_client().head_bucket(Bucket=settings.require(settings.REPORTS_BUCKET)),
        },
    )
    return json_response(details, status)


# traffic split
@app.route("/config/traffic", methods=["GET"])
@api_view
def get_traffic() -> Any:
    return traffic_body(ab_store().get_traffic())


@app.route("/config/traffic", methods=["POST"], content_types=ANY_CONTENT)
@api_view
def set_traffic() -> Any:
    authorize()
    stored = ab_store().set_traffic(parse_traffic_request(json_body()), actor="api")
    return traffic_body(stored["production_share"], stored)


# model management
@app.route("/models/status", methods=["GET"])
@api_view
def model_status() -> Any:
    return model_registry().status()


@app.route("/models/promote", methods=["POST"], content_types=ANY_CONTENT)
@api_view
def promote() -> Any:
    from mlops_core.api.models import parse_promote_request, promote_staged

    authorize()
    return promote_staged(model_registry(), parse_promote_request(json_body(required=False)))


@app.route("/models/rollback", methods=["POST"], content_types=ANY_CONTENT)
@api_view
def rollback() -> Any:
    authorize()
    request = parse_management_request(json_body(required=False), "rolled back through the API")
    return model_registry().rollback(actor=request.actor, reason=request.reason).to_dict()


# A/B statistics
@app.route("/stats/ab", methods=["GET"])
@api_view
def ab_stats() -> Any:
    experiment = parse_experiment_query(app.current_request.query_params)
    return ab_store().stats(experiment)  # flushes this instance's counts first


@app.route("/stats/ab/reset", methods=["POST"], content_types=ANY_CONTENT)
@api_view
def reset_ab_stats() -> Any:
    authorize()
    request = parse_management_request(json_body(required=False), "reset through the API")
    return ab_store().reset(request.actor)


# pipeline reports
@app.route("/reports", methods=["GET"])
@api_view
def list_reports() -> Any:
    return {"reports": reports_reader().summaries(base_path())}


@app.route("/reports/latest", methods=["GET"])
@api_view
def latest_report() -> Response:
    return report_response(reports_reader().latest_id())


@app.route("/reports/{report_id}", methods=["GET"])
@api_view
def get_report(report_id: str) -> Response:
    return report_response(report_id)
