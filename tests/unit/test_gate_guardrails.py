from __future__ import annotations

import numpy as np
import pytest
from mlops_core.stats import PairedBootstrap, class_guardrails, holm, joint_counts, sign_flip_test
from sklearn.metrics import f1_score
from statsmodels.stats.multitest import multipletests


def models(seed: int, n: int, accuracy_b_per_class: list[float], labels: np.ndarray | None = None):
    """A right 85% of the time on every class; B with its own accuracy per class; errors go to another class."""
    labels = np.arange(3) if labels is None else labels
    rng = np.random.default_rng(seed)
    k = len(labels)
    y = np.arange(n) % k

    def predict(accuracy: np.ndarray) -> np.ndarray:
        return np.where(rng.random(n) < accuracy, y, (y + rng.integers(1, k, n)) % k)

    a = predict(np.full(n, 0.85))
    b = predict(np.asarray(accuracy_b_per_class)[y])
    return labels[y], labels[a], labels[b]


def checks(y, a, b, *, margin=0.05, alpha=0.05, resamples=4999, exact=False):
    joint = joint_counts(y, a, b)
    paired = PairedBootstrap.run(joint, n_resamples=resamples, seed=1)
    flip = sign_flip_test(joint).class_p_values if exact else None
    return class_guardrails(paired, margin=margin, alpha=alpha, sign_flip_p=flip)


def test_holm_matches_statsmodels():
    rng = np.random.default_rng(0)
    for size in (1, 2, 5, 12):
        p = rng.random(size) ** 3
        np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=1e-12)
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    assert holm([]).tolist() == []


@pytest.mark.parametrize("p", [[0.1, 1.5], [-0.1], [float("nan")], [[0.1]]])
def test_holm_rejects_what_is_not_a_p_value(p):
    with pytest.raises(ValueError, match="p_values"):
        holm(p)


def test_a_class_regression_hidden_by_a_better_macro_f1_is_caught():
    y, a, b = models(1, 6000, [1.0, 1.0, 0.62])
    result = checks(y, a, b, margin=0.03)
    macro = f1_score(y, b, average="macro") - f1_score(y, a, average="macro")
    assert macro > 0  # the macro mean improved …
    assert [c.passed for c in result] == [True, True, False]  # … while class 2 fell
    failed = result[2]
    assert failed.label == 2 and failed.support == 2000
    assert failed.delta < -0.03 and failed.p_adjusted <= 0.05 and failed.p_value <= failed.p_adjusted
    assert failed.f1_production == pytest.approx(f1_score(y, a, labels=[2], average=None)[0])
    assert failed.f1_candidate == pytest.approx(f1_score(y, b, labels=[2], average=None)[0])


def test_a_fall_within_the_margin_passes():
    y, a, b = models(1, 6000, [1.0, 1.0, 0.62])
    assert all(c.passed for c in checks(y, a, b, margin=0.2))


def test_equal_models_pass_and_holm_multiplies_the_smallest_p_by_the_classes():
    y, a, b = models(3, 900, [0.85, 0.85, 0.85], labels=np.array(["Adelie", "Chinstrap", "Gentoo"]))
    result = checks(y, a, b)
    assert all(c.passed for c in result)
    assert [c.label for c in result] == ["Adelie", "Chinstrap", "Gentoo"]
    smallest = min(result, key=lambda c: c.p_value)
    assert smallest.p_adjusted == pytest.approx(min(1.0, 3 * smallest.p_value))


def test_classes_never_true_are_listed_untested():
    y = np.array([0, 0, 1, 1, 0, 1])
    result = checks(y, np.array([0, 2, 1, 1, 0, 1]), y.copy(), resamples=999)
    assert [c.label for c in result] == [0, 1, 2]
    assert (result[2].support, result[2].p_value, result[2].p_adjusted, result[2].passed) == (0, None, None, True)
    assert result[2].to_dict()["f1_production"] == 0.0


def test_one_class_and_one_row():
    (only,) = checks(["x"] * 5, ["x"] * 5, ["x"] * 5, resamples=999)
    assert (only.label, only.delta, only.passed) == ("x", 0.0, True)
    # With one row every resample repeats it, so the bootstrap would call any fall certain …
    (by_bootstrap, _) = checks([1], [1], [2], resamples=999)
    assert by_bootstrap.delta == -1.0 and not by_bootstrap.passed
    # … while the exact sign-flip test gives that lone row p = 1/2: not evidence of a regression.
    (single, _) = checks([1], [1], [2], exact=True)
    assert (single.f1_production, single.f1_candidate, single.p_value, single.passed) == (1.0, 0.0, 0.5, True)


def test_exact_class_p_values_fail_a_class_only_beyond_the_margin():
    y = np.arange(60) % 3
    b = y.copy()
    b[np.flatnonzero(y == 2)[:12]] = 0  # the candidate gets 12 of the 20 rows of class 2 wrong, as class 0
    # class 2's F1 falls 1 → 8/14 (−0.43), class 0's 1 → 40/52 (−0.23, its precision); margin 0.3 between
    flagged = checks(y, y.copy(), b, exact=True, margin=0.3)
    assert [c.passed for c in flagged] == [True, True, False]
    assert flagged[2].p_value == 2.0**-12 and flagged[2].p_adjusted == pytest.approx(3 * 2.0**-12)
    # the same evidence, but a fall within a generous margin, passes
    assert all(c.passed for c in checks(y, y.copy(), b, exact=True, margin=0.9))


def test_bad_options_are_rejected():
    paired = PairedBootstrap.run(joint_counts([0, 1], [0, 1], [1, 1]), n_resamples=99, seed=1)
    with pytest.raises(ValueError, match="margin"):
        class_guardrails(paired, margin=-0.1, alpha=0.05)
    with pytest.raises(ValueError, match="alpha"):
        class_guardrails(paired, margin=0.05, alpha=1.5)
    with pytest.raises(ValueError, match="one p-value per class"):
        class_guardrails(paired, margin=0.05, alpha=0.05, sign_flip_p=[0.5])
