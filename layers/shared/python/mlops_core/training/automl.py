"""AutoML model selection with PyCaret: the best classifier by cross-validated macro F1 within a time budget.

PyCaret's own F1, precision and recall average over classes weighted by support, which lets a model that
neglects a small class win. They are replaced by macro averages under the same display names, so `sort="F1"`
means macro F1 here. PyCaret is imported inside `train_best_model` only: it takes seconds to import.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_core.contracts import Metrics
from mlops_core.exceptions import DataValidationError, InvalidRequestError
from mlops_core.pycaret_env import quiet_pycaret_logging
from mlops_core.training import budget
from mlops_core.training.exceptions import TrainingError
from mlops_core.training.split import stratified_split

if TYPE_CHECKING:
    import pandas as pd

    from mlops_core.training.worker import StoppableWorker

# A few quick models with predict_proba, for tests and small budgets.
FAST_MODELS: tuple[str, ...] = ("lr", "nb", "dt")
_SAMPLE_ROWS = 20
# PyCaret's ids and display names of our metrics; the display names are what `pull()` reports.
_METRIC_NAMES = {"accuracy": "Accuracy", "precision_macro": "Prec.", "recall_macro": "Recall", "f1_macro": "F1"}
# Metrics dropped: the weighted ones we replace, and AUC, which PyCaret 3.3 scores as 0 on some multiclass data.
_DROPPED_METRICS = ("auc", "recall", "precision", "f1")
# PyCaret's metrics kept as they are, by id and display name: what `sort` may name besides ours.
_KEPT_METRICS = {"kappa": "Kappa", "mcc": "MCC", "Kappa": "Kappa", "MCC": "MCC"}


@dataclass
class TrainedModel:
    pipeline: Any  # PyCaret's sklearn Pipeline: raw feature frame in, original labels out
    algorithm: str  # the final estimator's class name
    cv_metrics: Metrics  # mean over the cross-validation folds
    target: str
    features: list[str]
    categorical: list[str]
    classes: list[str]  # original labels, in the order of predict_proba's columns
    sample: pd.DataFrame  # a few training rows in model form: the input example and the signature's columns
    leaderboard: list[dict[str, Any]] = field(default_factory=list)  # one row per model compared
    timings: dict[str, float] = field(default_factory=dict)  # seconds: import, setup, probe, compare, finalize
    # How the budget was spent: rows compared on, models tried and skipped (with why), each one's seconds.
    plan: dict[str, Any] = field(default_factory=dict)

    @property
    def has_proba(self) -> bool:
        return hasattr(self.pipeline.steps[-1][1], "predict_proba")


# PyCaret's scorers pass sample_weight to every metric.
def f1_macro(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro", sample_weight=sample_weight, zero_division=0))


def precision_macro(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    from sklearn.metrics import precision_score

    return float(precision_score(y_true, y_pred, average="macro", sample_weight=sample_weight, zero_division=0))


def recall_macro(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    from sklearn.metrics import recall_score

    return float(recall_score(y_true, y_pred, average="macro", sample_weight=sample_weight, zero_division=0))


def _check_inputs(
    train_df: pd.DataFrame, target: str, categorical: Sequence[str], budget_seconds: float, folds: int
) -> None:
    if target not in train_df.columns:
        raise DataValidationError(f"cannot train: the target column {target!r} is missing")
    stray = [c for c in categorical if c not in train_df.columns or c == target]
    if stray:
        raise InvalidRequestError(f"categorical columns not among the features: {', '.join(stray)}", "categorical")
    if train_df[target].isna().any():
        raise DataValidationError(f"cannot train: the target {target!r} has missing values")
    classes = train_df[target].nunique()
    if classes < 2:
        raise DataValidationError(f"cannot train a classifier on {classes} class(es) of {target!r}")
    # PyCaret cross-validates on 70% of the rows: each fold needs a few rows of its own.
    needed = max(10, 3 * folds)
    if len(train_df.index) < needed:
        raise DataValidationError(
            f"cannot train on {len(train_df.index)} rows with {folds}-fold validation: need at least {needed}"
        )
    if not budget_seconds > 0:
        raise InvalidRequestError(f"budget_seconds must be positive, got {budget_seconds!r}", "budget_seconds")
    if folds < 2:
        raise InvalidRequestError(f"folds must be at least 2, got {folds!r}", "folds")


def _model_frame(train_df: pd.DataFrame, target: str, categorical: Sequence[str]) -> pd.DataFrame:
    from mlops_core.data.validate import coerce_features

    kinds = {c: ("cat" if c in categorical else "num") for c in train_df.columns if c != target}
    try:
        frame = coerce_features(train_df, kinds)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"cannot train: a numeric feature holds non-numbers ({exc})") from None
    frame[target] = train_df[target].astype(str)
    return frame


def train_best_model(
    train_df: pd.DataFrame,
    target: str,
    *,
    categorical: Sequence[str],
    budget_seconds: float,
    seed: int,
    sort: str = "F1",
    include: Sequence[str] | None = None,
    folds: int = 5,
    n_jobs: int = 1,
    time_left_seconds: float | None = None,
    max_model_bytes: float = budget.MAX_MODEL_BYTES,
) -> TrainedModel:
    """Compare PyCaret's classifiers (or only `include`) by cross-validated `sort` (macro F1 by default) within
    `budget_seconds`, refit the best on all of `train_df` and return it with its CV metrics and the plan it
    followed. Labels are trained as strings, so predict returns the original labels as strings.

    The budget holds: a timing probe plans a stratified sample (and which candidates) for the comparison, each
    candidate's cross-validation then runs time-boxed in a worker that is stopped when over, and the final fit
    on all rows is estimated first: TrainingBudgetError when the estimate is past `time_left_seconds` (the
    time the caller has left, counted from this call; None: no limit). A candidate whose model on all rows
    is estimated past `max_model_bytes` (from its size at the probe's two sizes) is not compared: the model
    must fit where it is served. Data so small that the probe fitted every candidate on all of it is compared
    in this process, as PyCaret does, without a worker."""
    _check_inputs(train_df, target, categorical, budget_seconds, folds)
    clock = _Clock(budget_seconds, time_left_seconds)
    data = _model_frame(train_df, target, categorical)
    options = _SetupOptions(target, list(categorical), seed, folds, n_jobs)
    _sort_column(sort)  # refused before seconds are spent importing PyCaret

    timings: dict[str, float] = {}
    started = time.perf_counter()
    quiet_pycaret_logging()
    from pycaret.classification import ClassificationExperiment  # noqa: F401  (timed here: seconds)

    timings["import"] = time.perf_counter() - started
    started = time.perf_counter()
    probe_data = _stratified_sample(data, target, PROBE_ROWS, seed)
    experiment = _setup(probe_data, options)
    timings["setup"] = time.perf_counter() - started

    candidates = _candidates(experiment, include)
    started = time.perf_counter()
    costs, sizes, skipped = _probe(experiment, candidates, folds, timeout=_probe_timeout(budget_seconds))
    timings["probe"] = time.perf_counter() - started
    for model, size in sizes.items():
        reason = budget.too_large(size, len(data.index), max_model_bytes)
        if reason is not None:
            skipped[model] = reason
            costs.pop(model, None)

    everything_probed = len(probe_data.index) == len(data.index)
    start_cost = (lambda rows: 0.0) if everything_probed else _worker_start_seconds(timings)
    plan = budget.plan_compare(
        costs,
        total_rows=len(data.index),
        min_rows=len(probe_data.index),
        folds=folds,
        available_seconds=clock.budget_left(),
        start_seconds=start_cost,
    )
    skipped.update(plan.skipped)
    started = time.perf_counter()
    if everything_probed:
        leaderboard, fit_seconds = _compare_here(experiment, plan, sort, folds, clock)
    else:
        sample = _stratified_sample(data, target, plan.sample_rows, seed)
        leaderboard, fit_seconds = _compare_in_worker(sample, options, plan, sort, clock, skipped)
    timings["compare"] = time.perf_counter() - started
    if not leaderboard:
        raise TrainingError(
            f"no model could be trained on {len(data.index)} rows of {target!r} within {budget_seconds:.0f} s: "
            + "; ".join(f"{m}: {why}" for m, why in skipped.items())
        )
    leaderboard.sort(key=lambda row: -row["_sort"])
    best = leaderboard[0]["model"]

    cost = costs[best]
    if not everything_probed and best in fit_seconds:  # the sample's folds: measured nearer to all rows
        cost = budget.anchored(cost, budget.fold_rows(plan.sample_rows, folds), fit_seconds[best] / folds)
    estimate = budget.final_fit_seconds(cost, len(data.index))
    budget.check_final_fit(best, len(data.index), estimate, clock.time_left())
    started = time.perf_counter()
    pipeline = _final_fit(experiment, best, data, target, everything_probed)
    timings["finalize"] = time.perf_counter() - started

    top = leaderboard[0]
    metrics: Metrics = {key: float(top[key]) for key in _METRIC_NAMES}  # type: ignore[assignment]
    return TrainedModel(
        pipeline=pipeline,
        algorithm=type(pipeline.steps[-1][1]).__name__,
        cv_metrics=metrics,
        target=target,
        features=[c for c in data.columns if c != target],
        categorical=list(categorical),
        classes=_original_classes(pipeline),
        sample=data.drop(columns=[target]).head(_SAMPLE_ROWS).reset_index(drop=True),
        leaderboard=[{k: v for k, v in row.items() if k != "_sort"} for row in leaderboard],
        timings={k: round(v, 3) for k, v in timings.items()},
        plan={
            "total_rows": len(data.index),
            "sample_rows": len(data.index) if everything_probed else plan.sample_rows,
            "probe_rows": len(probe_data.index),
            "folds": folds,
            "budget_seconds": budget_seconds,
            "max_model_bytes": max_model_bytes,
            "in_worker": not everything_probed,
            "models_tried": [row["model"] for row in leaderboard],
            "models_skipped": skipped,
            "fit_seconds": {m: round(v, 3) for m, v in fit_seconds.items()},
            "final_fit_estimate_seconds": round(estimate, 3),
            "final_fit_seconds": round(timings["finalize"], 3),
        },
    )


# The probe's sample: also the whole comparison when the data has no more rows than this.
PROBE_ROWS = 4000
# The probe fits each candidate at a quarter of its largest size too, to see how fit time grows.
_PROBE_SIZES = (0.25, 1.0)
# A candidate's cross-validation may run this many times its planned seconds (at least _MIN_BOX) before it
# is stopped: the plan is an estimate, the box is a limit.
_BOX_FACTOR = 2.0
_MIN_BOX_SECONDS = 5.0
# Most seconds a worker may take to start and import what the probe fits with, on a loaded machine.
_WORKER_START_SECONDS = 120.0


@dataclass(frozen=True)
class _SetupOptions:
    target: str
    categorical: list[str]
    seed: int
    folds: int
    n_jobs: int


class _Clock:
    """Seconds left of the budget and of the caller's time, both counted from the start of training."""

    def __init__(self, budget_seconds: float, time_left_seconds: float | None) -> None:
        self._started = time.perf_counter()
        self._budget = budget_seconds
        self._time_left = time_left_seconds

    def budget_left(self) -> float:
        return self._budget - (time.perf_counter() - self._started)

    def time_left(self) -> float | None:
        return None if self._time_left is None else self._time_left - (time.perf_counter() - self._started)


def _setup(frame: pd.DataFrame, options: _SetupOptions) -> Any:
    """A PyCaret experiment on `frame` with our metrics; the same in this process and in a worker."""
    from pycaret.classification import ClassificationExperiment

    smallest_class = int(frame[options.target].value_counts().min())
    experiment = ClassificationExperiment()
    experiment.setup(
        frame,
        target=options.target,
        categorical_features=options.categorical or None,
        numeric_features=[c for c in frame.columns if c != options.target and c not in options.categorical] or None,
        session_id=options.seed,
        fold=options.folds,
        # PyCaret's own stratified train/test split needs two rows per class; the held-out rows that judge
        # the candidate are split off before this anyway.
        data_split_stratify=smallest_class >= 2,
        html=False,
        verbose=False,
        n_jobs=options.n_jobs,
        log_experiment=False,
        system_log=False,  # else PyCaret writes logs.log into the working directory
        memory=False,
    )
    for metric in _DROPPED_METRICS:
        experiment.remove_metric(metric)
    experiment.add_metric("precision_macro", _METRIC_NAMES["precision_macro"], precision_macro)
    experiment.add_metric("recall_macro", _METRIC_NAMES["recall_macro"], recall_macro)
    experiment.add_metric("f1_macro", _METRIC_NAMES["f1_macro"], f1_macro)
    return experiment


def _sort_column(sort: str) -> str:
    """The leaderboard column `sort` names (a metric id or its display name)."""
    columns = {**_METRIC_NAMES, **{name: name for name in _METRIC_NAMES.values()}, **_KEPT_METRICS}
    if sort not in columns:
        raise InvalidRequestError(f"cannot compare models by {sort!r}: sort by one of {', '.join(columns)}", "sort")
    return columns[sort]


def _candidates(experiment: Any, include: Sequence[str] | None) -> list[str]:
    """`include`, or the models compare_models runs by default (PyCaret's turbo set)."""
    known = experiment._all_models_internal
    if not include:
        return [m for m, container in known.items() if container.is_turbo and not container.is_special]
    unknown = [m for m in include if m not in known or known[m].is_special]
    if unknown:
        raise InvalidRequestError(
            f"cannot compare models (include={list(include)!r}): unknown model ids {', '.join(map(str, unknown))}; "
            f"known: {', '.join(m for m, c in known.items() if not c.is_special)}",
            "include",
        )
    return list(dict.fromkeys(include))


def _probe_timeout(budget_seconds: float) -> float:
    return max(5.0, 0.05 * budget_seconds)


def _probe(
    experiment: Any, candidates: Sequence[str], folds: int, *, timeout: float
) -> tuple[dict[str, budget.FitCost], dict[str, budget.ModelSize], dict[str, str]]:
    """Each candidate's fold time and model size at two sizes of the probe sample, measured in a worker that
    is stopped when one candidate's probe takes more than `timeout` seconds."""
    from mlops_core.training.worker import WorkerFailed, WorkerTimeout

    x, y = experiment.X_train_transformed, experiment.y_train_transformed
    largest = max(2, len(x.index) * (folds - 1) // folds)
    sizes = sorted({max(2, int(largest * share)) for share in _PROBE_SIZES})
    costs: dict[str, budget.FitCost] = {}
    model_sizes: dict[str, budget.ModelSize] = {}
    skipped: dict[str, str] = {}
    worker = _probe_worker()
    try:
        for model in candidates:
            container = experiment._all_models_internal[model]
            estimator = container.class_def(**container.args)
            try:
                (seconds, nbytes), _ = worker.call(_probe_fits, estimator, x, y, sizes, folds, timeout=timeout)
            except WorkerTimeout:
                skipped[model] = f"its probe fits on {sizes[-1]} rows took over {timeout:.0f} s"
                worker = _probe_worker()
                continue
            except WorkerFailed as exc:
                skipped[model] = f"could not be fitted in the probe ({exc})"
                if not worker.alive:
                    worker = _probe_worker()
                continue
            points = [(rows, s) for rows, s in zip(sizes, seconds, strict=True) if s is not None]
            if not points:
                skipped[model] = "could not be fitted on the probe sample"
                continue
            first, last = points[0], points[-1]
            costs[model] = budget.FitCost((first[0], last[0]), (first[1], last[1]))
            measured = [(rows, b) for rows, b in zip(sizes, nbytes, strict=True) if b is not None]
            if measured:
                model_sizes[model] = budget.ModelSize(
                    (measured[0][0], measured[-1][0]), (measured[0][1], measured[-1][1])
                )
    finally:
        worker.stop()
    return costs, model_sizes, skipped


def _probe_worker() -> StoppableWorker:
    """A worker with sklearn and pandas imported, so that no candidate's time box pays for the imports."""
    from mlops_core.training.worker import StoppableWorker

    worker = StoppableWorker()
    worker.call(_import_fitting_libraries, timeout=_WORKER_START_SECONDS)
    return worker


def _import_fitting_libraries() -> None:
    import pandas  # noqa: F401
    import sklearn.base  # noqa: F401


def _probe_fits(
    estimator: Any, x: Any, y: Any, sizes: Sequence[int], folds: int
) -> tuple[list[float | None], list[int | None]]:
    """Runs in the worker: seconds to fit a clone on the first `rows` rows and predict the next rows/(folds-1),
    and the fitted model's pickled bytes, for each size; None where the estimator could not fit (too few rows
    of a class, say) or be pickled."""
    import pickle

    from sklearn.base import clone

    seconds: list[float | None] = []
    nbytes: list[int | None] = []
    for rows in sizes:
        scored = max(1, rows // (folds - 1))
        started = time.perf_counter()
        try:
            fitted = clone(estimator).fit(x.iloc[:rows], y[:rows])
            fitted.predict(x.iloc[rows : rows + scored])
        except Exception:  # a probe that cannot fit says nothing about time; PyCaret reports the real error
            seconds.append(None)
            nbytes.append(None)
            continue
        seconds.append(time.perf_counter() - started)
        try:
            nbytes.append(len(pickle.dumps(fitted, protocol=pickle.HIGHEST_PROTOCOL)))
        except Exception:  # not picklable here: MLflow will say so when it saves the model
            nbytes.append(None)
    return seconds, nbytes


def _worker_start_seconds(timings: Mapping[str, float]) -> Callable[[int], float]:
    """Seconds to start a worker with PyCaret set up on a sample of `rows`: a fresh import (at least what a
    cold one took here) plus the probe's setup, plus a per-row cost measured at about 3 µs, doubled."""
    fixed = max(timings["import"], 5.0) + timings["setup"]
    return lambda rows: fixed + rows * 1e-5


def _compare_here(
    experiment: Any, plan: budget.ComparePlan, sort: str, folds: int, clock: _Clock
) -> tuple[list[dict], dict]:
    """compare_models in this process: the probe already fitted every candidate on all of these rows within
    its time box, so no single fit here can run long."""
    if not plan.models:  # compare_models would take an empty include for "all of them"
        return [], {}
    try:
        experiment.compare_models(
            include=plan.models,
            sort=sort,
            budget_time=max(clock.budget_left(), 1.0) / 60,
            n_select=1,
            verbose=False,
        )
    except ValueError as exc:  # PyCaret's answer to unknown model ids or metric names
        raise InvalidRequestError(f"cannot compare models (include={plan.models!r}, sort={sort!r}): {exc}") from None
    table = experiment.pull()
    rows = [_leaderboard_row(str(model), row, sort) for model, row in table.iterrows()]
    # "TT (Sec)" is PyCaret's mean fit time per fold.
    fit_seconds = {str(model): float(row["TT (Sec)"]) * folds for model, row in table.iterrows()}
    return rows, fit_seconds


def _compare_in_worker(
    sample: pd.DataFrame,
    options: _SetupOptions,
    plan: budget.ComparePlan,
    sort: str,
    clock: _Clock,
    skipped: dict[str, str],
) -> tuple[list[dict], dict]:
    """Each planned candidate cross-validated in a worker set up on the sample, time-boxed; a candidate over
    its box is stopped and recorded in `skipped`, and a new worker takes the next one if time allows."""
    from mlops_core.training.worker import StoppableWorker, WorkerFailed, WorkerTimeout

    rows: list[dict] = []
    fit_seconds: dict[str, float] = {}
    worker: StoppableWorker | None = None
    try:
        for model in plan.models:
            if worker is None:
                if clock.budget_left() < _MIN_BOX_SECONDS:
                    skipped[model] = "not compared: the budget was spent"
                    continue
                worker = StoppableWorker()
                try:
                    worker.call(_worker_setup, sample, options, timeout=clock.budget_left())
                except (WorkerTimeout, WorkerFailed) as exc:
                    worker.stop()
                    worker = None
                    skipped[model] = f"not compared: the worker could not be set up ({exc})"
                    continue
            box = min(max(_BOX_FACTOR * plan.planned_seconds[model], _MIN_BOX_SECONDS), clock.budget_left())
            if box <= 0:
                skipped[model] = "not compared: the budget was spent"
                continue
            try:
                row, seconds = worker.call(_worker_cross_validate, model, options.folds, sort, timeout=box)
            except WorkerTimeout:
                skipped[model] = f"stopped after {box:.0f} s of cross-validation on {len(sample.index)} rows"
                worker.stop()
                worker = None
                continue
            except WorkerFailed as exc:
                skipped[model] = f"failed: {exc}"
                if not worker.alive:
                    worker.stop()
                    worker = None
                continue
            rows.append(row)
            fit_seconds[model] = seconds
    finally:
        if worker is not None:
            worker.stop()
    return rows, fit_seconds


def _worker_setup(sample: pd.DataFrame, options: _SetupOptions) -> None:
    """Runs in the worker: PyCaret imported and set up on the sample once, for the calls that follow."""
    from mlops_core.training.worker import state

    quiet_pycaret_logging()
    state["experiment"] = _setup(sample, options)


def _worker_cross_validate(model: str, folds: int, sort: str) -> dict[str, Any]:
    """Runs in the worker: one candidate's cross-validation, as compare_models runs it, as a leaderboard row."""
    from mlops_core.training.worker import state

    experiment = state["experiment"]
    experiment.create_model(model, fold=folds, verbose=False)
    mean = experiment.pull().loc["Mean"].copy()
    mean["Model"] = experiment._all_models_internal[model].name
    return _leaderboard_row(model, mean, sort)


def _leaderboard_row(model: str, row: Any, sort: str) -> dict[str, Any]:
    return {
        "model": model,
        "name": str(row["Model"]),
        **{key: float(row[name]) for key, name in _METRIC_NAMES.items()},
        "_sort": float(row[_sort_column(sort)]),
    }


def _stratified_sample(data: pd.DataFrame, target: str, rows: int, seed: int) -> pd.DataFrame:
    """About `rows` rows of `data`, each class in its share (a class of one row may be left out); all of
    `data` when it has no more rows than that."""
    if rows >= len(data.index):
        return data
    _, sample = stratified_split(data, target, holdout_fraction=rows / len(data.index), seed=seed)
    return sample


def _final_fit(experiment: Any, model: str, data: pd.DataFrame, target: str, everything_probed: bool) -> Any:
    """The chosen model's whole pipeline fitted on all rows: PyCaret's finalize_model when its experiment holds
    them all, else a clone of the pipeline finalize_model builds on the probe sample, fitted on all rows."""
    pipeline = experiment.finalize_model(model)
    if everything_probed:
        return pipeline
    from sklearn.base import clone

    return clone(pipeline).fit(data.drop(columns=[target]), data[target])


def _original_classes(pipeline: Any) -> list[str]:
    encoder = dict(pipeline.steps).get("label_encoding")
    if encoder is not None:
        return [str(c) for c in encoder.transformer.classes_]
    return [str(c) for c in pipeline.classes_]
