from __future__ import annotations

import json
import math

import numpy as np
import pytest
from mlops_core.stats import SequentialResult, paired_sequential_test
from mlops_core.stats.sequential import CONTINUE, INFERIOR, NON_INFERIOR
from scipy import integrate, stats

# prior_pairs=2 is the uniform prior on q, where the mixtures have closed forms worked by hand below.
UNIFORM = 2.0


def m_plus_by_quadrature(wins: int, losses: int, boundary: float, prior_pairs: float) -> float:
    """M⁺ from its definition, integrated numerically: the prior's mass below the boundary plus the mixture of the
    likelihood ratios against the boundary above it."""
    prior = stats.beta(prior_pairs / 2, prior_pairs / 2)

    def ratio(theta: float) -> float:
        return (theta / boundary) ** wins * ((1 - theta) / (1 - boundary)) ** losses * prior.pdf(theta)

    return prior.cdf(boundary) + integrate.quad(ratio, boundary, 1, epsabs=1e-13, epsrel=1e-11)[0]


def wilson_upper(hits: int, n: int, z: float = 1.959963984540054) -> float:
    share = hits / n
    centre = share + z * z / (2 * n)
    spread = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return (centre + spread) / (1 + z * z / n)


# --- exact cases worked by hand (uniform prior, so M⁺(q0) = q0 + ∫_{q0}^1 ℓ(θ)/ℓ(q0) dθ) -------------------------


def test_one_win_at_margin_zero():
    # M⁺ = ½ + ∫_{½}^1 θ dθ / ½ = ½ + (3/8)/(1/2) = 5/4; M⁻ = ½ + ∫_0^{½} θ dθ / ½ = ½ + ¼ ≤ 1.
    result = paired_sequential_test(1, 0, 0, margin=0.0, prior_pairs=UNIFORM)
    assert result.p_non_inferior == pytest.approx(0.8, abs=1e-12)
    assert result.p_inferior == 1.0
    assert result.verdict == CONTINUE
    assert result.win_share == 1.0


def test_eight_straight_wins_decide_at_margin_zero_and_seven_do_not():
    # M⁺ = ½ + (2^W − ½)/(W + 1): 28.89 ≥ 20 for W = 8, 16.44 < 20 for W = 7.
    eight = paired_sequential_test(8, 0, 3, margin=0.0, prior_pairs=UNIFORM)
    seven = paired_sequential_test(7, 0, 3, margin=0.0, prior_pairs=UNIFORM)
    assert eight.p_non_inferior == pytest.approx(9 / 260, rel=1e-12)
    assert seven.p_non_inferior == pytest.approx(8 / 131.5, rel=1e-12)
    assert (eight.verdict, seven.verdict) == (NON_INFERIOR, CONTINUE)
    assert eight.decided_by == (
        "p_non_inferior 0.0346 ≤ alpha 0.05: 8 wins and 0 losses (win share 1.000; 3 ties not counted) "
        "rule out a win share below 0.5 (margin 0)"
    )


def test_one_pair_with_a_margin():
    # q0 = ¼. One win: M⁺ = ¼ + (15/32)/¼ = 17/8. One loss: M⁻ = ¾ + ∫_0^{¼} (1 − θ) dθ / ¾ = ¾ + (7/32)/(3/4) = 25/24.
    win = paired_sequential_test(1, 0, 0, margin=0.25, prior_pairs=UNIFORM)
    loss = paired_sequential_test(0, 1, 0, margin=0.25, prior_pairs=UNIFORM)
    assert win.p_non_inferior == pytest.approx(8 / 17, rel=1e-12)
    assert loss.p_inferior == pytest.approx(24 / 25, rel=1e-12)
    # a loss is no evidence that the candidate is within the margin, a win none that it is worse
    assert loss.p_non_inferior == 1.0 and win.p_inferior == 1.0


def test_lower_bound_is_where_the_hand_formula_crosses_one_over_alpha():
    # Eight wins: M⁺(θ) = θ + (1 − θ⁹)/(9 θ⁸); the lower bound is the θ where it equals 20.
    lower, upper = paired_sequential_test(8, 0, 0, margin=0.0, prior_pairs=UNIFORM).interval
    assert lower + (1 - lower**9) / (9 * lower**8) == pytest.approx(20.0, rel=1e-9)
    assert upper == 1.0


@pytest.mark.parametrize(
    ("wins", "losses", "margin"), [(3, 1, 0.05), (30, 12, 0.05), (45, 55, 0.1), (150, 130, 0.0), (2, 9, 0.3)]
)
def test_default_prior_equals_its_definition_integrated_numerically(wins, losses, margin):
    result = paired_sequential_test(wins, losses, 7, margin=margin)
    expected = m_plus_by_quadrature(wins, losses, 0.5 - margin, 40.0)
    assert result.p_non_inferior == pytest.approx(min(1.0, 1.0 / expected), rel=1e-8)


# --- ties, symmetry, consistency ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ties", [0, 1, 10**9])
def test_ties_alone_always_continue(ties):
    result = paired_sequential_test(0, 0, ties)
    assert result.verdict == CONTINUE
    assert (result.p_non_inferior, result.p_inferior) == (1.0, 1.0)
    assert result.win_share is None and result.interval == (0.0, 1.0)
    assert result.decided_by == f"no discordant pair yet ({ties} ties are no evidence): both p-values are 1"


def test_ties_change_nothing_but_their_count():
    few, many = paired_sequential_test(40, 20, 0), paired_sequential_test(40, 20, 100_000)
    assert (few.verdict, few.p_non_inferior, few.p_inferior, few.interval) == (
        many.verdict,
        many.p_non_inferior,
        many.p_inferior,
        many.interval,
    )
    assert many.ties == 100_000


@pytest.mark.parametrize(("wins", "losses"), [(0, 1), (5, 2), (17, 30), (60, 41), (200, 150)])
def test_swapping_wins_and_losses_mirrors_the_tests_at_margin_zero(wins, losses):
    forward = paired_sequential_test(wins, losses, 4, margin=0.0)
    mirror = paired_sequential_test(losses, wins, 4, margin=0.0)
    assert forward.p_non_inferior == pytest.approx(mirror.p_inferior, rel=1e-9)
    assert forward.p_inferior == pytest.approx(mirror.p_non_inferior, rel=1e-9)
    assert forward.interval[0] == pytest.approx(1 - mirror.interval[1], abs=1e-9)
    assert forward.interval[1] == pytest.approx(1 - mirror.interval[0], abs=1e-9)
    swapped = {NON_INFERIOR: INFERIOR, INFERIOR: NON_INFERIOR, CONTINUE: CONTINUE}
    assert mirror.verdict == swapped[forward.verdict]


def test_a_win_never_weakens_and_a_loss_never_strengthens_the_evidence():
    for wins in range(0, 60, 3):
        for losses in range(0, 60, 3):
            base = paired_sequential_test(wins, losses, 0)
            won = paired_sequential_test(wins + 1, losses, 0)
            lost = paired_sequential_test(wins, losses + 1, 0)
            assert won.p_non_inferior <= base.p_non_inferior + 1e-12 <= lost.p_non_inferior + 2e-12
            assert lost.p_inferior <= base.p_inferior + 1e-12 <= won.p_inferior + 2e-12


def test_the_verdict_is_where_the_boundary_lies_against_the_interval():
    margin = 0.05
    boundary = 0.5 - margin
    for wins in range(0, 120, 4):
        for losses in range(0, 120, 4):
            result = paired_sequential_test(wins, losses, 0, margin=margin)
            lower, upper = result.interval
            assert 0.0 <= lower <= upper <= 1.0
            if result.win_share is not None:
                assert lower <= result.win_share <= upper
            # away from the knife edge, the interval and the p-values agree
            if abs(lower - boundary) > 1e-6 and abs(upper - boundary) > 1e-6:
                assert (result.verdict == NON_INFERIOR) == (lower > boundary)
                assert (result.verdict == INFERIOR) == (upper < boundary)
            assert (result.verdict == NON_INFERIOR) == (result.p_non_inferior <= result.alpha)
            assert (result.verdict == INFERIOR) == (result.p_inferior <= result.alpha)


def test_inferior_and_continue_sentences_carry_the_numbers():
    inferior = paired_sequential_test(40, 110, 2)
    assert inferior.verdict == INFERIOR
    assert inferior.decided_by.startswith(f"p_inferior {inferior.p_inferior:.3g} ≤ alpha 0.05: 40 wins and 110 losses")
    assert inferior.decided_by.endswith("rule out a win share of 0.45 or more (margin 0.05)")
    undecided = paired_sequential_test(30, 25, 120)
    assert undecided.verdict == CONTINUE
    assert undecided.decided_by == (
        f"neither p_non_inferior {undecided.p_non_inferior:.3g} nor p_inferior {undecided.p_inferior:.3g} is ≤ "
        "alpha 0.05 after 30 wins and 25 losses (win share 0.545; 120 ties not counted), against the boundary 0.45 "
        "(margin 0.05)"
    )


def test_huge_counts_stay_finite_and_json_safe():
    for wins, losses in [(10**7, 10**7), (10**6, 0), (0, 10**6), (10**7, 9 * 10**6)]:
        result = paired_sequential_test(wins, losses, 10**8)
        payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
        assert payload["interval"] == list(result.interval)
        assert 0.0 <= payload["p_non_inferior"] <= 1.0 and 0.0 <= payload["p_inferior"] <= 1.0
    assert paired_sequential_test(10**7, 10**7, 0).verdict == NON_INFERIOR
    assert paired_sequential_test(0, 10**6, 0).verdict == INFERIOR


def test_to_dict_has_every_field_and_numpy_counts_are_accepted():
    result = paired_sequential_test(np.int64(12), np.int32(3), np.uint8(5), margin=0.1, alpha=0.1)
    assert isinstance(result, SequentialResult)
    assert result.to_dict() == {
        "verdict": result.verdict,
        "decided_by": result.decided_by,
        "wins": 12,
        "losses": 3,
        "ties": 5,
        "margin": 0.1,
        "alpha": 0.1,
        "p_non_inferior": result.p_non_inferior,
        "p_inferior": result.p_inferior,
        "win_share": 0.8,
        "interval": list(result.interval),
    }
    assert type(result.wins) is int


# --- error paths ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"wins": -1}, "wins must be a count (an integer ≥ 0, not a bool), got -1"),
        ({"losses": True}, "losses must be a count (an integer ≥ 0, not a bool), got True"),
        ({"ties": 2.0}, "ties must be a count (an integer ≥ 0, not a bool), got 2.0"),
        ({"wins": "3"}, "wins must be a count (an integer ≥ 0, not a bool), got '3'"),
        ({"margin": 0.5}, "margin must be a finite number in [0, 0.5), got 0.5"),
        ({"margin": -0.01}, "margin must be a finite number in [0, 0.5), got -0.01"),
        ({"margin": False}, "margin must be a finite number in [0, 0.5), got False"),
        ({"margin": float("nan")}, "margin must be a finite number in [0, 0.5), got nan"),
        ({"alpha": 0.0}, "alpha must be a finite number in (0, 0.5], got 0.0"),
        ({"alpha": 0.51}, "alpha must be a finite number in (0, 0.5], got 0.51"),
        ({"alpha": True}, "alpha must be a finite number in (0, 0.5], got True"),
        ({"alpha": "0.05"}, "alpha must be a finite number in (0, 0.5], got '0.05'"),
        ({"prior_pairs": 0}, "prior_pairs must be a finite number > 0, got 0"),
        ({"prior_pairs": float("inf")}, "prior_pairs must be a finite number > 0, got inf"),
    ],
)
def test_invalid_arguments_name_the_argument_and_the_value(kwargs, message):
    arguments = {"wins": 3, "losses": 2, "ties": 1} | kwargs
    counts = [arguments.pop(name) for name in ("wins", "losses", "ties")]
    with pytest.raises(ValueError) as raised:
        paired_sequential_test(*counts, **arguments)
    assert str(raised.value) == message


def test_the_limits_of_the_ranges_are_accepted():
    assert paired_sequential_test(0, 0, 0, margin=0.0, alpha=0.5).verdict == CONTINUE
    # at margin 0.4999 the boundary is q0 = 0.0001: five wins in ten rule it out even at alpha 1e-9
    assert paired_sequential_test(5, 5, 0, margin=0.4999, alpha=1e-9).verdict == NON_INFERIOR
    assert paired_sequential_test(1, 0, 0, margin=0.4999, alpha=1e-9).verdict == CONTINUE


# --- seeded simulation under continuous monitoring ----------------------------------------------------------------

MARGIN, ALPHA = 0.05, 0.05
BOUNDARY = 0.5 - MARGIN
DISCORDANT = 0.2  # the share of pairs where exactly one model is right


def first_verdicts(q: float, seeds: range, looks: int, batch: int) -> list[tuple[int, str] | None]:
    """Per seed: the pairs seen and the verdict at the first look that decided, or None. Each look sees the totals
    only, as the pipeline does."""
    out: list[tuple[int, str] | None] = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        discordant = rng.random((looks, batch)) < DISCORDANT
        won = discordant & (rng.random((looks, batch)) < q)
        wins, disagreements = np.cumsum(won.sum(axis=1)), np.cumsum(discordant.sum(axis=1))
        first = None
        for look in range(looks):
            pairs = (look + 1) * batch
            w, d = int(wins[look]), int(disagreements[look])
            result = paired_sequential_test(w, d - w, pairs - d, margin=MARGIN, alpha=ALPHA)
            if result.verdict != CONTINUE:
                first = (pairs, result.verdict)
                break
        out.append(first)
    return out


def test_at_the_null_boundary_twenty_looks_rarely_reach_a_verdict():
    # 500 streams with q exactly at the boundary, where both nulls hold: every verdict is wrong. 20 looks of 250
    # pairs (about 1,000 discordant pairs at the end). Measured: 2 non_inferior, 3 inferior.
    seeds = 500
    firsts = first_verdicts(BOUNDARY, range(seeds), looks=20, batch=250)
    wrong_non_inferior = sum(1 for f in firsts if f is not None and f[1] == NON_INFERIOR)
    wrong_inferior = sum(1 for f in firsts if f is not None and f[1] == INFERIOR)
    assert wilson_upper(wrong_non_inferior, seeds) <= ALPHA
    assert wilson_upper(wrong_inferior, seeds) <= ALPHA


@pytest.mark.parametrize(
    ("q", "expected", "within_pairs"),
    [
        # wins 65 of 100 disagreements: measured median 300 pairs, 80th percentile 400
        (0.65, NON_INFERIOR, 500),
        # wins 25 of 100 disagreements: measured median 400 pairs, 80th percentile 550
        (0.25, INFERIOR, 650),
    ],
)
def test_a_clearly_different_candidate_is_decided_within_a_few_hundred_pairs(q, expected, within_pairs):
    seeds = 200
    batch = 50
    firsts = first_verdicts(q, range(10_000, 10_000 + seeds), looks=within_pairs // batch, batch=batch)
    assert not any(f is not None and f[1] != expected for f in firsts)
    assert sum(1 for f in firsts if f is not None) >= 0.8 * seeds
