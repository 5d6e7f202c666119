from __future__ import annotations

import json

import numpy as np
import pytest
from mlops_core.decision import (
    BCA_BOOTSTRAP,
    CLASS_REGRESSION,
    INSUFFICIENT_DATA,
    OfflineDecisionDict,
    lord_plus_plus,
    offline_decision,
)
from mlops_core.decision.offline import MAX_RESAMPLES, _pct, resamples_needed
from mlops_core.policy import NOT_SIGNIFICANT, SIGNIFICANT_IMPROVEMENT
from mlops_core.stats import classification_metrics

IRIS = np.array(["setosa", "versicolor", "virginica"])


def models(seed: int, n: int, accuracy_a: float, accuracy_b, labels=None):
    """Labels cycling over the classes; each model right with its accuracy (per class for B if a list)."""
    labels = np.arange(3) if labels is None else labels
    rng = np.random.default_rng(seed)
    k = len(labels)
    y = np.arange(n) % k

    def predict(accuracy) -> np.ndarray:
        accuracy = np.asarray(accuracy, dtype=float)
        accuracy = accuracy[y] if accuracy.ndim else accuracy
        return np.where(rng.random(n) < accuracy, y, (y + rng.integers(1, k, n)) % k)

    return labels[y], labels[predict(accuracy_a)], labels[predict(accuracy_b)]


def wins(n: int, won: int, lost: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n rows both models get right, except `won` rows only the candidate gets right and `lost` only Production."""
    y = np.arange(n) % 3
    a, b = y.copy(), y.copy()
    a[:won] = (y[:won] + 1) % 3
    b[won : won + lost] = (y[won : won + lost] + 1) % 3
    return y, a, b


def as_json(decision) -> dict:
    data = decision.to_dict()
    text = json.dumps(data, allow_nan=False)  # NaN or infinity would raise here
    assert set(data) == set(OfflineDecisionDict.__annotations__)
    return json.loads(text)


def test_a_clear_gain_on_many_rows_is_a_significant_improvement_by_bca():
    y, a, b = models(1, 20_000, 0.85, 0.88)
    decision = offline_decision(y, a, b)
    data = as_json(decision)
    assert data["verdict"] == SIGNIFICANT_IMPROVEMENT and data["passed"] and data["rejected"]
    assert data["test"] == BCA_BOOTSTRAP
    assert data["test_reason"].startswith("bca_bootstrap: ") and "disagreeing rows > 100" in data["test_reason"]
    assert data["lower_bound"] > 0 and data["p_value"] <= 0.05 and data["p_value"] == data["bootstrap_p_value"]
    assert data["decided_by"] == f"lower 95% BCa bound {data['lower_bound']:+.4f} > δ_min +0.0000"
    assert data["interval"]["low"] == data["lower_bound"] < data["observed_delta"] < data["interval"]["high"]
    assert data["interval"]["level"] == pytest.approx(0.9) and data["bound_level"] == 0.95
    assert data["sign_flip_p_value"] is None
    assert data["f1_production"] == classification_metrics(y, a)["f1_macro"]
    assert data["f1_candidate"] == classification_metrics(y, b)["f1_macro"]
    assert data["n"] == 20_000 and data["n_disagreements"] == int(np.count_nonzero(a != b))
    assert data["n_resamples"] == data["n_resamples_requested"] == 9_999
    assert sum(data["histogram"]["counts"]) == 9_999


def test_few_disagreeing_rows_are_decided_by_the_exact_sign_flip_test():
    # The audit's case: 4 wins to 0 losses (p = 1/16) cannot pass at α = 0.05; 5 to 0 (p = 1/32) can.
    four = offline_decision(*wins(45, 4))
    assert four.test == "exact_sign_flip" and four.p_value == 1 / 16 and four.sign_flip_p_value == 1 / 16
    assert four.verdict == INSUFFICIENT_DATA and not four.rejected
    assert four.decided_by.startswith("exact sign flip p 0.0625 > α_t 0.05, with 45 rows, fewer than the ")
    assert four.test_reason.startswith("exact_sign_flip: 4 disagreeing rows")
    assert four.test_reason.endswith("a sign-flip test as δ_min = 0 and 4 ≤ 100 rows disagree")
    five = offline_decision(*wins(45, 5))
    assert five.verdict == SIGNIFICANT_IMPROVEMENT and five.p_value == 1 / 32
    assert five.decided_by == "exact sign flip p 0.03125 ≤ α_t 0.05"


def test_no_detectable_gain_on_few_rows_is_insufficient_data_with_the_rows_missing():
    y, a, b = models(2, 103, 0.85, 0.85, labels=np.array(["Adelie", "Chinstrap", "Gentoo"]))
    data = as_json(offline_decision(y, a, b))
    assert data["verdict"] == INSUFFICIENT_DATA and not data["passed"]
    assert data["required_n"] > 103 and data["missing_rows"] == data["required_n"] - 103
    assert data["mde"] > 0.02
    assert f"{data['missing_rows']:,} more labelled rows" in data["decided_by"]
    assert "80% power at ΔF1 +0.0200" in data["decided_by"]


def test_no_gain_on_enough_rows_is_not_significant():
    y, a, b = models(3, 60_000, 0.85, 0.85)
    decision = offline_decision(y, a, b, n_resamples=2_000)
    assert decision.verdict == NOT_SIGNIFICANT and decision.plan.sufficient
    assert decision.decided_by.startswith(f"lower 95% BCa bound {decision.lower_bound:+.4f} ≤ δ_min +0.0000")
    assert "≥ the" in decision.decided_by and decision.plan.missing_rows == 0


def test_a_class_regression_blocks_even_a_better_macro_f1():
    y, a, b = models(1, 6000, 0.85, [1.0, 1.0, 0.62])
    data = as_json(offline_decision(y, a, b, class_margin=0.03))
    assert data["observed_delta"] > 0
    assert data["verdict"] == CLASS_REGRESSION and not data["passed"]
    assert [c["passed"] for c in data["classes"]] == [True, True, False]
    failed = data["classes"][2]
    assert data["decided_by"].startswith(f"class 2: F1 {failed['f1_production']:.4f} → {failed['f1_candidate']:.4f}")
    assert "beyond the class margin 0.0300 at Holm-adjusted p" in data["decided_by"]
    assert set(failed) == {
        "label",
        "support",
        "f1_production",
        "f1_candidate",
        "delta",
        "p_value",
        "p_adjusted",
        "passed",
    }
    assert data["confusion"]["labels"] == [0, 1, 2]
    assert np.array(data["confusion"]["candidate"]).sum() == 6000


def test_a_positive_delta_min_is_tested_by_bca_even_on_few_rows():
    decision = offline_decision(*wins(45, 5), delta_min=0.01)
    assert decision.test == BCA_BOOTSTRAP
    assert "δ_min +0.0100 ≠ 0, beyond a sign-flip test of exchangeability" in decision.test_reason
    assert decision.sign_flip_p_value is None


def test_the_run_level_from_the_spending_rule_sets_the_test_and_the_resamples():
    y, a, b = models(4, 20_000, 0.85, 0.87)
    level = lord_plus_plus([])  # about 0.0013
    strict = offline_decision(y, a, b, alpha_t=level, n_resamples=2_000)
    assert strict.alpha == 0.05 and strict.alpha_t == level
    assert strict.to_dict()["bound_level"] == 1 - level
    assert strict.n_resamples == resamples_needed(2_000, alpha_t=level, class_alpha=0.05, n_classes=3) > 2_000
    assert "lower 99.87% BCa bound" in strict.decided_by
    lax = offline_decision(y, a, b, n_resamples=2_000)
    assert lax.lower_bound > strict.lower_bound


@pytest.mark.parametrize(
    ("level", "shown"),
    [(0.95, "95%"), (0.9, "90%"), (0.99866, "99.87%"), (1 - 1.04e-5, "99.999%"), (0.975, "97.5%")],
)
def test_confidence_levels_show_their_tail_to_two_digits(level, shown):
    assert _pct(level) == shown


def test_resamples_are_raised_for_small_tails_and_capped():
    assert resamples_needed(9_999, alpha_t=0.05, class_alpha=0.05, n_classes=3) == 9_999
    assert resamples_needed(1_000, alpha_t=0.001, class_alpha=0.05, n_classes=3) == 19_999
    assert resamples_needed(1_000, alpha_t=1e-9, class_alpha=0.05, n_classes=3) == MAX_RESAMPLES
    assert resamples_needed(1_000, alpha_t=1e-9, class_alpha=0.05, n_classes=100) == 16_000_000 // 101


@pytest.mark.parametrize(
    ("y", "a", "b"),
    [
        (["x"] * 10, ["x"] * 10, ["x"] * 10),  # one class, all agree, perfect models
        ([0, 1, 2] * 5, [0, 1, 2] * 5, [0, 1, 2] * 5),  # perfect models, several classes
        ([1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]),  # all wrong, all agree
        (["a"], ["a"], ["b"]),  # n = 1, disagreeing
        ([7], [7], [7]),  # n = 1, agreeing
        (["x"] * 6, ["x"] * 6, ["x", "x", "x", "y", "y", "x"]),  # one true class
    ],
)
def test_edge_cases_give_a_json_safe_verdict(y, a, b):
    data = as_json(offline_decision(y, a, b))
    assert data["verdict"] in (NOT_SIGNIFICANT, INSUFFICIENT_DATA)
    assert not data["passed"]


def test_models_that_always_agree_are_not_significant():
    data = as_json(offline_decision([0, 1, 2] * 15, [0, 1, 2] * 15, [0, 1, 2] * 15))
    assert data["verdict"] == NOT_SIGNIFICANT
    assert data["decided_by"].endswith("the two models predict the same label on all 45 rows")
    assert (data["p_value"], data["observed_delta"], data["lower_bound"]) == (1.0, 0.0, 0.0)


def test_one_row_is_insufficient_data_without_a_plan():
    data = as_json(offline_decision(["a"], ["b"], ["a"]))  # only the candidate right, on the only row
    assert data["verdict"] == INSUFFICIENT_DATA
    assert (data["required_n"], data["missing_rows"], data["mde"], data["se"]) == (None, None, None, None)
    assert data["decided_by"].endswith("1 row: a variance estimate, hence a power plan, needs at least 2 rows")
    assert data["p_value"] == 0.5  # one row's swap is a coin toss
    worse = as_json(offline_decision(["a"], ["a"], ["b"]))  # only Production right: F1 of class a 1 → 0
    assert worse["p_value"] == 1.0 and all(c["passed"] for c in worse["classes"])


def test_string_and_int_labels_decide_alike():
    y, a, b = models(5, 300, 0.85, 0.9)
    ints = offline_decision(y, a, b).to_dict()
    strings = offline_decision(IRIS[y], IRIS[a], IRIS[b]).to_dict()
    assert strings["confusion"]["labels"] == ["setosa", "versicolor", "virginica"]
    for key in ("verdict", "p_value", "lower_bound", "required_n", "decided_by", "test_reason"):
        assert ints[key] == strings[key]
    assert [c["p_value"] for c in ints["classes"]] == [c["p_value"] for c in strings["classes"]]


def test_same_seed_same_decision():
    y, a, b = models(6, 500, 0.85, 0.88)
    assert offline_decision(y, a, b, seed=3) == offline_decision(y, a, b, seed=3)
    assert offline_decision(y, a, b, seed=3).to_dict() == offline_decision(y, a, b, seed=3).to_dict()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"alpha": 0}, "alpha must be"),
        ({"alpha_t": 0.7}, "alpha_t must be at most 0.5"),
        ({"alpha_t": -0.1}, "alpha_t must be"),
        ({"delta_min": 1.5}, "delta_min must be a number in"),
        ({"delta_min": float("nan")}, "delta_min must be a number in"),
        ({"margin": 0}, r"margin must be a number in \(0"),
        ({"power": 1}, "power must be"),
        ({"class_margin": -0.01}, "class_margin"),
        ({"class_alpha": 0}, "class_alpha"),
        ({"n_resamples": 0}, "n_resamples must be an integer ≥ 1"),
        ({"n_resamples": 10.5}, "n_resamples must be an integer ≥ 1"),
        ({"seed": -1}, "seed must be an integer ≥ 0"),
        ({"sign_flip_max_disagreements": -1}, "sign_flip_max_disagreements"),
        ({"max_exact_outcomes": 0}, "max_exact_outcomes"),
    ],
)
def test_bad_options_are_rejected(options, message):
    with pytest.raises(ValueError, match=message):
        offline_decision([0, 1], [0, 1], [1, 1], **options)


def test_bad_labels_are_rejected():
    with pytest.raises(ValueError, match="equal lengths"):
        offline_decision([0, 1], [0, 1], [1])
    with pytest.raises(ValueError, match="mix strings and integers"):
        offline_decision([0, 1], [0, 1], ["0", "1"])
