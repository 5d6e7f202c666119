"""The AutoML leaderboard as the run state carries it: the best few models compared, a few figures each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlops_core.contracts import LeaderboardRow

# Models the run state carries (capped at 256 KB); the MLflow run keeps the whole grid.
LEADERBOARD_ROWS = 10


def top_models(
    leaderboard: Sequence[Mapping[str, Any]],
    fit_seconds: Mapping[str, float] | None = None,
    limit: int = LEADERBOARD_ROWS,
) -> list[LeaderboardRow]:
    """The first `limit` rows of a TrainedModel's leaderboard (best first) with CV F1-macro, accuracy and the
    seconds each model's cross-validation fits took, from `fit_seconds` ({model id: seconds}, the training
    plan's) or the row's own `fit_seconds`; None when neither timed it."""
    fit_seconds = fit_seconds or {}
    return [
        LeaderboardRow(
            model=str(row.get("model")),
            name=str(row.get("name")),
            f1_macro=row.get("f1_macro"),
            accuracy=row.get("accuracy"),
            fit_seconds=fit_seconds.get(str(row.get("model")), row.get("fit_seconds")),
        )
        for row in leaderboard[:limit]
    ]
