"""Per-class guardrails: no class's F1 may fall by more than a margin when the candidate replaces Production.

For each class c with at least one true row, H0_c: ΔF1_c ≥ −margin (no regression beyond the margin) against
H1_c: ΔF1_c < −margin, ΔF1_c = F1_c(candidate) − F1_c(production). The p-value is the BCa one (`bca`,
p_less) from the same paired multinomial resamples as the ΔF1-macro test. The p-values are Holm-adjusted over
the tested classes, and a class fails when its adjusted p ≤ alpha: the chance of blocking a candidate none of
whose classes regresses beyond the margin is then at most alpha (family-wise, up to the bootstrap's
approximation). It does not prove the absence of a regression: at small n little is flagged.

Where few rows disagree the bootstrap is too coarse (with one row every resample repeats it, and any fall
would look certain), so the caller may pass the sign-flip p-values instead (`sign_flip`, class_p_values):
exact p-values of H0: the models are exchangeable, against a fall of ΔF1_c. A class then fails when its
Holm-adjusted p ≤ alpha and its observed fall exceeds the margin; under exchangeable models the chance of a
failure is at most alpha, exactly.

Classes that occur only in predictions have F1 0 for both models on every resample; they are listed, untested.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mlops_core.stats.bootstrap import PairedBootstrap
from mlops_core.stats.metrics import per_class_scores


@dataclass(frozen=True)
class ClassCheck:
    label: Any  # the class label (int or str)
    support: int  # true rows of the class
    f1_production: float
    f1_candidate: float
    delta: float  # f1_candidate − f1_production
    p_value: float | None  # None: not tested (no true row)
    p_adjusted: float | None  # Holm over the tested classes
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def holm(p_values: Any) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input order: max over j ≤ i of min(1, (m − j + 1)·p₍ⱼ₎)."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p_values must be a one-dimensional sequence of numbers in [0, 1]")
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


def class_guardrails(
    paired: PairedBootstrap, *, margin: float, alpha: float, sign_flip_p: Sequence[float] | None = None
) -> list[ClassCheck]:
    """One check per label (label order); a class fails when its Holm-adjusted p ≤ alpha (and, with
    sign-flip p-values, its observed ΔF1 < −margin)."""
    if not margin >= 0 or not 0 < alpha < 1:
        raise ValueError(f"margin must be ≥ 0 and alpha in (0, 1), got margin={margin!r}, alpha={alpha!r}")
    joint = paired.joint
    f1 = {}
    for model in ("a", "b"):
        cm = joint.confusion(model)
        f1[model] = per_class_scores(np.diagonal(cm), cm.sum(axis=1), cm.sum(axis=0))[2]
    support = joint.confusion("a").sum(axis=1)
    tested = np.flatnonzero(support > 0)
    if sign_flip_p is None:
        p = paired.bca.p_less(-margin)[1:]
    else:
        p = np.asarray(sign_flip_p, dtype=np.float64)
        if p.shape != (joint.k,):
            raise ValueError(f"sign_flip_p must hold one p-value per class ({joint.k}), got shape {p.shape}")
    adjusted = np.full(joint.k, np.nan)
    adjusted[tested] = holm(p[tested])
    checks = []
    for c, label in enumerate(joint.labels.tolist()):
        is_tested = bool(support[c] > 0)
        delta = float(f1["b"][c] - f1["a"][c])
        beyond = sign_flip_p is None or delta < -margin
        checks.append(
            ClassCheck(
                label=label,
                support=int(support[c]),
                f1_production=float(f1["a"][c]),
                f1_candidate=float(f1["b"][c]),
                delta=delta,
                p_value=float(p[c]) if is_tested else None,
                p_adjusted=float(adjusted[c]) if is_tested else None,
                passed=not (is_tested and adjusted[c] <= alpha and beyond),
            )
        )
    return checks
