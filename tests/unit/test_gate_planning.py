from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from mlops_core.stats import (
    PairedBootstrap,
    joint_counts,
    minimum_detectable_effect,
    plan_sample_size,
    required_sample_size,
)

Z = NormalDist().inv_cdf


def pilot(seed: int, n: int, labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = np.arange(3) if labels is None else labels
    rng = np.random.default_rng(seed)
    y = rng.choice(labels, n)
    a = np.where(rng.random(n) < 0.85, y, rng.choice(labels, n))
    b = np.where(rng.random(n) < 0.88, y, rng.choice(labels, n))
    return y, a, b


def test_formulas():
    z = Z(0.95) + Z(0.8)
    assert minimum_detectable_effect(0.5, 2500, alpha=0.05) == pytest.approx(z * 0.5 / 50)
    assert minimum_detectable_effect(0.5, 2500, alpha=0.05, delta_min=0.01) == pytest.approx(0.01 + z * 0.5 / 50)
    assert required_sample_size(0.5, 0.02, alpha=0.05) == math.ceil((z * 0.5 / 0.02) ** 2)
    # the two are inverse: at the required n the MDE is at most the planned effect
    n = required_sample_size(0.41, 0.03, alpha=0.01, power=0.9)
    assert minimum_detectable_effect(0.41, n, alpha=0.01, power=0.9) <= 0.03
    assert minimum_detectable_effect(0.41, n - 1, alpha=0.01, power=0.9) > 0.03
    assert required_sample_size(0.0, 0.02, alpha=0.05) == 2  # a variance estimate needs two rows


def test_smaller_alpha_higher_power_or_smaller_margin_need_more_rows():
    base = required_sample_size(0.4, 0.02, alpha=0.05)
    assert required_sample_size(0.4, 0.02, alpha=0.001) > base
    assert required_sample_size(0.4, 0.02, alpha=0.05, power=0.95) > base
    assert required_sample_size(0.4, 0.01, alpha=0.05) > base


def test_plan_uses_the_jackknife_se_which_matches_the_bootstrap_se():
    y, a, b = pilot(1, 400)
    joint = joint_counts(y, a, b)
    plan = plan_sample_size(joint, alpha=0.05, margin=0.02)
    paired = PairedBootstrap.run(joint, n_resamples=20_000, seed=1)
    assert plan.se == pytest.approx(float(paired.se()[0]))
    assert plan.se == pytest.approx(float(paired.bca.draws[:, 0].std(ddof=1)), rel=0.05)
    assert plan.sd_per_row == pytest.approx(plan.se * math.sqrt(400))
    assert plan.required_n == required_sample_size(plan.sd_per_row, 0.02, alpha=0.05)
    assert plan.missing_rows == plan.required_n - 400 > 0
    assert not plan.sufficient
    assert plan.mde == pytest.approx(minimum_detectable_effect(plan.sd_per_row, 400, alpha=0.05))


def test_enough_rows_are_sufficient():
    y, a, b = pilot(2, 20_000)
    plan = plan_sample_size(joint_counts(y, a, b), alpha=0.05, margin=0.02)
    assert plan.sufficient and plan.missing_rows == 0 and plan.mde < 0.02


def test_models_that_agree_everywhere_need_no_more_rows():
    y = np.arange(45) % 3
    plan = plan_sample_size(joint_counts(y, (y + 1) % 3, (y + 1) % 3), alpha=0.05)
    assert (plan.se, plan.sd_per_row, plan.required_n, plan.missing_rows, plan.sufficient) == (0.0, 0.0, 2, 0, True)
    assert plan.mde == 0.0


def test_one_row_has_no_plan():
    plan = plan_sample_size(joint_counts(["a"], ["a"], ["b"]), alpha=0.05)
    assert plan.n == 1
    assert (plan.se, plan.sd_per_row, plan.mde, plan.required_n, plan.missing_rows) == (None,) * 5
    assert not plan.sufficient


def test_string_and_int_labels_plan_alike():
    y, a, b = pilot(3, 300)
    names = np.array(["Adelie", "Chinstrap", "Gentoo"])
    ints = plan_sample_size(joint_counts(y, a, b), alpha=0.05)
    strings = plan_sample_size(joint_counts(names[y], names[a], names[b]), alpha=0.05)
    assert ints == strings


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: minimum_detectable_effect(-0.1, 10, alpha=0.05), "sd_per_row"),
        (lambda: minimum_detectable_effect(0.1, 0, alpha=0.05), "n must be an integer"),
        (lambda: minimum_detectable_effect(0.1, 10, alpha=1.0), "alpha"),
        (lambda: required_sample_size(0.1, 0.0, alpha=0.05), "margin must be a number > 0"),
        (lambda: required_sample_size(0.1, 0.02, alpha=0.05, power=1), "power"),
        (lambda: required_sample_size(float("nan"), 0.02, alpha=0.05), "sd_per_row"),
        (lambda: plan_sample_size(joint_counts([0], [0], [0]), alpha=0.05, delta_min=float("inf")), "delta_min"),
    ],
)
def test_bad_input_is_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()
