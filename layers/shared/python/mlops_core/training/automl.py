"""AutoML model selection with PyCaret: the best classifier by cross-validated macro F1 within a time budget.

PyCaret's own F1, precision and recall average over classes weighted by support, which lets a model that
neglects a small class win. They are replaced by macro averages under the same display names, so `sort="F1"`
means macro F1 here. PyCaret is imported inside `train_best_model` only: it takes seconds to import.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_core.contracts import Metrics
from mlops_core.exceptions import DataValidationError, InvalidRequestError
from mlops_core.pycaret_env import quiet_pycaret_logging
from mlops_core.training.exceptions import TrainingError

if TYPE_CHECKING:
    import pandas as pd

# A few quick models with predict_proba, for tests and small budgets.
FAST_MODELS: tuple[str, ...] = ("lr", "nb", "dt")
_SAMPLE_ROWS = 20
# PyCaret's ids and display names of our metrics; the display names are what `pull()` reports.
_METRIC_NAMES = {"accuracy": "Accuracy", "precision_macro": "Prec.", "recall_macro": "Recall", "f1_macro": "F1"}
# Metrics dropped: the weighted ones we replace, and AUC, which PyCaret 3.3 scores as 0 on some multiclass data.
_DROPPED_METRICS = ("auc", "recall", "precision", "f1")


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
    timings: dict[str, float] = field(default_factory=dict)  # seconds: import, setup, compare, finalize

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
) -> TrainedModel:
    """Compare PyCaret's classifiers (or only `include`) by cross-validated `sort` (macro F1 by default) until
    `budget_seconds` are spent, refit the best on all of `train_df` and return it with its CV metrics.
    Labels are trained as strings, so predict returns the original labels as strings."""
    _check_inputs(train_df, target, categorical, budget_seconds, folds)
    data = _model_frame(train_df, target, categorical)
    smallest_class = int(data[target].value_counts().min())

    timings: dict[str, float] = {}
    started = time.perf_counter()
    # setup(system_log=False) below covers the experiment's own log.
    quiet_pycaret_logging()
    from pycaret.classification import ClassificationExperiment

    timings["import"] = time.perf_counter() - started

    started = time.perf_counter()
    experiment = ClassificationExperiment()
    experiment.setup(
        data,
        target=target,
        categorical_features=list(categorical) or None,
        numeric_features=[c for c in data.columns if c != target and c not in categorical] or None,
        session_id=seed,
        fold=folds,
        # PyCaret's own stratified train/test split needs two rows per class; the held-out rows that judge
        # the candidate are split off before this anyway.
        data_split_stratify=smallest_class >= 2,
        html=False,
        verbose=False,
        n_jobs=n_jobs,
        log_experiment=False,
        system_log=False,  # else PyCaret writes logs.log into the working directory
        memory=False,
    )
    for metric in _DROPPED_METRICS:
        experiment.remove_metric(metric)
    experiment.add_metric("precision_macro", _METRIC_NAMES["precision_macro"], precision_macro)
    experiment.add_metric("recall_macro", _METRIC_NAMES["recall_macro"], recall_macro)
    experiment.add_metric("f1_macro", _METRIC_NAMES["f1_macro"], f1_macro)
    timings["setup"] = time.perf_counter() - started

    started = time.perf_counter()
    try:
        best = experiment.compare_models(
            include=list(include) if include else None,
            sort=sort,
            budget_time=budget_seconds / 60,
            n_select=1,
            verbose=False,
        )
    except ValueError as exc:  # PyCaret's answer to unknown model ids or metric names
        raise InvalidRequestError(f"cannot compare models (include={include!r}, sort={sort!r}): {exc}") from None
    leaderboard = experiment.pull()
    timings["compare"] = time.perf_counter() - started
    if isinstance(best, list):
        if not best:
            raise TrainingError(f"no model could be trained on {len(data.index)} rows of {target!r}")
        best = best[0]

    started = time.perf_counter()
    pipeline = experiment.finalize_model(best)
    timings["finalize"] = time.perf_counter() - started

    top = leaderboard.iloc[0]
    metrics: Metrics = {key: float(top[name]) for key, name in _METRIC_NAMES.items()}  # type: ignore[assignment]
    return TrainedModel(
        pipeline=pipeline,
        algorithm=type(pipeline.steps[-1][1]).__name__,
        cv_metrics=metrics,
        target=target,
        features=[c for c in data.columns if c != target],
        categorical=list(categorical),
        classes=_original_classes(pipeline),
        sample=data.drop(columns=[target]).head(_SAMPLE_ROWS).reset_index(drop=True),
        leaderboard=[
            {"model": str(model_id), "name": str(row["Model"]), **{k: float(row[n]) for k, n in _METRIC_NAMES.items()}}
            for model_id, row in leaderboard.iterrows()
        ],
        timings={k: round(v, 3) for k, v in timings.items()},
    )


def _original_classes(pipeline: Any) -> list[str]:
    encoder = dict(pipeline.steps).get("label_encoding")
    if encoder is not None:
        return [str(c) for c in encoder.transformer.classes_]
    return [str(c) for c in pipeline.classes_]
