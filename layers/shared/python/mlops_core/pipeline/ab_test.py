"""run_ab_test: the online gate. The held-out rows go through the running API's /predict under the configured
traffic split, labels kept back; each variant is then scored on the rows it answered, and the labels are sent
back through /feedback so the API's own A/B statistics measure online quality too."""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlops_core import settings
from mlops_core.contracts import AbTestOutput
from mlops_core.pipeline.context import run_context, step_output
from mlops_core.pipeline.handler import log_event
from mlops_core.pipeline.holdout import load_holdout
from mlops_core.policy import online_gate
from mlops_core.stats import classification_metrics

VARIANTS = ("production", "staging")
_TIMEOUT_SECONDS = 30
_PARALLEL_REQUESTS = 8
_FEEDBACK_ATTEMPTS = 4
_FEEDBACK_RETRY_SECONDS = 0.1


class ApiClient:
    """The few calls the step makes; requests' Session reuses connections across threads."""

    def __init__(self, base_url: str) -> None:
        import requests

        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def get_traffic(self) -> float:
        response = self.session.get(f"{self.base_url}/config/traffic", timeout=_TIMEOUT_SECONDS)
        response.raise_for_status()
        return float(response.json()["production"])

    def predict(self, features: dict[str, Any], user_id: str) -> dict[str, Any] | None:
        """The response body, or None when the API answered with an error (counted, never fatal)."""
        response = self.session.post(
            f"{self.base_url}/predict", json={"features": features, "user_id": user_id}, timeout=_TIMEOUT_SECONDS
        )
        return response.json() if response.status_code == 200 else None

    def feedback(self, prediction_id: str, label: str) -> bool:
        """True once the API holds the label. Server errors are retried: concurrent feedback transactions on
        one counter item can be cancelled (DynamoDB's TransactionConflict), and each lost label skews the
        API's online statistics. A 409 means an earlier attempt already recorded it."""
        for attempt in range(_FEEDBACK_ATTEMPTS):
            if attempt:
                time.sleep(_FEEDBACK_RETRY_SECONDS * 2 ** (attempt - 1))
            response = self.session.post(
                f"{self.base_url}/feedback",
                json={"prediction_id": prediction_id, "label": label},
                timeout=_TIMEOUT_SECONDS,
            )
            if response.status_code in (200, 409):
                return True
            if response.status_code < 500:
                return False
        return False


def run(state: dict[str, Any]) -> AbTestOutput:
    ctx = run_context(state)
    training, evaluation = step_output(state, "training"), step_output(state, "evaluation")
    features, labels = load_holdout(ctx.s3, ctx.data_bucket, training["holdout_key"], ctx.config.target)
    api = ApiClient(settings.require(settings.API_URL))
    share = api.get_traffic()
    records = [_json_safe(row) for row in features.to_dict(orient="records")]
    # One user id per row: the API's sticky hash then spreads the rows over the variants by the split.
    user_ids = [f"{ctx.run_id}-{i}" for i in range(len(records))]
    with ThreadPoolExecutor(_PARALLEL_REQUESTS) as pool:
        responses = list(pool.map(api.predict, records, user_ids))

    expected_version = {"staging": str(training["model_version"]), "production": evaluation.get("production_version")}
    answered: dict[str, list[tuple[str, str]]] = {v: [] for v in VARIANTS}
    errors = dict.fromkeys((*VARIANTS, "unrouted"), 0)
    requests_by_variant = dict.fromkeys(VARIANTS, 0)
    feedback: list[tuple[str, str]] = []
    for response, label in zip(responses, labels, strict=True):
        if response is None or response.get("variant") not in VARIANTS:
            errors["unrouted"] += 1
            continue
        variant = response["variant"]
        requests_by_variant[variant] += 1
        # A row answered by another version than the one under test (a stale API cache) says nothing of it.
        if str(response.get("model_version")) != str(expected_version[variant]):
            errors[variant] += 1
            continue
        answered[variant].append((label, str(response["prediction"])))
        feedback.append((response["prediction_id"], label))
    with ThreadPoolExecutor(_PARALLEL_REQUESTS) as pool:
        delivered = list(pool.map(lambda item: api.feedback(*item), feedback))
    if not all(delivered):
        log_event(step="run_ab_test", phase="warning", run_id=ctx.run_id, feedback_lost=delivered.count(False))

    scores = {v: classification_metrics(*zip(*answered[v], strict=True)) if answered[v] else None for v in VARIANTS}
    f1 = {v: None if scores[v] is None else scores[v]["f1_macro"] for v in VARIANTS}
    accuracy = {v: None if scores[v] is None else scores[v]["accuracy"] for v in VARIANTS}
    gate = online_gate(f1["production"], f1["staging"], has_production=evaluation.get("production_version") is not None)
    return AbTestOutput(
        api_url=api.base_url,
        production_share=share,
        requests=requests_by_variant,
        errors=errors,
        f1_macro=f1,
        accuracy=accuracy,
        passed=gate.passed,
        reason=gate.reason,
    )


def _json_safe(row: dict[str, Any]) -> dict[str, Any]:
    """Missing values travel as JSON null, which the API reads as missing; numpy scalars as plain numbers."""
    import pandas as pd

    safe: dict[str, Any] = {}
    for name, value in row.items():
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            safe[name] = None
        elif hasattr(value, "item"):
            safe[name] = value.item()
        else:
            safe[name] = value
    return safe
