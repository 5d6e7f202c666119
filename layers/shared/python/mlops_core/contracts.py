"""Shapes of what the pipeline steps return. Step Functions stores each under its own key of the run state
(`ResultPath: $.<key>` in statemachine/pipeline.asl.json), and generate_report reads them all back.

Payloads stay small (Step Functions caps a state at 256 KB): data and models travel as S3 keys and MLflow
versions, never inline.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class ColumnDrift(TypedDict):
    column_type: Literal["num", "cat"]
    method: str  # Evidently's method id, e.g. "K-S p_value", "Wasserstein distance (normed)"
    score: float
    threshold: float
    drifted: bool


class DriftOutput(TypedDict):
    """$.drift, from check_data_drift."""

    dataset: str
    batch_key: str
    batch_rows: int
    reference_key: str
    reference_rows: int
    profile_prefix: str  # where the baseline's reference profile and report sample live
    # Every monitored column, the target included, in the baseline's order: "num" or "cat". Later steps type
    # the data by it instead of reading the profile again.
    column_kinds: dict[str, Literal["num", "cat"]]
    detected: bool
    share_of_drifted_columns: float
    number_of_drifted_columns: int
    number_of_columns: int
    drift_share: float
    columns: dict[str, ColumnDrift]
    report_key: str  # Evidently HTML, in the reports bucket beside the run report
    report_sampled: bool
    report_rows: dict[str, int]  # rows the report was built on: {"reference": ..., "current": ...}


class Metrics(TypedDict):
    accuracy: float
    precision_macro: float
    recall_macro: float
    f1_macro: float


class TrainingOutput(TypedDict):
    """$.training, from train_model."""

    model_name: str
    model_version: str
    mlflow_run_id: str
    algorithm: str
    metrics: Metrics  # cross-validated on the augmented training data
    train_key: str
    holdout_key: str
    baseline_rows: int
    train_rows: int
    holdout_rows: int
    reused: bool  # True when the same execution input had already registered this version


class StatisticalTest(TypedDict):
    metric: Literal["f1_macro"]
    n: int
    n_resamples: int
    seed: int
    observed_delta: float
    mean_delta: float
    ci_low: float
    ci_high: float
    confidence: float
    p_value: float
    alpha: float
    significant: bool
    histogram: dict[str, list[float]]  # {"edges": [...], "counts": [...]} of the resampled deltas


class EvaluationOutput(TypedDict):
    """$.evaluation, from evaluate_candidate."""

    production_version: str | None
    staging_version: str
    production_metrics: Metrics | None  # on the held-out drifted rows
    staging_metrics: Metrics
    statistical_test: StatisticalTest | None  # None when there is no Production model
    passed: bool
    reason: str  # "significant_improvement" | "no_production_model" | "not_significant"


class AbTestOutput(TypedDict):
    """$.ab_test, from run_ab_test."""

    api_url: str
    production_share: float
    sample_size: int  # held-out rows sent, at most the AbTestSampleSize parameter
    requests: dict[str, int]  # rows each variant answered
    errors: dict[str, int]
    f1_macro: dict[str, float | None]
    accuracy: dict[str, float | None]
    feedback_lost: int  # labels the API never confirmed after retries: its own online statistics lack them
    passed: bool
    reason: str  # "staging_not_worse" | "staging_worse" | "no_production_model" | "no_ab_data"


class PromotionOutput(TypedDict):
    """$.promotion, from promote_if_better."""

    promoted: bool
    reason: str
    model_name: str
    previous_version: str | None
    new_version: str | None


class ReportOutput(TypedDict):
    """$.report, from generate_report."""

    report_id: str
    status: Literal["promoted", "blocked", "no_drift", "failed"]
    json_key: str
    html_key: str
    json_url: str
    html_url: str


class RunState(TypedDict):
    """The whole state as generate_report receives it."""

    run_id: str  # the execution name: a safe id
    execution_arn: str
    started_at: str
    input: dict
    drift: NotRequired[DriftOutput]
    training: NotRequired[TrainingOutput]
    evaluation: NotRequired[EvaluationOutput]
    ab_test: NotRequired[AbTestOutput]
    promotion: NotRequired[PromotionOutput]
    error: NotRequired[dict]  # the Catch result: {"Error": ..., "Cause": ...}
