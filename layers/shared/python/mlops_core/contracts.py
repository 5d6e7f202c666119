"""Shapes of what the pipeline steps return. Step Functions stores each under its own key of the run state
(`ResultPath: $.<key>` in statemachine/pipeline.asl.json), and generate_report reads them all back.

Payloads stay small (Step Functions caps a state at 256 KB): data and models travel as S3 keys and MLflow
versions, never inline.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class ColumnDrift(TypedDict):
    column_type: Literal["num", "cat"]  # as the baseline typed it: every batch is cast to that first
    status: Literal["tested", "all_missing"]  # all_missing: no value on a side, so no test and not in the share
    method: str | None  # Evidently's method id, e.g. "K-S p_value", "Wasserstein distance (normed)"; None untested
    score: float | None
    threshold: float | None
    drifted: bool  # False when untested
    missing_in: Literal["reference", "current", "both"] | None  # the side(s) without a value, for all_missing
    # What decided the verdict: "profile" (the bounded profile alone: exact counts, or a sketch whose proven error
    # bound keeps the score off the threshold) or "exact" (the stored exact reference column); None untested
    decided_by: Literal["profile", "exact"] | None


class TargetDrift(ColumnDrift):
    """The target's own entry of `columns`, with its name and whether it counts toward the drifted share
    (the TARGET_IN_DRIFT_SHARE setting)."""

    column: str
    counted_in_share: bool


class DriftOutput(TypedDict):
    """$.drift, from check_data_drift."""

    dataset: str
    batch_key: str
    batch_rows: int
    reference_key: str
    reference_rows: int
    profile_prefix: str  # where the baseline's reference profile and report sample live
    # Every column the model sees, the target included, in the baseline's order: "num" or "cat". Later steps type
    # the data by it instead of reading the profile again. Drift tests all but `excluded_columns`.
    column_kinds: dict[str, Literal["num", "cat"]]
    detected: bool
    share_of_drifted_columns: float
    number_of_drifted_columns: int
    number_of_columns: int  # the columns the share counts: tested ones, the target only when counted_in_share
    drift_share: float
    columns: dict[str, ColumnDrift]  # every monitored column, the target and all-missing ones included
    excluded_columns: dict[str, str]  # columns not tested (text), with the reason
    target_drift: TargetDrift | None
    report_key: str  # Evidently HTML, in the reports bucket beside the run report
    report_sampled: bool  # True when the report saw fewer rows than either side has
    report_rows: dict[str, int]  # rows the report was built on: {"reference": ..., "current": ...}


class Metrics(TypedDict):
    accuracy: float
    precision_macro: float
    recall_macro: float
    f1_macro: float


class LeaderboardRow(TypedDict):
    """One model AutoML compared, by cross-validated F1-macro (PyCaret's `pull()` grid, cut to a few figures)."""

    model: str  # PyCaret's id, e.g. "lr"
    name: str  # e.g. "Logistic Regression"
    f1_macro: float
    accuracy: float
    fit_seconds: float | None  # seconds its cross-validation fits took, all folds; None when not timed


class TrainingPlan(TypedDict):
    """How train_model spent its time budget (training.automl): the plan a timing probe made, and what ran."""

    total_rows: int  # training rows (baseline + the batch's training part)
    sample_rows: int  # the stratified sample the models were compared on
    probe_rows: int  # the sample the timing probe fitted each candidate on
    folds: int
    budget_seconds: float
    in_worker: bool  # compared in a worker that stops an overrunning candidate (False: small data, in-process)
    models_tried: list[str]  # compared to the end, best first
    models_skipped: dict[str, str]  # model id -> why it was not compared or was stopped
    fit_seconds: dict[str, float]  # model id -> seconds of its cross-validation
    final_fit_estimate_seconds: float  # the chosen model on all rows, estimated before it started
    final_fit_seconds: float


class _TrainingOutputOptional(TypedDict, total=False):
    # total=False rather than NotRequired: under postponed annotations Python 3.11's TypedDict counts a
    # NotRequired field among __required_keys__.
    plan: TrainingPlan  # absent when the version was reused: nothing was trained


class TrainingOutput(_TrainingOutputOptional):
    """$.training, from train_model."""

    model_name: str
    model_version: str
    mlflow_run_id: str
    algorithm: str
    metrics: Metrics  # cross-validated on the augmented training data
    train_key: str
    holdout_key: str  # the offline test's rows
    online_key: str  # the online stage's rows: disjoint from both others
    baseline_rows: int
    train_rows: int
    holdout_rows: int
    online_rows: int
    reused: bool  # True when the same execution input had already registered this version
    # The best models compared, at most training.leaderboard.LEADERBOARD_ROWS; empty when the version was reused
    # (its full grid is the MLflow run's automl/compare.json).
    leaderboard: list[LeaderboardRow]


class PooledRows(TypedDict):
    own: int  # this run's held-out rows
    pooled: int  # earlier runs' held-out rows added (since Production was last a candidate)
    pooled_runs: int
    test_number: int | None  # t in the ledger (the spending rule's index); None for a first model


class EvaluationOutput(TypedDict):
    """$.evaluation, from evaluate_candidate."""

    production_version: str | None
    staging_version: str
    production_metrics: Metrics | None  # on the rows the test used
    staging_metrics: Metrics
    decision: dict | None  # decision.OfflineDecisionDict; None when there is no Production model
    rows: PooledRows
    passed: bool
    reason: str  # the offline verdict, or "no_production_model"


class OnlineEvidence(TypedDict):
    """Paired counts of the requests both models answered (shadow mode) and got a label for, since the
    candidate was staged, with the sequential test on them (stats.sequential's result)."""

    production_version: str
    staging_version: str
    pairs: int
    both_correct: int
    staging_only: int  # only the candidate was right
    production_only: int  # only Production was right
    both_wrong: int
    test: dict


class AbTestOutput(TypedDict):
    """$.ab_test, from run_ab_test: this run's own online rows sent through the API, then the paired evidence."""

    mode: Literal["new_candidate", "pending_candidate"]
    staging_version: str
    production_version: str | None
    api_url: str
    production_share: float
    sample_size: int  # online rows sent, at most the AbTestSampleSize parameter
    requests: dict[str, int]  # rows each variant answered
    errors: dict[str, int]
    f1_macro: dict[str, float | None]  # this run's rows, each variant on the rows it served (descriptive)
    accuracy: dict[str, float | None]
    feedback_lost: int  # labels the API never confirmed after retries: its own online statistics lack them
    evidence: OnlineEvidence | None  # None when there is no Production model to pair with
    staged_at: str  # when the candidate was staged (ISO): how long it has waited
    passed: bool
    reason: str  # "non_inferior" | "inferior" | "continue" | "no_production_model" | "no_ab_data"


class PendingOutput(TypedDict):
    """$.pending, from find_pending_candidate: the candidate waiting in Staging for online evidence, if any."""

    found: bool
    version: str | None
    staged_at: str | None  # ISO time it started waiting
    offline_verdict: str | None  # the offline gate it passed when it was staged
    staged_by_run: str | None


class PromotionOutput(TypedDict):
    """$.promotion, from promote_if_better."""

    promoted: bool
    outcome: Literal["promoted", "pending", "blocked"]
    reason: str
    model_name: str
    candidate_version: str
    previous_version: str | None
    new_version: str | None


class ReportOutput(TypedDict):
    """$.report, from generate_report."""

    report_id: str
    status: Literal["promoted", "pending", "blocked", "no_drift", "failed"]
    json_key: str
    html_key: str
    json_url: str
    html_url: str
    index_key: str  # the reports index, rebuilt by this run


class RunState(TypedDict):
    """The whole state as generate_report receives it."""

    run_id: str  # the execution name: a safe id
    execution_arn: str
    started_at: str
    input: dict
    drift: NotRequired[DriftOutput]
    pending: NotRequired[PendingOutput]
    training: NotRequired[TrainingOutput]
    evaluation: NotRequired[EvaluationOutput]
    ab_test: NotRequired[AbTestOutput]
    promotion: NotRequired[PromotionOutput]
    error: NotRequired[dict]  # the Catch result: {"Error": ..., "Cause": ...}
