"""PredictionApi over HTTP: the deployed API at API_URL, called as any client would call it."""

from __future__ import annotations

import functools
import time
from typing import Any

from mlops_core.exceptions import ConfigurationError

TIMEOUT_SECONDS = 30
FEEDBACK_ATTEMPTS = 4
FEEDBACK_RETRY_SECONDS = 0.1


class HttpPredictionApi:
    """The few calls the online gate makes; one requests Session reuses connections across threads."""

    def __init__(self, base_url: str | None, *, sleep: Any = time.sleep) -> None:
        self._base_url = (base_url or "").rstrip("/")
        self._sleep = sleep

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
        response = self._session.get(f"{self.base_url}/config/traffic", timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        return float(response.json()["production"])

    def predict(self, features: dict[str, Any], user_id: str) -> dict[str, Any] | None:
        response = self._session.post(
            f"{self.base_url}/predict", json={"features": features, "user_id": user_id}, timeout=TIMEOUT_SECONDS
        )
        return response.json() if response.status_code == 200 else None

    def feedback(self, prediction_id: str, label: str) -> bool:
        """Server errors are retried: concurrent feedback transactions on one counter item can be cancelled
        (DynamoDB's TransactionConflict), and each lost label skews the API's online statistics. A 409 means
        an earlier attempt already recorded it."""
        for attempt in range(FEEDBACK_ATTEMPTS):
            if attempt:
                self._sleep(FEEDBACK_RETRY_SECONDS * 2 ** (attempt - 1))
            response = self._session.post(
                f"{self.base_url}/feedback",
                json={"prediction_id": prediction_id, "label": label},
                timeout=TIMEOUT_SECONDS,
            )
            if response.status_code in (200, 409):
                return True
            if response.status_code < 500:
                return False
        return False
