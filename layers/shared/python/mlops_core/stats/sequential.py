"""Always-valid paired sequential test of a candidate against Production on the same requests (mSPRT).

Every labelled request both models answered is a pair. Ties (both right, both wrong) say nothing about which model
is better and are never evidence; the test conditions on the discordant pairs, as McNemar's test does:

    q = P(candidate right and Production wrong | exactly one of them is right)

q = ½ means the two models are equally accurate. The margin is on this win-share scale, where it does not depend
on how often the models disagree: "worse by more than the margin" reads q < q0 with the boundary

    q0 = ½ − margin                 (margin 0.05: q0 = 0.45, the candidate wins 45 of 100 disagreements)

In accuracy, Δ = P(discordant) · (2q − 1), so the boundary is a loss of 2 · margin · P(discordant): at margin 0.05
and models that disagree on 20% of requests, two points of accuracy.

Two one-sided hypotheses share that boundary, each tested at level alpha:

    non-inferiority   H0: q ≤ q0  (worse than Production by more than the margin)   rejected → "non_inferior"
    inferiority       H0: q ≥ q0  (within the margin, or better)                     rejected → "inferior"
    neither rejected                                                                             → "continue"

The reverse test is "worse by more than the margin", not "simply worse": the margin is the regression the gate
accepts, so a candidate that loses a little but within it must not be called inferior, and with one boundary the
two verdicts split the parameter space (at most one null is false, and a test with a mixture over the alternative
has power one, so every candidate with q ≠ q0 is decided eventually). At q = q0 exactly both nulls hold, and the
chance of either wrong verdict is at most 2·alpha.

Statistic. A Beta(s/2, s/2) prior π over q (s = `prior_pairs`, centred on "as good as Production": it carries the
weight of s discordant pairs, which tunes power to q near ½) is turned into one mixture per side. For the
non-inferiority side, with W wins and L losses and likelihood ℓ(θ) = θ^W (1 − θ)^L,

    M⁺(q0) = π([0, q0)) + ∫_{q0}^1 ℓ(θ) / ℓ(q0) dπ(θ)

a mixture of the likelihood ratios of θ against q0 for θ ≥ q0, with the prior's mass below q0 collapsed onto q0
(ratio 1). Under any q_t ≤ q0, each pair's ratio for θ ≥ q0 has expectation ≤ 1, so M⁺ is a nonnegative
supermartingale with M⁺ = 1 before any pair, under every point of the composite null, even when q drifts from day
to day; ties multiply it by 1. Ville's inequality gives P(sup_n M⁺_n ≥ 1/alpha) ≤ alpha. M⁻ mirrors it.

Why no running maximum is kept: M⁺ depends on the totals W and L only (the prior is conjugate), and the gate
rejects when the CURRENT value reaches 1/alpha. Every look that rejects lies inside the event {sup_n M⁺_n ≥ 1/alpha},
so however often and whenever the pipeline looks, with whatever stopping rule, the chance it ever wrongly rejects
is at most alpha: p = min(1, 1/M⁺) from the current totals is an anytime-valid p-value. The running maximum
would only make p monotone and add the crossings between looks, which the pipeline never sees anyway (the API
keeps counts, not the order of pairs); keeping no state means there is nothing to lose, corrupt or mismatch in S3.

Confidence sequence. Collapsing the prior onto the boundary (rather than truncating and renormalising it) makes
log M⁺(θ) strictly decreasing in θ below the observed win share (its derivative is −(log ℓ)′(θ) times a positive
integral) and M⁺ ≤ 1 above it, so the boundaries the non-inferiority test rejects are exactly [0, lower), and
likewise (upper, 1] for the other side. [lower, upper] holds every boundary neither test rejects: each bound is
an always-valid one-sided bound at level alpha, the pair covers q at all times with probability ≥ 1 − 2·alpha
(as a TOST at alpha matches a 1 − 2·alpha interval), and the verdict is where q0 lies: non_inferior iff q0 <
lower, inferior iff q0 > upper.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Final

from scipy.optimize import brentq
from scipy.special import betainc, betaln

NON_INFERIOR: Final = "non_inferior"
INFERIOR: Final = "inferior"
CONTINUE: Final = "continue"
PRIOR_PAIRS: Final = 40.0
# Bounds closer than this to 0 or 1 are reported as 0 or 1 (conservative); root tolerance of the bounds.
_EDGE = 1e-12
_XTOL = 1e-12


@dataclass(frozen=True)
class SequentialResult:
    verdict: str  # NON_INFERIOR | INFERIOR | CONTINUE
    decided_by: str  # one sentence naming the condition that decided, with the numbers
    wins: int  # pairs where only the candidate was right
    losses: int  # pairs where only Production was right
    ties: int  # both right or both wrong: reported, never evidence
    margin: float
    alpha: float
    p_non_inferior: float  # always-valid p-value of H0: q ≤ ½ − margin
    p_inferior: float  # always-valid p-value of H0: q ≥ ½ − margin
    win_share: float | None  # wins / (wins + losses); None before any discordant pair
    interval: tuple[float | None, float | None]  # boundaries neither test rejects: covers q w.p. ≥ 1 − 2·alpha

    def to_dict(self) -> dict:
        """Plain JSON values: every float here is finite, the interval a two-item list."""
        out = asdict(self)
        out["interval"] = list(self.interval)
        return out


def paired_sequential_test(
    wins: int,
    losses: int,
    ties: int,
    *,
    margin: float = 0.05,
    alpha: float = 0.05,
    prior_pairs: float = PRIOR_PAIRS,
) -> SequentialResult:
    """The verdict of the two always-valid one-sided tests at the boundary q0 = ½ − margin, from the totals so far.

    Safe to call after every batch of pairs, forever: the chance of ever reaching a wrong verdict is at most alpha
    per side. `prior_pairs` is the weight (in discordant pairs) of the Beta prior centred on q = ½."""
    wins, losses, ties = (_count(name, value) for name, value in (("wins", wins), ("losses", losses), ("ties", ties)))
    margin = _real("margin", margin, lambda v: 0.0 <= v < 0.5, "in [0, 0.5)")
    alpha = _real("alpha", alpha, lambda v: 0.0 < v <= 0.5, "in (0, 0.5]")
    prior_pairs = _real("prior_pairs", prior_pairs, lambda v: v > 0.0, "> 0")
    boundary = 0.5 - margin
    mixture = _Mixture(wins, losses, prior_pairs / 2.0)
    threshold = math.log(1.0 / alpha)
    log_upper, log_lower = mixture.log_above(boundary), mixture.log_below(boundary)
    p_non_inferior, p_inferior = _p(log_upper), _p(log_lower)
    interval = (mixture.lower_bound(threshold), mixture.upper_bound(threshold))
    discordant = wins + losses
    share = wins / discordant if discordant else None
    counts = (
        f"{wins} wins and {losses} losses (win share {share:.3f}; {ties} ties not counted)" if share is not None else ""
    )
    if log_upper >= threshold:
        verdict = NON_INFERIOR
        decided_by = (
            f"p_non_inferior {p_non_inferior:.3g} ≤ alpha {alpha:g}: {counts} rule out a win share below "
            f"{boundary:g} (margin {margin:g})"
        )
    elif log_lower >= threshold:
        verdict = INFERIOR
        decided_by = (
            f"p_inferior {p_inferior:.3g} ≤ alpha {alpha:g}: {counts} rule out a win share of {boundary:g} "
            f"or more (margin {margin:g})"
        )
    elif discordant == 0:
        verdict = CONTINUE
        decided_by = f"no discordant pair yet ({ties} ties are no evidence): both p-values are 1"
    else:
        verdict = CONTINUE
        decided_by = (
            f"neither p_non_inferior {p_non_inferior:.3g} nor p_inferior {p_inferior:.3g} is ≤ alpha {alpha:g} "
            f"after {counts}, against the boundary {boundary:g} (margin {margin:g})"
        )
    return SequentialResult(
        verdict=verdict,
        decided_by=decided_by,
        wins=wins,
        losses=losses,
        ties=ties,
        margin=margin,
        alpha=alpha,
        p_non_inferior=p_non_inferior,
        p_inferior=p_inferior,
        win_share=share,
        interval=interval,
    )


@dataclass(frozen=True)
class _Mixture:
    """log M⁺(θ) and log M⁻(θ) for the counts W, L under a Beta(a, a) prior."""

    wins: int
    losses: int
    a: float

    def _log_ratio_scale(self, theta: float) -> float:
        # log of B(a + W, a + L) / (B(a, a) ℓ(θ)): the integral of ℓ(·)/ℓ(θ) dπ over [0, 1]
        a, won, lost = self.a, self.wins, self.losses
        return betaln(a + won, a + lost) - betaln(a, a) - won * math.log(theta) - lost * math.log1p(-theta)

    def log_above(self, theta: float) -> float:
        """log M⁺(θ): the prior's mass below θ, plus the mixture of the ratios for θ' ≥ θ."""
        if self.wins + self.losses == 0:
            return 0.0  # ℓ ≡ 1, so M⁺ is 1 exactly (the two masses would sum to 1 only up to rounding)
        side = betainc(self.a + self.losses, self.a + self.wins, 1.0 - theta)  # posterior mass above θ
        return _log_add(betainc(self.a, self.a, theta), self._log_ratio_scale(theta), side)

    def log_below(self, theta: float) -> float:
        """log M⁻(θ): the prior's mass above θ, plus the mixture of the ratios for θ' ≤ θ."""
        if self.wins + self.losses == 0:
            return 0.0
        side = betainc(self.a + self.wins, self.a + self.losses, theta)  # posterior mass below θ
        return _log_add(betainc(self.a, self.a, 1.0 - theta), self._log_ratio_scale(theta), side)

    def lower_bound(self, threshold: float) -> float:
        """The smallest boundary the non-inferiority test does not reject. log M⁺ falls strictly through the
        threshold once, below the win share (M⁺ ≤ 1 above it); with no win it never exceeds 1."""
        if self.wins == 0 or self.log_above(_EDGE) < threshold:
            return 0.0
        return float(brentq(lambda t: self.log_above(t) - threshold, _EDGE, self._share(), xtol=_XTOL))

    def upper_bound(self, threshold: float) -> float:
        """The largest boundary the inferiority test does not reject: the mirror of `lower_bound`."""
        if self.losses == 0 or self.log_below(1.0 - _EDGE) < threshold:
            return 1.0
        return float(brentq(lambda t: self.log_below(t) - threshold, self._share(), 1.0 - _EDGE, xtol=_XTOL))

    def _share(self) -> float:
        # kept off 0 and 1, where ℓ's logarithm is not finite
        return min(max(self.wins / (self.wins + self.losses), _EDGE), 1.0 - _EDGE)


def _log_add(rest: float, log_scale: float, side: float) -> float:
    """log(rest + exp(log_scale) · side) without overflow; side underflows to 0 only where M ≤ 1 already."""
    log_rest = math.log(rest) if rest > 0 else -math.inf
    log_side = log_scale + math.log(side) if side > 0 else -math.inf
    high = max(log_rest, log_side)
    if high == -math.inf:
        return high
    return high + math.log(math.exp(log_rest - high) + math.exp(log_side - high))


def _p(log_statistic: float) -> float:
    return 1.0 if log_statistic <= 0 else math.exp(-log_statistic)


def _real(name: str, value: object, in_range: Callable[[float], bool], expected: str) -> float:
    real = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not real or not in_range(float(value)):  # type: ignore[arg-type]
        raise ValueError(f"{name} must be a finite number {expected}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _count(name: str, value: object) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a count (an integer ≥ 0, not a bool), got {value!r}")
    return int(value)
