"""The promotion policy: both gates from the steps' figures, and the outcome (promoted, pending, blocked)."""

from __future__ import annotations

import pytest
from mlops_core import policy
from mlops_core.policy import Decision, GateResult, decide_promotion, offline_gate, online_gate


def evidence(verdict: str) -> dict:
    return {"pairs": 10, "staging_only": 3, "production_only": 1, "test": {"verdict": verdict}}


@pytest.mark.parametrize(
    ("decision", "has_production", "expected"),
    [
        (None, False, GateResult(True, "no_production_model")),
        ({"verdict": "not_significant"}, False, GateResult(True, "no_production_model")),
        ({"verdict": "significant_improvement"}, True, GateResult(True, "significant_improvement")),
        ({"verdict": "not_significant"}, True, GateResult(False, "not_significant")),
        ({"verdict": "insufficient_data"}, True, GateResult(False, "insufficient_data")),
        ({"verdict": "class_regression"}, True, GateResult(False, "class_regression")),
        (None, True, GateResult(False, "no_statistical_test")),
    ],
)
def test_offline_gate(decision, has_production, expected) -> None:
    assert offline_gate(decision, has_production) == expected


def test_offline_gate_refuses_a_decision_without_a_verdict() -> None:
    with pytest.raises(ValueError, match="verdict must be a string"):
        offline_gate({"verdict": None}, True)


@pytest.mark.parametrize(
    ("evidence_", "answered", "has_production", "expected"),
    [
        (None, 12, False, GateResult(True, "no_production_model")),
        (None, 0, False, GateResult(False, "no_ab_data")),
        (evidence("non_inferior"), 5, True, GateResult(True, "non_inferior")),
        (evidence("continue"), 5, True, GateResult(False, "continue")),
        (evidence("inferior"), 5, True, GateResult(False, "inferior")),
        (None, 5, True, GateResult(False, "no_ab_data")),
    ],
)
def test_online_gate(evidence_, answered, has_production, expected) -> None:
    assert online_gate(evidence_, answered, has_production) == expected


@pytest.mark.parametrize("bad", [{"test": None}, {"test": {"verdict": "passed"}}, {"test": {}}])
def test_online_gate_refuses_evidence_without_a_known_verdict(bad) -> None:
    with pytest.raises(ValueError, match=r"ab_test\.evidence\.test"):
        online_gate(bad, 5, True)


PASS, WAIT, FAIL = GateResult(True, "non_inferior"), GateResult(False, "continue"), GateResult(False, "inferior")
OFFLINE_PASS = GateResult(True, "significant_improvement")


@pytest.mark.parametrize(
    ("offline", "online", "waited", "expected"),
    [
        (
            GateResult(True, "no_production_model"),
            GateResult(True, "no_production_model"),
            0,
            Decision("promoted", "no_production_model"),
        ),
        (OFFLINE_PASS, PASS, 0, Decision("promoted", "better_offline_and_online")),
        (OFFLINE_PASS, WAIT, 3, Decision("pending", "awaiting_online_evidence")),
        (OFFLINE_PASS, WAIT, 14, Decision("blocked", "online_undecided_too_long")),
        (OFFLINE_PASS, FAIL, 0, Decision("blocked", "inferior")),
        (OFFLINE_PASS, GateResult(False, "no_ab_data"), 0, Decision("blocked", "no_ab_data")),
        (GateResult(False, "insufficient_data"), PASS, 0, Decision("blocked", "insufficient_data")),
        (GateResult(False, "class_regression"), WAIT, 0, Decision("blocked", "class_regression")),
    ],
)
def test_the_decision(offline, online, waited, expected) -> None:
    decision = decide_promotion(offline, online, waited_days=waited, pending_max_days=14)
    assert decision == expected
    assert decision.promote is (expected.outcome == "promoted")


def test_a_tie_is_never_a_pass() -> None:
    # the old gate passed `staging >= production`; now only a decided sequential test does
    assert not online_gate(evidence("continue"), 100, True).passed
    assert policy.CONTINUE not in policy.ONLINE_PASSES
