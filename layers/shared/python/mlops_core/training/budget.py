"""Planning model selection within a time budget, from a timing probe. Pure: measured seconds in, a plan out.

The probe times one cross-validation fold of each candidate (fit on m rows, predict on the m/(k-1) rows of its
fold) at two sizes. Fit time is taken to grow as rows^b with b between 1 and 1.5, whatever the two points say:
never faster than linear (conservative), and capped so that a noisy pair of millisecond timings cannot make a
cheap model look quadratic. A plan that is still wrong costs nothing worse than a stopped fit: every candidate
runs time-boxed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mlops_core.training.exceptions import JOB_PATH, TrainingBudgetError

# PyCaret cross-validates on its training split (train_size=0.7) and keeps the rest as its own test rows.
CV_SHARE = 0.7
# Timings below this are noise: the exponent is read from timings floored here.
TIMER_FLOOR_SECONDS = 0.01
EXPONENT_RANGE = (1.0, 1.5)
# Planned seconds are multiplied by this before they are compared with the time available.
SAFETY = 1.5
# The final fit's estimate is multiplied by this: it extrapolates furthest (ExtraTrees measured on 44k rows took
# 1.6 times the linear extrapolation on 1M), and underestimating it is what lets a step overrun.
FINAL_SAFETY = 2.0
# PyCaret's own work per fold besides fit and predict (scoring, bookkeeping).
FOLD_OVERHEAD_SECONDS = 0.1
# ... and what grows with the fold's rows (its preprocessing pipeline, seven metrics on the held-out fold):
# PyCaret's create_model with `dummy` took 3.6 s for 5 folds of a 400,000-row sample (224,000 fitted rows a
# fold, 3.2 µs a row), which a probe on 2,240 rows cannot see. Without it, a 1,000,000-row run whose
# expensive candidates were all skipped planned its comparison on 486,400 rows and every cheap model overran
# its box there.
FOLD_ROW_OVERHEAD_SECONDS = 5e-6
# No one candidate may take more than this share of the compare's time: a slow model is skipped rather than
# starving the others of rows.
MAX_MODEL_SHARE = 0.4
# The sample is as large as lets this share of the candidates (the cheapest) be compared: more rows beyond a
# few tens of thousands change a ranking little, while dropping the tree ensembles for rows would.
MIN_MODELS_SHARE = 0.75
# Sample sizes tried, largest first, each this factor below the previous one.
SIZE_STEP = 0.8


# The largest model a candidate may grow to on all training rows. The API function (1,024 MB, template.yaml
# Globals) holds Production and Staging at once beside its runtime, and evaluate_candidate loads the model
# too: on 950,000 rows a fully grown ExtraTrees pickled to 3.0 GB, which neither could load.
MAX_MODEL_BYTES = 300 * 2**20
# A model grows at most linearly with its rows (a tree has under two nodes per row; knn keeps the rows) and
# may not grow at all (linear models): the exponent read from the probe is held in this range.
SIZE_EXPONENT_RANGE = (0.0, 1.0)
# The size's extrapolation is multiplied by this: ExtraTrees' pickle measured at 2,240 rows and extrapolated
# to 950,000 came out at 0.76 of the real size (to 20,000 and 60,000 rows, within 3%).
SIZE_SAFETY = 1.25


def growth_exponent(
    rows: tuple[int, int], values: tuple[float, float], bounds: tuple[float, float], *, one_point: float
) -> float:
    """b in value = c * rows^b through two measured points, held within `bounds`; `one_point` when both
    points were measured at the same number of rows."""
    (r1, r2), (v1, v2) = rows, values
    if r2 <= r1:
        return one_point
    return min(max(math.log(v2 / v1) / math.log(r2 / r1), bounds[0]), bounds[1])


@dataclass(frozen=True)
class FitCost:
    """Seconds of one cross-validation fold, measured at `rows[0]` and `rows[1]` fitted rows."""

    rows: tuple[int, int]
    seconds: tuple[float, float]

    @property
    def exponent(self) -> float:
        floored = (max(s, TIMER_FLOOR_SECONDS) for s in self.seconds)
        return growth_exponent(self.rows, tuple(floored), EXPONENT_RANGE, one_point=EXPONENT_RANGE[0])

    def at(self, rows: float) -> float:
        """Seconds of one fold fitted on `rows` rows; never less than measured at the larger probe size."""
        r2, s2 = self.rows[1], max(self.seconds[1], 0.0)
        return s2 * max(1.0, rows / r2) ** self.exponent + FOLD_OVERHEAD_SECONDS


@dataclass(frozen=True)
class ModelSize:
    """Bytes of a candidate's fitted model (pickled), measured at `rows[0]` and `rows[1]` fitted rows."""

    rows: tuple[int, int]
    nbytes: tuple[int, int]

    @property
    def exponent(self) -> float:
        floored = (max(b, 1) for b in self.nbytes)
        return growth_exponent(self.rows, tuple(floored), SIZE_EXPONENT_RANGE, one_point=SIZE_EXPONENT_RANGE[1])

    def at(self, rows: float) -> float:
        """Bytes of the model fitted on `rows` rows; never less than measured at the larger probe size."""
        return self.nbytes[1] * max(1.0, rows / self.rows[1]) ** self.exponent


def too_large(size: ModelSize, rows: int, limit_bytes: float) -> str | None:
    """Why a candidate is not compared when its model on all `rows` rows is estimated past `limit_bytes`."""
    estimate = SIZE_SAFETY * size.at(rows)
    if estimate <= limit_bytes:
        return None
    return (
        f"its model on all {rows:,} rows would take about {_mb(estimate)}, over the {_mb(limit_bytes)} a served "
        "model may take"
    )


def _mb(nbytes: float) -> str:
    mb = nbytes / 2**20
    return f"{mb:,.0f} MB" if mb >= 10 else f"{mb:.2g} MB"


def fold_rows(sample_rows: int, folds: int) -> float:
    """Rows each fold's model is fitted on when PyCaret cross-validates a sample of `sample_rows`."""
    return sample_rows * CV_SHARE * (folds - 1) / folds


def compare_seconds(cost: FitCost, sample_rows: int, folds: int) -> float:
    """Planned seconds to cross-validate one candidate on a sample (with the safety factor)."""
    rows = fold_rows(sample_rows, folds)
    return SAFETY * folds * (cost.at(rows) + FOLD_ROW_OVERHEAD_SECONDS * rows)


@dataclass(frozen=True)
class ComparePlan:
    sample_rows: int
    total_rows: int
    models: list[str]  # to compare, cheapest first
    planned_seconds: dict[str, float]  # per model in `models`: its planned cross-validation time
    skipped: dict[str, str] = field(default_factory=dict)  # model id -> why it is not compared
    available_seconds: float = 0.0  # the compare's share of the budget when planned


def plan_compare(
    costs: Mapping[str, FitCost],
    *,
    total_rows: int,
    min_rows: int,
    folds: int,
    available_seconds: float,
    start_seconds: Callable[[int], float] = lambda rows: 0.0,
) -> ComparePlan:
    """The largest stratified sample (between `min_rows` and `total_rows`) on which at least MIN_MODELS_SHARE
    of the candidates, the cheapest, cross-validate within `available_seconds`, counting `start_seconds(rows)` to set
    up the comparison on that sample. Candidates that do not fit there are skipped, each with the time it would
    have needed. At `min_rows`, whatever fits is compared, and at least the cheapest candidate."""
    if not costs:
        return ComparePlan(0, total_rows, [], {}, available_seconds=available_seconds)
    needed = max(1, math.ceil(MIN_MODELS_SHARE * len(costs)))
    sizes = _sizes(total_rows, min(min_rows, total_rows))
    for size in sizes:
        plan = _fit_models(costs, size, total_rows, folds, available_seconds - start_seconds(size))
        if len(plan.models) >= needed or size == sizes[-1]:
            break
    if not plan.models:
        cheapest = min(costs, key=lambda m: compare_seconds(costs[m], plan.sample_rows, folds))
        skipped = {m: why for m, why in plan.skipped.items() if m != cheapest}
        plan = ComparePlan(
            plan.sample_rows,
            total_rows,
            [cheapest],
            {cheapest: compare_seconds(costs[cheapest], plan.sample_rows, folds)},
            skipped,
        )
    return ComparePlan(
        plan.sample_rows,
        total_rows,
        plan.models,
        plan.planned_seconds,
        plan.skipped,
        available_seconds=available_seconds,
    )


def _sizes(total_rows: int, min_rows: int) -> list[int]:
    sizes, size = [], float(total_rows)
    while size > min_rows:
        sizes.append(int(size))
        size *= SIZE_STEP
    sizes.append(min_rows)
    return sizes


def _fit_models(costs: Mapping[str, FitCost], size: int, total_rows: int, folds: int, seconds: float) -> ComparePlan:
    planned = {m: compare_seconds(cost, size, folds) for m, cost in costs.items()}
    models: list[str] = []
    skipped: dict[str, str] = {}
    spent = 0.0
    for model in sorted(planned, key=planned.__getitem__):
        needs = f"needs about {planned[model]:.0f} s for {folds}-fold CV on {size} rows"
        if planned[model] > MAX_MODEL_SHARE * seconds:
            skipped[model] = f"{needs}, over {MAX_MODEL_SHARE:.0%} of the {max(seconds, 0):.0f} s for comparing"
        elif spent + planned[model] > seconds:
            skipped[model] = f"{needs}; the cheaper candidates left {max(seconds - spent, 0):.0f} s"
        else:
            models.append(model)
            spent += planned[model]
    return ComparePlan(size, total_rows, models, {m: planned[m] for m in models}, skipped)


def final_fit_seconds(cost: FitCost, rows: int) -> float:
    """Planned seconds to fit a candidate on all `rows` training rows (with FINAL_SAFETY). One probe fold
    also predicts on a 1/(folds-1) share of its rows: kept in, as a margin."""
    return FINAL_SAFETY * cost.at(rows)


def anchored(cost: FitCost, rows: float, seconds: float) -> FitCost:
    """`cost` re-read through a fold measured later on more rows (the comparison's): its largest probe point
    and the new one, a longer baseline for the exponent and a nearer start for extrapolating."""
    if rows <= cost.rows[1]:
        return cost
    return FitCost((cost.rows[1], int(rows)), (cost.seconds[1], seconds))


def check_final_fit(model: str, rows: int, estimate_seconds: float, seconds_left: float | None) -> None:
    """TrainingBudgetError when fitting `model` on `rows` rows is estimated past the step's remaining time."""
    if seconds_left is None or estimate_seconds <= seconds_left:
        return
    raise TrainingBudgetError(
        f"the final fit of {model!r} on all {rows:,} training rows is estimated at {estimate_seconds:.0f} s, "
        f"but the step has {max(seconds_left, 0):.0f} s left: refused before starting it. Train this dataset "
        f"through {JOB_PATH}, which runs training as a container job without Lambda's 15-minute limit, or "
        "lower TrainingBudgetSeconds so the step keeps more time for the final fit."
    )
