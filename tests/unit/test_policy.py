from __future__ import annotations

import math
from decimal import Decimal

import pytest
from mlops_core.policy import Decision, GateResult, decide_promotion, offline_gate, online_gate


def statistical_test(significant: bool) -> dict:
    return {
        "metric": "f1_macro",
        "n": 300,
        "n_resamples": 1000,
        "seed": 42,
        "observed_delta": 0.05 if significant else 0.001,
        "mean_delta": 0.05 if significant else 0.001,
        "ci_low": 0.02 if significant else -0.03,
        "ci_high": 0.08 if significant else 0.03,
        "confidence": 0.95,
        "p_value": 0.001 if significant else 0.4,
        "alpha": 0.05,
        "significant": significant,
        "histogram": {"edges": [], "counts": []},
    }


def evaluation(*, production: bool = True, significant: bool | None = True) -> dict:
    return {
        "production_version": "3" if production else None,
        "staging_version": "4",
        "production_metrics": None,
        "staging_metrics": {"accuracy": 0.9, "precision_macro": 0.9, "recall_macro": 0.9, "f1_macro": 0.9},
        "statistical_test": None if significant is None else statistical_test(significant),
        "passed": True,
        "reason": "whatever the step wrote",
    }


def ab_test(production: float | None, staging: float | None) -> dict:
    return {
        "api_url": "http://127.0.0.1:1/api/",
        "production_share": 0.5,
        "requests": {"production": 50, "staging": 50},
        "errors": {"production": 0, "staging": 0},
        "f1_macro": {"production": production, "staging": staging},
        "accuracy": {"production": production, "staging": staging},
        "passed": True,
        "reason": "whatever the step wrote",
    }


@pytest.mark.parametrize(
    ("test", "has_production", "expected"),
    [
        (None, False, GateResult(True, "no_production_model")),
        (statistical_test(False), False, GateResult(True, "no_production_model")),
        (statistical_test(True), True, GateResult(True, "significant_improvement")),
        (statistical_test(False), True, GateResult(False, "not_significant")),
        (None, True, GateResult(False, "no_statistical_test")),
    ],
)
def test_offline_gate(test, has_production, expected):
    assert offline_gate(test, has_production) == expected


@pytest.mark.parametrize("significant", [None, "true", 1])
def test_offline_gate_rejects_a_malformed_test(significant):
    test = statistical_test(True) | {"significant": significant}
    with pytest.raises(ValueError, match=r"statistical_test\.significant must be a bool"):
        offline_gate(test, True)


@pytest.mark.parametrize(
    ("production", "staging", "has_production", "expected"),
    [
        (None, None, False, GateResult(False, "no_ab_data")),  # the API never served the candidate
        (None, 0.7, False, GateResult(True, "no_production_model")),
        (0.8, 0.81, True, GateResult(True, "staging_not_worse")),
        (0.8, 0.8, True, GateResult(True, "staging_not_worse")),  # a tie keeps the offline winner
        (1, Decimal("0.95"), True, GateResult(False, "staging_worse")),
        (0.8, 0.79, True, GateResult(False, "staging_worse")),
        (None, 0.9, True, GateResult(False, "no_ab_data")),
        (0.9, None, True, GateResult(False, "no_ab_data")),
        (0.9, math.nan, True, GateResult(False, "no_ab_data")),
    ],
)
def test_online_gate(production, staging, has_production, expected):
    assert online_gate(production, staging, has_production) == expected


@pytest.mark.parametrize(("production", "staging"), [("0.8", 0.9), (0.8, True), (0.8, [0.9])])
def test_online_gate_rejects_figures_that_are_not_numbers(production, staging):
    with pytest.raises(ValueError, match="must be a number or None"):
        online_gate(production, staging, True)


@pytest.mark.parametrize(
    ("evaluation_output", "ab_test_output", "expected"),
    [
        # a first model: promoted without a test or A/B figures
        (evaluation(production=False, significant=None), ab_test(None, None), Decision(False, "no_ab_data")),
        (evaluation(production=False, significant=None), ab_test(None, 0.4), Decision(True, "no_production_model")),
        (evaluation(), ab_test(0.8, 0.85), Decision(True, "better_offline_and_online")),
        (evaluation(), ab_test(0.8, 0.8), Decision(True, "better_offline_and_online")),
        # the offline gate is decisive first, whatever the A/B figures say
        (evaluation(significant=False), ab_test(0.8, 0.9), Decision(False, "not_significant")),
        (evaluation(significant=False), ab_test(None, None), Decision(False, "not_significant")),
        (evaluation(significant=None), ab_test(0.8, 0.9), Decision(False, "no_statistical_test")),
        (evaluation(), ab_test(0.8, 0.7), Decision(False, "staging_worse")),
        (evaluation(), ab_test(None, 0.7), Decision(False, "no_ab_data")),
    ],
)
def test_decide_promotion(evaluation_output, ab_test_output, expected):
    assert decide_promotion(evaluation_output, ab_test_output) == expected


def test_decide_promotion_recomputes_the_gates_from_the_figures():
    claims_passed = ab_test(0.9, 0.5) | {"passed": True, "reason": "staging_not_worse"}
    assert decide_promotion(evaluation(), claims_passed) == Decision(False, "staging_worse")


def test_decide_promotion_without_ab_figures_blocks_when_production_exists():
    assert decide_promotion(evaluation(), {}) == Decision(False, "no_ab_data")


@pytest.mark.parametrize(
    ("evaluation_output", "ab_test_output", "message"),
    [
        (None, ab_test(0.8, 0.9), "evaluation must be a mapping, got NoneType"),
        (evaluation(), [], "ab_test must be a mapping, got list"),
        ({"staging_version": "4"}, ab_test(0.8, 0.9), "evaluation lacks production_version"),
        (evaluation(), {"f1_macro": 0.9}, "ab_test.f1_macro must be a mapping"),
    ],
)
def test_decide_promotion_rejects_malformed_outputs(evaluation_output, ab_test_output, message):
    with pytest.raises(ValueError, match=message):
        decide_promotion(evaluation_output, ab_test_output)
