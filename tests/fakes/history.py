"""ExecutionHistory in memory: events in GetExecutionHistory's shape, per execution ARN."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlops_core.exceptions import NotFoundError


@dataclass
class FakeExecutionHistory:
    by_execution: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    error: Exception | None = None  # raised by every read when set, as an unreachable service would
    reads: list[str] = field(default_factory=list)

    def events(self, execution_arn: str) -> list[dict[str, Any]]:
        self.reads.append(execution_arn)
        if self.error is not None:
            raise self.error
        if execution_arn not in self.by_execution:
            raise NotFoundError(f"execution {execution_arn} does not exist")
        return list(self.by_execution[execution_arn])

    def add_state(
        self, execution_arn: str, name: str, entered: datetime, exited: datetime | None, *, attempts: int = 1
    ) -> None:
        """A Task state entered, its Lambda scheduled `attempts` times, and exited unless `exited` is None."""
        events = self.by_execution.setdefault(execution_arn, [])
        events.append({"type": "TaskStateEntered", "timestamp": entered, "stateEnteredEventDetails": {"name": name}})
        events.extend({"type": "LambdaFunctionScheduled", "timestamp": entered} for _ in range(attempts))
        if exited is not None:
            events.append({"type": "TaskStateExited", "timestamp": exited, "stateExitedEventDetails": {"name": name}})
