"""The sample events in tests/events are what the state machine builds: the StartRun envelope plus one key per
step that ran, each in its step's contract shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mlops_core import layout
from mlops_core.contracts import (
    AbTestOutput,
    DriftOutput,
    EvaluationOutput,
    PendingOutput,
    PromotionOutput,
    TrainingOutput,
)
from mlops_core.decision import OfflineDecisionDict

EVENTS = Path(__file__).resolve().parents[1] / "events"
STATE_KEYS = ("run_id", "execution_arn", "started_at", "input")
NOT_REQUIRED = {"training": {"plan"}}  # contracts.TrainingOutput: absent when a version is reused
BEFORE_PROMOTION = {
    "drift": DriftOutput,
    "pending": PendingOutput,
    "training": TrainingOutput,
    "evaluation": EvaluationOutput,
    "ab_test": AbTestOutput,
}


@pytest.mark.parametrize(
    ("name", "sections"),
    [
        ("step_input_check_data_drift", {}),
        ("step_input_train_model", {"drift": DriftOutput, "pending": PendingOutput}),
        (
            "step_input_evaluate_candidate",
            {"drift": DriftOutput, "pending": PendingOutput, "training": TrainingOutput},
        ),
        (
            "step_input_run_ab_test",
            {
                "drift": DriftOutput,
                "pending": PendingOutput,
                "training": TrainingOutput,
                "evaluation": EvaluationOutput,
            },
        ),
        ("step_input_promote_if_better", BEFORE_PROMOTION),
        ("step_input_generate_report", {**BEFORE_PROMOTION, "promotion": PromotionOutput}),
        ("step_input_generate_report_failed", {}),
        ("report_state_no_drift", {"drift": DriftOutput, "pending": PendingOutput}),
        ("report_state_promoted", {**BEFORE_PROMOTION, "promotion": PromotionOutput}),
        ("report_state_failed", {}),
    ],
)
def test_sample_events_follow_the_contracts(name: str, sections: dict[str, Any]) -> None:
    event = json.loads((EVENTS / f"{name}.json").read_text())
    extra = {"error"} if name.endswith("failed") else set()
    assert set(event) == {*STATE_KEYS, *sections, *extra}
    assert layout.is_safe_id(event["run_id"]) and event["execution_arn"].endswith(f":{event['run_id']}")
    for key, contract in sections.items():
        # every field but the NotRequired ones (which __required_keys__ cannot see under postponed annotations)
        required = set(contract.__annotations__) - NOT_REQUIRED.get(key, set())
        assert required <= set(event[key]) <= set(contract.__annotations__), key
    if "evaluation" in sections and event["evaluation"]["decision"] is not None:
        assert set(event["evaluation"]["decision"]) == set(OfflineDecisionDict.__annotations__)
    if "drift" in sections:
        assert set(event["drift"]["column_kinds"]) == set(event["drift"]["columns"])
