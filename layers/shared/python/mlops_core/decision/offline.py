"""The offline promotion test, pre-registered: one function from labels and both models' predictions to a verdict.

Plan (fixed before the data are seen, by the parameters):

- H0: ΔF1-macro ≤ δ_min against H1: ΔF1-macro > δ_min, ΔF1-macro = F1-macro(candidate) − F1-macro(production)
  on the same held-out rows, one-sided at level α_t (the run's level from the spending rule, `spending`; α when
  there is none).
- The test: where the models disagree on few rows (≤ `sign_flip_max_disagreements`) and δ_min = 0, the paired
  sign-flip randomization test (`stats.sign_flip`: exact enumeration, or seeded Monte Carlo when the outcomes
  are too many), which is exact at any n; otherwise the BCa bootstrap (`stats.bca`): reject when the one-sided
  lower bound at level 1 − α_t exceeds δ_min, which is the same as its p-value ≤ α_t. The BCa bounds (one-sided
  1 − α_t, two-sided 1 − 2α_t) are reported in both cases.
- Power: the minimum detectable effect at the rows available and the rows needed for `power` at
  δ_min + margin (`stats.planning`, from the jackknife SE).
- Guardrails: no class's F1 may fall by more than `class_margin`: one-sided per-class tests, Holm-adjusted at
  `class_alpha` (`stats.guardrails`); BCa tests of ΔF1_c ≥ −class_margin, or, where few rows disagree (the
  bootstrap of a handful of rows calls any fall certain), the exact sign-flip p-values of each class's fall
  together with an observed fall beyond the margin.

Verdict, first match wins:
1. `class_regression`: some class fails its guardrail (even when ΔF1-macro improved: a macro mean hides it);
2. `significant_improvement`: the test rejected H0;
3. `insufficient_data`: not rejected, and fewer rows than the power plan needs (with how many more);
4. `not_significant`: not rejected with enough rows for the planned power: no gain of δ_min + margin.

Guarantee: under H0 the chance of `significant_improvement` is at most α_t (exactly, for the sign-flip test;
up to the bootstrap's approximation for BCa). `insufficient_data` and `not_significant` both keep Production.
A rejection is valid whatever the power; a low-powered rejection tends to overstate the effect.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypedDict

import numpy as np

from mlops_core.policy import NOT_SIGNIFICANT, SIGNIFICANT_IMPROVEMENT
from mlops_core.stats.bca import TOLERANCE
from mlops_core.stats.bootstrap import HISTOGRAM_BINS, PairedBootstrap
from mlops_core.stats.guardrails import ClassCheck, class_guardrails
from mlops_core.stats.joint import JointCounts, joint_counts
from mlops_core.stats.metrics import metrics_from_confusion
from mlops_core.stats.planning import SamplePlan, plan_sample_size
from mlops_core.stats.sign_flip import MAX_EXACT_OUTCOMES, sign_flip_test

INSUFFICIENT_DATA: Final = "insufficient_data"
CLASS_REGRESSION: Final = "class_regression"
VERDICTS: Final = (SIGNIFICANT_IMPROVEMENT, NOT_SIGNIFICANT, INSUFFICIENT_DATA, CLASS_REGRESSION)
BCA_BOOTSTRAP: Final = "bca_bootstrap"

SIGN_FLIP_MAX_DISAGREEMENTS = 100
# Resamples are raised to at least this many over the smallest tail probability a bound or a Holm step needs,
# so that bound rests on that many resamples beyond it; and capped, for time and memory.
MIN_TAIL_RESAMPLES = 20
MAX_RESAMPLES = 2_000_000
_MAX_DRAW_FLOATS = 16_000_000


class ClassCheckDict(TypedDict):
    label: int | str
    support: int
    f1_production: float
    f1_candidate: float
    delta: float
    p_value: float | None
    p_adjusted: float | None
    passed: bool


class IntervalDict(TypedDict):
    low: float | None
    high: float | None
    level: float  # 1 − 2·alpha_t


class ConfusionDict(TypedDict):
    labels: list[int | str]
    production: list[list[int]]  # rows = true label, columns = predicted, in `labels` order
    candidate: list[list[int]]


class OfflineDecisionDict(TypedDict):
    verdict: Literal["significant_improvement", "not_significant", "insufficient_data", "class_regression"]
    passed: bool  # verdict == significant_improvement
    rejected: bool  # the test rejected H0 (record it in the spending history, whatever the verdict)
    decided_by: str
    test: Literal["exact_sign_flip", "monte_carlo_sign_flip", "bca_bootstrap"]
    test_reason: str
    metric: Literal["f1_macro"]
    n: int
    n_disagreements: int
    alpha: float
    alpha_t: float
    delta_min: float
    margin: float
    power: float
    class_margin: float
    class_alpha: float
    n_resamples: int
    n_resamples_requested: int
    seed: int
    f1_production: float
    f1_candidate: float
    observed_delta: float
    p_value: float
    bootstrap_p_value: float
    sign_flip_p_value: float | None  # the sign-flip p of ΔF1-macro when that test decided, else None
    lower_bound: float | None  # BCa, one-sided at level 1 − alpha_t; None if too few resamples for it
    bound_level: float
    interval: IntervalDict
    se: float | None
    bias_correction: float
    acceleration: float
    mde: float | None
    required_n: int | None
    missing_rows: int | None
    sd_per_row: float | None
    variance: str
    classes: list[ClassCheckDict]
    confusion: ConfusionDict
    histogram: dict[str, list[float]]


@dataclass(frozen=True)
class OfflineDecision:
    """The offline gate's outcome; `to_dict()` is JSON-safe (no NaN or infinity: None instead)."""

    verdict: str
    rejected: bool
    decided_by: str
    test: str
    test_reason: str
    n: int
    n_disagreements: int
    alpha: float
    alpha_t: float
    delta_min: float
    margin: float
    power: float
    class_margin: float
    class_alpha: float
    n_resamples: int
    n_resamples_requested: int
    seed: int
    f1_production: float
    f1_candidate: float
    p_value: float
    bootstrap_p_value: float
    sign_flip_p_value: float | None
    lower_bound: float | None
    upper_bound: float | None
    bias_correction: float
    acceleration: float
    plan: SamplePlan
    classes: tuple[ClassCheck, ...]
    labels: tuple[Any, ...]
    confusion_production: tuple[tuple[int, ...], ...]
    confusion_candidate: tuple[tuple[int, ...], ...]
    histogram: dict[str, list[float]] = field(repr=False)

    @property
    def passed(self) -> bool:
        return self.verdict == SIGNIFICANT_IMPROVEMENT

    @property
    def observed_delta(self) -> float:
        return self.f1_candidate - self.f1_production

    def to_dict(self) -> OfflineDecisionDict:
        plan = self.plan
        return OfflineDecisionDict(
            verdict=self.verdict,  # type: ignore[typeddict-item]
            passed=self.passed,
            rejected=self.rejected,
            decided_by=self.decided_by,
            test=self.test,  # type: ignore[typeddict-item]
            test_reason=self.test_reason,
            metric="f1_macro",
            n=self.n,
            n_disagreements=self.n_disagreements,
            alpha=self.alpha,
            alpha_t=self.alpha_t,
            delta_min=self.delta_min,
            margin=self.margin,
            power=self.power,
            class_margin=self.class_margin,
            class_alpha=self.class_alpha,
            n_resamples=self.n_resamples,
            n_resamples_requested=self.n_resamples_requested,
            seed=self.seed,
            f1_production=self.f1_production,
            f1_candidate=self.f1_candidate,
            observed_delta=self.observed_delta,
            p_value=self.p_value,
            bootstrap_p_value=self.bootstrap_p_value,
            sign_flip_p_value=self.sign_flip_p_value,
            lower_bound=self.lower_bound,
            bound_level=1.0 - self.alpha_t,
            interval=IntervalDict(low=self.lower_bound, high=self.upper_bound, level=1.0 - 2.0 * self.alpha_t),
            se=plan.se,
            bias_correction=self.bias_correction,
            acceleration=self.acceleration,
            mde=plan.mde,
            required_n=plan.required_n,
            missing_rows=plan.missing_rows,
            sd_per_row=plan.sd_per_row,
            variance=plan.variance,
            classes=[ClassCheckDict(**check.to_dict()) for check in self.classes],  # type: ignore[typeddict-item]
            confusion=ConfusionDict(
                labels=list(self.labels),
                production=[list(row) for row in self.confusion_production],
                candidate=[list(row) for row in self.confusion_candidate],
            ),
            histogram={key: list(values) for key, values in self.histogram.items()},
        )


def _probability(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    return float(value)


def _number(value: Any, name: str, *, low: float, high: float, low_open: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value > high or value < low or (low_open and value == low):
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be a number in {bracket}{low}, {high}], got {value!r}")
    return float(value)


def _count(value: Any, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def resamples_needed(requested: int, *, alpha_t: float, class_alpha: float, n_classes: int) -> int:
    """The requested resamples, raised so the smallest tail used (α_t, or class_alpha/K for Holm's first step)
    holds MIN_TAIL_RESAMPLES resamples; capped at MAX_RESAMPLES and at a memory budget for many classes."""
    smallest_tail = min(alpha_t, class_alpha / max(n_classes, 1))
    needed = max(requested, math.ceil(MIN_TAIL_RESAMPLES / smallest_tail) - 1)
    return int(min(needed, MAX_RESAMPLES, max(requested, _MAX_DRAW_FLOATS // (1 + n_classes))))


def _pct(level: float) -> str:
    """A confidence level as a percentage, the tail to two significant digits less trailing zeros: 95%, 99.87%."""
    tail = 100.0 * (1.0 - level)
    decimals = max(0, 1 - math.floor(math.log10(tail))) if tail > 0 else 0
    return f"{100 * level:.{decimals}f}".rstrip("0").rstrip(".") + "%"


def offline_decision(
    y_true: Any,
    pred_production: Any,
    pred_candidate: Any,
    *,
    alpha: float = 0.05,
    alpha_t: float | None = None,
    delta_min: float = 0.0,
    margin: float = 0.02,
    power: float = 0.8,
    class_margin: float = 0.05,
    class_alpha: float = 0.05,
    n_resamples: int = 9_999,
    seed: int = 42,
    sign_flip_max_disagreements: int = SIGN_FLIP_MAX_DISAGREEMENTS,
    max_exact_outcomes: int = MAX_EXACT_OUTCOMES,
) -> OfflineDecision:
    """Decide whether the candidate beats Production on the held-out rows (see the module docstring).

    alpha: the target level (what the spending rule spends); alpha_t: this run's level from the spending rule
    (`spending.lord_plus_plus`), alpha when None. Labels may be ints or strings.
    """
    alpha = _probability(alpha, "alpha")
    level = alpha if alpha_t is None else _probability(alpha_t, "alpha_t")
    if level > 0.5:
        raise ValueError(f"alpha_t must be at most 0.5 for a one-sided test, got {level!r}")
    delta_min = _number(delta_min, "delta_min", low=-1.0, high=1.0)
    margin = _number(margin, "margin", low=0.0, high=1.0, low_open=True)
    power = _probability(power, "power")
    class_margin = _number(class_margin, "class_margin", low=0.0, high=1.0)
    class_alpha = _probability(class_alpha, "class_alpha")
    requested = _count(n_resamples, "n_resamples", minimum=1)
    seed = _count(seed, "seed", minimum=0)
    sign_flip_max_disagreements = _count(sign_flip_max_disagreements, "sign_flip_max_disagreements", minimum=0)
    max_exact_outcomes = _count(max_exact_outcomes, "max_exact_outcomes", minimum=1)

    joint = joint_counts(y_true, pred_production, pred_candidate)
    resamples = resamples_needed(requested, alpha_t=level, class_alpha=class_alpha, n_classes=joint.k)
    paired = PairedBootstrap.run(joint, n_resamples=resamples, seed=seed)
    lower = float(paired.bca.lower(level)[0])
    upper = float(paired.bca.upper(level)[0])
    bootstrap_p = float(paired.bca.p_greater(delta_min)[0])
    d = joint.n_disagreements

    sign_flip_p, flip = None, None
    if d <= sign_flip_max_disagreements:
        flip = sign_flip_test(joint, n_resamples=resamples, seed=seed, max_exact_outcomes=max_exact_outcomes)
    if flip is not None and delta_min == 0.0:
        test, sign_flip_p, p_value = flip.test, flip.p_value, flip.p_value
        test_reason = (
            f"{flip.reason}; a sign-flip test as δ_min = 0 and {d:,} ≤ {sign_flip_max_disagreements} rows disagree"
        )
        rejected = p_value <= level
    else:
        why = (
            f"δ_min {delta_min:+.4f} ≠ 0, beyond a sign-flip test of exchangeability"
            if delta_min != 0.0
            else f"{d:,} disagreeing rows > {sign_flip_max_disagreements}"
        )
        test, p_value = BCA_BOOTSTRAP, bootstrap_p
        test_reason = f"{BCA_BOOTSTRAP}: {why}; {resamples:,} multinomial resamples, seed {seed}"
        rejected = lower > delta_min + TOLERANCE

    plan = plan_sample_size(joint, alpha=level, power=power, delta_min=delta_min, margin=margin)
    checks = tuple(
        class_guardrails(
            paired,
            margin=class_margin,
            alpha=class_alpha,
            sign_flip_p=None if flip is None else flip.class_p_values,
        )
    )
    verdict, decided_by = _verdict(
        joint, test, rejected, p_value, lower, level, delta_min, plan, checks, class_margin, class_alpha
    )
    confusion_a, confusion_b = joint.confusion("a"), joint.confusion("b")
    counts, edges = np.histogram(paired.bca.draws[:, 0], bins=HISTOGRAM_BINS)
    return OfflineDecision(
        verdict=verdict,
        rejected=bool(rejected),
        decided_by=decided_by,
        test=test,
        test_reason=test_reason,
        n=joint.n,
        n_disagreements=d,
        alpha=alpha,
        alpha_t=level,
        delta_min=delta_min,
        margin=margin,
        power=power,
        class_margin=class_margin,
        class_alpha=class_alpha,
        n_resamples=resamples,
        n_resamples_requested=requested,
        seed=seed,
        f1_production=metrics_from_confusion(confusion_a)["f1_macro"],
        f1_candidate=metrics_from_confusion(confusion_b)["f1_macro"],
        p_value=float(p_value),
        bootstrap_p_value=bootstrap_p,
        sign_flip_p_value=sign_flip_p,
        lower_bound=_finite(lower),
        upper_bound=_finite(upper),
        bias_correction=float(paired.bca.z0[0]),
        acceleration=float(paired.bca.acceleration[0]),
        plan=plan,
        classes=checks,
        labels=tuple(joint.labels.tolist()),
        confusion_production=tuple(tuple(row) for row in confusion_a.tolist()),
        confusion_candidate=tuple(tuple(row) for row in confusion_b.tolist()),
        histogram={"edges": edges.tolist(), "counts": counts.tolist()},
    )


def _verdict(
    joint: JointCounts,
    test: str,
    rejected: bool,
    p_value: float,
    lower: float,
    level: float,
    delta_min: float,
    plan: SamplePlan,
    checks: tuple[ClassCheck, ...],
    class_margin: float,
    class_alpha: float,
) -> tuple[str, str]:
    failed = [check for check in checks if not check.passed]
    if failed:
        worst = min(failed, key=lambda check: (check.p_adjusted, check.delta))
        others = f" ({len(failed) - 1} more)" if len(failed) > 1 else ""
        return CLASS_REGRESSION, (
            f"class {worst.label!r}: F1 {worst.f1_production:.4f} → {worst.f1_candidate:.4f} "
            f"(Δ {worst.delta:+.4f}), a fall beyond the class margin {class_margin:.4f} at Holm-adjusted "
            f"p {worst.p_adjusted:.4g} ≤ {class_alpha:g}{others}"
        )
    if test == BCA_BOOTSTRAP:
        bound = f"{lower:+.4f}" if math.isfinite(lower) else "−inf (too few resamples)"
        comparison = ">" if rejected else "≤"
        condition = f"lower {_pct(1 - level)} BCa bound {bound} {comparison} δ_min {delta_min:+.4f}"
    else:
        comparison = "≤" if rejected else ">"
        condition = f"{test.replace('_', ' ')} p {p_value:.4g} {comparison} α_t {level:.4g}"
    if rejected:
        return SIGNIFICANT_IMPROVEMENT, condition
    if plan.required_n is None:
        return INSUFFICIENT_DATA, (
            f"{condition}, and {joint.n} row: a variance estimate, hence a power plan, needs at least 2 rows"
        )
    target = f"{plan.power:.0%} power at ΔF1 {plan.delta_min + plan.margin:+.4f}"
    if not plan.sufficient:
        return INSUFFICIENT_DATA, (
            f"{condition}, with {joint.n:,} rows, fewer than the {plan.required_n:,} needed for {target}: "
            f"{plan.missing_rows:,} more labelled rows"
        )
    if joint.n_disagreements == 0:
        return NOT_SIGNIFICANT, f"{condition}: the two models predict the same label on all {joint.n:,} rows"
    return NOT_SIGNIFICANT, f"{condition}, with {joint.n:,} rows ≥ the {plan.required_n:,} needed for {target}"
