"""PredictionApi over HTTP: the deployed API at API_URL, called as any client would call it, in batches.

A slow or failing call is retried with exponential backoff and jitter (connection errors, timeouts, 429 and
5xx), so one bad moment never kills the run; a batch that still fails after the last attempt is reported as
such and the step counts its rows.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlops_core.exceptions import ConfigurationError

if TYPE_CHECKING:
    from mlops_core.ports import PairedCounts

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 60
ATTEMPTS = 5
BACKOFF_SECONDS = 0.5  # doubled after each failed attempt, with jitter
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
FEEDBACK_STATUSES = frozenset({"recorded", "duplicate", "rejected"})
PAIRED_FIELDS = ("pairs", "both_correct", "staging_only", "production_only", "both_wrong")


class HttpPredictionApi:
    """One requests Session reuses connections across the step's threads."""

    def __init__(
        self,
        base_url: str | None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = ATTEMPTS,
        backoff_seconds: float = BACKOFF_SECONDS,
    ) -> None:
        self._base_url = (base_url or "").rstrip("/")
        self._sleep = sleep
        self._attempts = attempts
        self._backoff = backoff_seconds

    @property
    def base_url(self) -> str:
        if not self._base_url:
            raise ConfigurationError("API_URL is not set: the online gate needs the prediction API's URL")
        return self._base_url

    @functools.cached_property
    def _session(self) -> Any:
        import requests

        return requests.Session()

    def get_traffic(self) -> float:
        response = self._call("GET", "/config/traffic")
        if response is None or response.status_code != 200:
            status = "no answer" if response is None else f"HTTP {response.status_code}"
            raise ConnectionError(f"the prediction API at {self.base_url} did not give its traffic split: {status}")
        return float(response.json()["production"])

    def await_versions(self, expected: dict[str, str], timeout_seconds: float) -> bool:
        deadline = time.monotonic() + timeout_seconds
        while True:
            response = self._call("GET", "/health")
            if response is None:
                return False  # no answer after every retry: waiting longer will not help, the next call says why
            serving = response.json().get("models") if response.status_code < 500 else None
            if serving == expected:
                return True
            if time.monotonic() >= deadline:
                log.warning("the API serves %s, not %s, after %.0f s", serving, expected, timeout_seconds)
                return False
            self._sleep(1.0)

    def predict_batch(self, records: list[dict[str, Any]], user_ids: list[str]) -> list[dict[str, Any]] | None:
        response = self._call("POST", "/predict", {"instances": records, "user_ids": user_ids})
        if response is None or response.status_code != 200:
            return None
        predictions = response.json().get("predictions")
        return predictions if isinstance(predictions, list) and len(predictions) == len(records) else None

    def feedback_batch(self, items: list[tuple[str, str]]) -> list[str]:
        body = {"feedback": [{"prediction_id": prediction_id, "label": label} for prediction_id, label in items]}
        response = self._call("POST", "/feedback", body)
        if response is None or response.status_code >= 500:
            return ["lost"] * len(items)
        if response.status_code != 200:
            return ["rejected"] * len(items)
        results = response.json().get("results") or []
        statuses = [result.get("status") for result in results if isinstance(result, dict)]
        if len(statuses) != len(items):
            return ["lost"] * len(items)
        return [status if status in FEEDBACK_STATUSES else "lost" for status in statuses]

    def paired_evidence(self, production_version: str, staging_version: str) -> PairedCounts:
        query = {"production_version": str(production_version), "staging_version": str(staging_version)}
        response = self._call("GET", "/stats/ab", params=query)
        if response is None or response.status_code != 200:
            status = "no answer" if response is None else f"HTTP {response.status_code}"
            raise ConnectionError(f"the prediction API at {self.base_url} did not give its paired counts: {status}")
        experiments = response.json().get("experiments")
        if not isinstance(experiments, list):
            # Zeros here would read as "no evidence yet" for ever: say that this API does not count pairs.
            raise ValueError(f"the prediction API at {self.base_url} does not count paired evidence: redeploy it")
        for experiment in experiments:
            if (experiment.get("production_version"), experiment.get("staging_version")) == tuple(query.values()):
                return _paired_counts(experiment)
        return _paired_counts({})

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        """The last response, or None when every attempt failed to connect or timed out. Retries what a retry
        can mend; a 4xx other than 429 is the caller's to read."""
        import requests

        url = f"{self.base_url}{path}"
        response = None
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(self._backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))
            try:
                response = self._session.request(
                    method, url, json=body, params=params, timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                log.warning("%s %s failed (attempt %d of %d): %s", method, path, attempt + 1, self._attempts, error)
                response = None
                continue
            if response.status_code not in RETRIED_STATUSES:
                return response
            log.warning(
                "%s %s answered %d (attempt %d of %d)", method, path, response.status_code, attempt + 1, self._attempts
            )
        return response


def _paired_counts(experiment: dict[str, Any]) -> PairedCounts:
    """The counts of one experiment of GET /stats/ab; ValueError when one is not a whole number >= 0."""
    counts = {}
    for name in PAIRED_FIELDS:
        value = experiment.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"the prediction API gave {name}={value!r} for an experiment: expected a count")
        counts[name] = value
    return counts  # type: ignore[return-value]
