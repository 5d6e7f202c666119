"""The feedback service: true labels of earlier predictions, one or a batch, checked against the model's classes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from mlops_core.ab_store import DUPLICATE, RECORDED, REJECTED, ClassesOf
from mlops_core.api.parsing import FeedbackRequest


class FeedbackStore(Protocol):
    def record_feedback(
        self, prediction_id: object, label: object, *, classes_of: ClassesOf | None = None
    ) -> dict[str, Any]: ...

    def record_feedback_batch(
        self, items: Sequence[tuple[object, object]], *, classes_of: ClassesOf | None = None
    ) -> list[dict[str, Any]]: ...


def record_feedback(store: FeedbackStore, request: FeedbackRequest, classes_of: ClassesOf) -> dict[str, Any]:
    """The single form's result (its errors raised: 400, 409), or for a batch every item's outcome in request
    order with the number of each status. `classes_of(version)` gives the classes a label must be one of, or
    None when that version is not known here (the label is then taken unchecked)."""
    if not request.batch:
        (prediction_id, label), *_ = request.items
        return store.record_feedback(prediction_id, label, classes_of=classes_of)
    results = store.record_feedback_batch(request.items, classes_of=classes_of)
    statuses = [result["status"] for result in results]
    return {
        "results": results,
        "recorded": statuses.count(RECORDED),
        "duplicates": statuses.count(DUPLICATE),
        "rejected": statuses.count(REJECTED),
    }
