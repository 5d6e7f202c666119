from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from mlops_core.decision import lord_gamma, lord_plus_plus
from mlops_core.decision.spending import GAMMA_CONSTANT


def test_gamma_by_hand_non_increasing_and_summing_below_one():
    assert lord_gamma(1) == pytest.approx(GAMMA_CONSTANT * math.log(2))
    assert lord_gamma(3) == pytest.approx(GAMMA_CONSTANT * math.log(3) / (3 * math.exp(math.sqrt(math.log(3)))))
    j = np.arange(1, 200_001)
    gamma = GAMMA_CONSTANT * np.log(np.maximum(j, 2)) / (j * np.exp(np.sqrt(np.log(j))))
    assert np.all(np.diff(gamma) <= 0)
    assert gamma.sum() < 1  # the tail beyond 2·10⁵ adds about 0.5 of the constant's 12.6: still below 1
    with pytest.raises(ValueError, match="integer ≥ 1"):
        lord_gamma(0)


def test_first_levels_follow_the_rule():
    alpha, w0 = 0.05, 0.025
    assert lord_plus_plus([]) == pytest.approx(lord_gamma(1) * w0)
    history = [{"alpha_t": lord_gamma(1) * w0, "rejected": False}]
    assert lord_plus_plus(history) == pytest.approx(lord_gamma(2) * w0)
    # a rejection at test 1 pays alpha − w0 spread by gamma from then on; a second pays alpha
    one = [{"alpha_t": lord_gamma(1) * w0, "rejected": True}]
    assert lord_plus_plus(one) == pytest.approx(lord_gamma(2) * w0 + (alpha - w0) * lord_gamma(1))
    two = [*one, {"alpha_t": lord_plus_plus(one), "rejected": True}]
    expected = lord_gamma(3) * w0 + (alpha - w0) * lord_gamma(2) + alpha * lord_gamma(1)
    assert lord_plus_plus(two) == pytest.approx(expected)


def test_levels_decay_without_rejections_and_recover_after_one():
    history = []
    levels = []
    for _ in range(30):
        level = lord_plus_plus(history)
        levels.append(level)
        history.append({"alpha_t": level, "rejected": False})
    assert all(later < earlier for earlier, later in itertools.pairwise(levels))
    history[-1]["rejected"] = True
    assert lord_plus_plus(history) > 10 * levels[-1]
    assert sum(levels) < 0.05


def test_a_history_spent_by_another_rule_is_refused():
    with pytest.raises(ValueError, match=r"history\[0\] ran at alpha_t 0.05, above"):
        lord_plus_plus([{"alpha_t": 0.05, "rejected": False}])
    # spending less than allowed is fine
    assert lord_plus_plus([{"alpha_t": 0.0, "rejected": False}]) == pytest.approx(lord_gamma(2) * 0.025)


def test_history_survives_a_json_round_trip():
    history = []
    for rejected in (False, True, False, False, True):
        history.append({"alpha_t": lord_plus_plus(history, alpha=0.1, w0=0.01), "rejected": rejected})
    again = json.loads(json.dumps(history))
    assert lord_plus_plus(again, alpha=0.1, w0=0.01) == lord_plus_plus(history, alpha=0.1, w0=0.01)


def test_a_custom_gamma_front_loads_the_spending():
    def gamma(j: int) -> float:
        return 0.5**j

    assert lord_plus_plus([], gamma=gamma) == pytest.approx(0.0125)


def test_false_discovery_rate_stays_below_alpha_on_simulated_streams():
    # 1,000 streams of 30 tests, a fifth of them true effects (p-values near 0), the rest null and uniform:
    # the average false discovery proportion, plus three Monte-Carlo standard errors, must stay below alpha.
    rng = np.random.default_rng(0)
    alpha, streams, tests = 0.05, 1000, 30
    fdp = np.empty(streams)
    levels_cache: dict[tuple[int, ...], float] = {}
    for s in range(streams):
        null = rng.random(tests) >= 0.2
        p = np.where(null, rng.random(tests), rng.random(tests) * 1e-4)
        history, false, total = [], 0, 0
        for t in range(tests):
            key = (*(i for i, h in enumerate(history) if h["rejected"]), t)
            level = levels_cache.get(key)
            if level is None:
                level = levels_cache[key] = lord_plus_plus(history, alpha=alpha)
            rejected = bool(p[t] <= level)
            history.append({"alpha_t": level, "rejected": rejected})
            total += rejected
            false += rejected and bool(null[t])
        fdp[s] = false / max(total, 1)
    assert fdp.mean() + 3 * fdp.std(ddof=1) / math.sqrt(streams) <= alpha
    assert fdp.mean() > 0  # the streams did make false discoveries: the check is not vacuous


@pytest.mark.parametrize(
    ("history", "options", "message"),
    [
        ([], {"alpha": 0}, "alpha must be"),
        ([], {"alpha": 0.05, "w0": 0.06}, "w0 must be"),
        ("abc", {}, "sequence of past tests"),
        ({"alpha_t": 0.001, "rejected": False}, {}, "sequence of past tests"),
        ([0.001], {}, r"history\[0\] must be a mapping"),
        ([{"alpha_t": "0.001", "rejected": False}], {}, r"history\[0\].alpha_t"),
        ([{"alpha_t": 0.001, "rejected": 1}], {}, r"history\[0\].rejected must be a bool"),
    ],
)
def test_bad_input_is_rejected(history, options, message):
    with pytest.raises(ValueError, match=message):
        lord_plus_plus(history, **options)
