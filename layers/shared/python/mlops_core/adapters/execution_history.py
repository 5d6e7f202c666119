"""ExecutionHistory over Step Functions' GetExecutionHistory through boto3 (endpoint and region from the
environment)."""

from __future__ import annotations

from typing import Any


class StepFunctionsHistory:
    def __init__(self, client: Any) -> None:
        self.client = client

    def events(self, execution_arn: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in self.client.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            found.extend(page.get("events", []))
        return found
