"""Paired randomization (sign-flip) test of ΔF1-macro = F1-macro(B) − F1-macro(A), exact when it can be.

H0: the two models are exchangeable on each row, so on every row where they disagree, which of the two
predictions came from A is a fair coin. The test statistic is the observed ΔF1-macro; its null distribution
is that of ΔF1-macro over all 2^d swaps of the d disagreeing rows. The p-value P(T ≥ T_obs) is exact, so
rejecting at p ≤ α has level α under H0 whatever n is, and only conservative where B is worse than A.

A swap moves a row from cell (t, a, b) to (t, b, a), so only how many rows of each pair of mirrored cells
{(t, a, b), (t, b, a)} end up in each orientation matters: independent Binomial(m, ½) counts, one per pair,
with Π(m + 1) outcomes instead of 2^d. The test enumerates them all when there are at most
`max_exact_outcomes` (every d ≤ 20 qualifies: Π(m + 1) ≤ 2^d), else it draws `n_resamples` outcomes from a
seeded generator and reports the Monte-Carlo p-value (#{T* ≥ T_obs} + 1)/(B + 1), which is valid too
(Phipson & Smyth 2010).

The same swaps give, per class c, the exact p-value of a fall: P(ΔF1_c* ≤ ΔF1_c observed) under the same H0,
which the per-class guardrails use when few rows disagree (`guardrails`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from mlops_core.stats.bca import TOLERANCE
from mlops_core.stats.joint import JointCounts

EXACT: Final = "exact_sign_flip"
MONTE_CARLO: Final = "monte_carlo_sign_flip"
MAX_EXACT_OUTCOMES = 1 << 20
# Outcomes scored per chunk of the enumeration or of the random draws.
_CHUNK = 1 << 16
# Up to this many disagreeing rows, the exact p-value is summed in integers (2^52 fits a float64 exactly).
_EXACT_INTEGER_ROWS = 52


@dataclass(frozen=True)
class SignFlipResult:
    test: str  # EXACT or MONTE_CARLO
    reason: str  # the test id, then why it ran: a stable, readable sentence
    p_value: float  # P(ΔF1-macro* ≥ observed)
    observed_delta: float
    class_p_values: tuple[float, ...]  # per class, in label order: P(ΔF1_c* ≤ observed ΔF1_c)
    n_disagreements: int
    n_outcomes: int  # distinct outcomes of the null distribution (orientation counts of the mirrored cells)
    n_resamples: int  # outcomes scored: all of them (exact) or the random draws


@dataclass(frozen=True, eq=False)
class _Mirrored:
    """Rows of each pair of mirrored disagreement cells, and how one row's move changes the class sums.

    Sums are packed as 4K columns: tp of A, predictions of A, tp of B, predictions of B; the true counts per
    class never change under a swap.
    """

    true: np.ndarray  # K
    base: np.ndarray  # 4K: every pair's rows in orientation (t, high, low), A predicting the higher index
    step: np.ndarray  # pairs × 4K: change of the sums when one row of a pair moves to (t, low, high)
    rows: np.ndarray  # m per pair
    observed: np.ndarray  # rows per pair observed in orientation (t, low, high)

    def statistics(self, sums: np.ndarray) -> np.ndarray:
        """R × (1 + K) of packed sums (R × 4K): ΔF1-macro, then ΔF1 per class, F1 = 2·tp / (true + pred) and
        each model's macro average over its present classes (the arithmetic of `joint.ClassSums`)."""
        k = len(self.true)
        tp_a, pred_a, tp_b, pred_b = (sums[:, i * k : (i + 1) * k] for i in range(4))

        def f1(tp: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            both = self.true + pred
            present = both > 0
            # tp is 0 wherever true + pred is, so those classes score 0
            return 2.0 * tp / np.where(present, both, 1.0), present

        f1_a, present_a = f1(tp_a, pred_a)
        f1_b, present_b = f1(tp_b, pred_b)
        macro = f1_b.sum(axis=1) / present_b.sum(axis=1) - f1_a.sum(axis=1) / present_a.sum(axis=1)
        return np.column_stack([macro, f1_b - f1_a])

    def moved(self, moved: np.ndarray) -> np.ndarray:
        """Packed sums when `moved` (R × pairs) rows of each pair are in orientation (t, low, high)."""
        return self.base + moved.astype(np.float64) @ self.step


def _extreme(statistics: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Which outcomes are at least as extreme as observed: ΔF1-macro as high or higher, each class's ΔF1 as
    low or lower."""
    return np.column_stack([statistics[:, 0] >= observed[0] - TOLERANCE, statistics[:, 1:] <= observed[1:] + TOLERANCE])


def _mirrored(joint: JointCounts) -> _Mirrored:
    k = joint.k
    t, a, b, counts = joint.cell_true, joint.cell_a, joint.cell_b, joint.counts.astype(np.float64)
    low, high = np.minimum(a, b), np.maximum(a, b)
    disagree = a != b
    pair_ids, pair_of_cell = np.unique((t * k + low) * k + high, return_inverse=True)
    n_pairs_all = len(pair_ids)
    keep = np.zeros(n_pairs_all, dtype=bool)
    keep[pair_of_cell[disagree]] = True

    def per_pair(mask: np.ndarray) -> np.ndarray:
        return np.bincount(pair_of_cell[mask], weights=counts[mask], minlength=n_pairs_all)[keep].astype(np.int64)

    classes = np.arange(k)

    def onehot(index: np.ndarray) -> np.ndarray:
        return (index[:, None] == classes).astype(np.float64)

    # Base: agreeing cells as they are, every disagreeing row as (t, high, low).
    base_a, base_b = np.where(disagree, high, a), np.where(disagree, low, b)
    true = onehot(t)
    base = counts @ np.hstack(
        [true * (t == base_a)[:, None], onehot(base_a), true * (t == base_b)[:, None], onehot(base_b)]
    )
    # One pair's step, from its key: the move turns A's prediction high → low and B's low → high.
    pt, pl, ph = pair_ids[keep] // (k * k), (pair_ids[keep] // k) % k, pair_ids[keep] % k
    true_p, low_p, high_p = onehot(pt), onehot(pl), onehot(ph)
    hit_low, hit_high = (pt == pl).astype(np.float64)[:, None], (pt == ph).astype(np.float64)[:, None]
    step = np.hstack([true_p * (hit_low - hit_high), low_p - high_p, true_p * (hit_high - hit_low), high_p - low_p])
    return _Mirrored(
        true=counts @ true,
        base=base,
        step=step,
        rows=per_pair(disagree),
        observed=per_pair(disagree & (a < b)),
    )


def n_outcomes(rows: np.ndarray, cap: int) -> int:
    """Π(m + 1) over the pairs, or cap + 1 as soon as the product exceeds cap."""
    total = 1
    for m in rows.tolist():
        total *= m + 1
        if total > cap:
            return cap + 1
    return total


def sign_flip_test(
    joint: JointCounts, *, n_resamples: int = 9_999, seed: int = 42, max_exact_outcomes: int = MAX_EXACT_OUTCOMES
) -> SignFlipResult:
    """One-sided paired sign-flip tests, ΔF1-macro > 0 and per class ΔF1_c < 0; exact when the outcomes are few
    enough to enumerate."""
    if n_resamples < 1 or seed < 0 or max_exact_outcomes < 1:
        raise ValueError("n_resamples and max_exact_outcomes must be ≥ 1 and seed ≥ 0")
    mirrored = _mirrored(joint)
    observed = mirrored.statistics(mirrored.moved(mirrored.observed[None, :]))[0]
    d = int(mirrored.rows.sum())
    outcomes = n_outcomes(mirrored.rows, max_exact_outcomes)
    if outcomes <= max_exact_outcomes:
        p_values = _exact_p(mirrored, observed, outcomes)
        test, scored = EXACT, outcomes
        reason = (
            f"{EXACT}: {d} disagreeing rows in {len(mirrored.rows)} mirrored cell pairs, "
            f"{outcomes:,} outcomes ≤ {max_exact_outcomes:,}, all enumerated"
        )
    else:
        rng = np.random.default_rng(seed)
        hits = np.zeros(len(observed), dtype=np.int64)
        for start in range(0, n_resamples, _CHUNK):
            size = min(_CHUNK, n_resamples - start)
            moved = rng.binomial(mirrored.rows, 0.5, size=(size, len(mirrored.rows)))
            hits += _extreme(mirrored.statistics(mirrored.moved(moved)), observed).sum(axis=0)
        p_values = (hits + 1) / (n_resamples + 1)
        test, scored = MONTE_CARLO, n_resamples
        outcomes = math.prod(m + 1 for m in mirrored.rows.tolist())
        reason = (
            f"{MONTE_CARLO}: {d} disagreeing rows, more than {max_exact_outcomes:,} outcomes to enumerate; "
            f"{n_resamples:,} random sign flips, seed {seed}"
        )
    return SignFlipResult(
        test=test,
        reason=reason,
        p_value=float(p_values[0]),
        observed_delta=float(observed[0]),
        class_p_values=tuple(float(p) for p in p_values[1:]),
        n_disagreements=d,
        n_outcomes=int(outcomes),
        n_resamples=scored,
    )


def _enumerate(rows: np.ndarray, step: np.ndarray, exact: bool) -> tuple[np.ndarray, np.ndarray]:
    """Every outcome of a group of pairs: its change of the packed sums, and its weight Π C(m, x) (exact:
    integers, which float64 holds exactly up to 2^53) or its probability Π C(m, x) / 2^m."""
    radices = (rows + 1).tolist()
    if not radices:
        return np.zeros((1, step.shape[1])), np.ones(1)
    moved = np.stack(np.unravel_index(np.arange(math.prod(radices)), radices), axis=1)
    weight = np.ones(len(moved))
    for j, m in enumerate(rows.tolist()):
        if exact:
            table = np.array([math.comb(m, x) for x in range(m + 1)], dtype=np.float64)
        else:
            log_choose = [math.lgamma(m + 1) - math.lgamma(x + 1) - math.lgamma(m - x + 1) for x in range(m + 1)]
            table = np.exp(np.array(log_choose) - m * math.log(2))
        weight *= table[moved[:, j]]
    return moved.astype(np.float64) @ step, weight


def _exact_p(mirrored: _Mirrored, observed: np.ndarray, outcomes: int) -> np.ndarray:
    """P(at least as extreme) of each statistic over all outcomes. The pairs split into two groups of about
    √outcomes outcomes each, and every outcome is the sum of one outcome of each group (no per-outcome matrix
    product). Up to 52 disagreeing rows the weights are integers summing to 2^d, all exact in float64, so the
    p-values are exact to the last bit."""
    rows = mirrored.rows
    exact = int(rows.sum()) <= _EXACT_INTEGER_ROWS
    split, product = 0, 1
    while split < len(rows) and product * (rows[split] + 1) <= math.isqrt(outcomes):
        product *= int(rows[split]) + 1
        split += 1
    first, first_weight = _enumerate(rows[:split], mirrored.step[:split], exact)
    second, second_weight = _enumerate(rows[split:], mirrored.step[split:], exact)
    per_chunk = max(1, _CHUNK // len(second))
    total = np.zeros(len(observed))
    for start in range(0, len(first), per_chunk):
        stop = min(start + per_chunk, len(first))
        sums = (mirrored.base + first[start:stop, None, :] + second[None, :, :]).reshape(-1, second.shape[1])
        weight = (first_weight[start:stop, None] * second_weight[None, :]).ravel()
        total += weight @ _extreme(mirrored.statistics(sums), observed)
    return total / 2.0 ** int(rows.sum()) if exact else np.minimum(1.0, total)
