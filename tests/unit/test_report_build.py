from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from mlops_core.exceptions import InvalidRequestError
from mlops_core.report import ReportLinks, build_report, derive_status, parse_error, report_links
from mlops_core.report.build import REPORT_KEYS, format_share

EVENTS = Path(__file__).resolve().parents[1] / "events"
NOW = datetime(2026, 11, 26, 6, 3, 7, tzinfo=UTC)
LINKS = ReportLinks(json="report.json", html="report.html")


def load(name: str) -> dict:
    return json.loads((EVENTS / f"report_state_{name}.json").read_text())


@pytest.fixture
def promoted() -> dict:
    return load("promoted")


def blocked_state() -> dict:
    state = load("promoted")
    state["evaluation"]["decision"].update(
        verdict="not_significant", rejected=False, p_value=0.21, decided_by="exact sign flip p 0.21 > α_t 0.0125"
    )
    state["evaluation"].update(passed=False, reason="not_significant")
    state["promotion"].update(promoted=False, outcome="blocked", reason="not_significant", new_version=None)
    return state


def test_promoted_report_has_every_section_and_the_summary_lines(promoted):
    report = build_report(promoted, now=NOW, links=LINKS)

    assert tuple(report) == REPORT_KEYS
    assert report["status"] == "promoted"
    assert report["run_id"] == "run-20261126T060000Z"
    assert report["timestamp"] == "2026-11-26T06:03:07Z"
    assert report["summary"] == [
        "Drift detected: 3 of 5 columns (60%) ≥ 50%",
        "Candidate v4 (LightGBM) F1-macro 0.978 vs Production v3 0.889",
        "Offline test (exact sign flip) on 90 rows: ΔF1 +0.089, 97.5% BCa interval [0.033, 0.168]: "
        "significant_improvement, because exact sign flip p 0.003906 ≤ α_t 0.0125",
        "Plan: minimum detectable effect 0.094 at 90 rows; 878 rows needed for 80% power at ΔF1 +0.030; "
        "α spent by this test 0.0125 (test 1 of the stream at α 0.05)",
        "Online via API: 60 rows sent (staging answered 31, production 29); paired on 60 labelled requests both "
        "models answered: candidate alone right 14, Production alone right 2, ties 44 (not evidence): "
        "non_inferior, because always-valid p 0.004 ≤ α 0.05 for H0: the candidate wins at most 45% of the "
        "discordant pairs",
        "Promoted v4 to Production (replacing v3): significantly better offline and not worse online",
    ]
    assert report["dataset"] == {
        "name": "iris",
        "batch_key": "datasets/iris/current/batch-20261126T055800Z.csv",
        "batch_rows": 300,
        "reference_key": "datasets/iris/baseline.csv",
        "reference_rows": 150,
    }
    assert report["offline_test"] == promoted["evaluation"]["decision"]
    # The histogram travels once, under offline_test.
    assert "decision" not in report["evaluation"]
    assert report["evaluation"]["staging_version"] == "4"
    assert report["ab_testing_api"] == promoted["ab_test"]
    assert report["drift"]["columns"] == promoted["drift"]["columns"]
    assert report["error"] is None
    assert report["links"] == {
        "json": "report.json",
        "html": "report.html",
        "drift_report": None,
        "mlflow_run": None,
        "mlflow_model": None,
        "index": None,
    }
    assert report["previous_run"] is None and report["steps"] is None


def test_report_round_trips_through_strict_json(promoted):
    report = build_report(promoted, now=NOW, links=LINKS)
    assert json.loads(json.dumps(report, allow_nan=False)) == report


def test_timestamp_is_converted_to_utc_and_naive_now_is_refused(promoted):
    paris = timezone(timedelta(hours=1))
    report = build_report(promoted, now=datetime(2026, 11, 26, 7, 0, tzinfo=paris), links=LINKS)
    assert report["timestamp"] == "2026-11-26T06:00:00Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        build_report(promoted, now=datetime(2026, 11, 26, 6, 0), links=LINKS)


def test_no_drift_report_keeps_the_missing_sections_as_null():
    report = build_report(load("no_drift"), now=NOW, links=LINKS)

    assert tuple(report) == REPORT_KEYS
    assert report["status"] == "no_drift"
    for key in ("training", "evaluation", "offline_test", "promotion", "ab_testing_api", "error"):
        assert report[key] is None, key
    assert report["summary"] == [
        "No drift: 1 of 5 columns (20%) < 50%",
        "Production untouched: no drift detected",
    ]


def test_failed_report_parses_the_lambda_error_payload():
    report = build_report(load("failed"), now=NOW, links=LINKS)

    assert report["status"] == "failed"
    assert report["drift"] is None
    message = "batch datasets/iris/current/batch-20261128T055800Z.csv lacks columns: petal_width"
    assert report["error"]["type"] == "DataValidationError"
    assert report["error"]["error"] == "DataValidationError"
    assert report["error"]["message"] == message
    assert len(report["error"]["stack_trace"]) == 3
    assert report["summary"] == [
        f"Run failed: DataValidationError: {message}",
        "Production untouched: the run failed",
    ]
    # The dataset still shows what the execution was asked to read.
    assert report["dataset"]["name"] == "iris"
    assert report["dataset"]["batch_key"] == "datasets/iris/current/batch-20261128T055800Z.csv"


def test_failure_wins_over_a_promotion(promoted):
    promoted["error"] = {"Error": "States.Timeout", "Cause": "generate_report timed out"}
    report = build_report(promoted, now=NOW, links=LINKS)
    assert report["status"] == "failed"
    assert report["summary"][-2:] == [
        "Run failed: States.Timeout: generate_report timed out",
        "Production untouched: the run failed",
    ]


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, "promoted"),
        ({"promotion": {"promoted": False, "reason": "not_significant"}}, "blocked"),
        ({"promotion": None}, "blocked"),
        ({"drift": {"detected": False}, "promotion": None}, "no_drift"),
        ({"error": {"Error": "X"}}, "failed"),
        ({"error": {"Error": "X"}, "drift": None, "promotion": None}, "failed"),
        # A truthy non-boolean is not a promotion.
        ({"promotion": {"promoted": "yes"}}, "blocked"),
    ],
)
def test_derive_status(promoted, changes, status):
    for key, value in changes.items():
        if value is None:
            promoted.pop(key)
        else:
            promoted[key] = value
    assert derive_status(promoted) == status


def test_blocked_report_says_why_production_is_untouched():
    report = build_report(blocked_state(), now=NOW, links=LINKS)
    assert report["status"] == "blocked"
    assert report["summary"][2].endswith(": not_significant, because exact sign flip p 0.21 > α_t 0.0125")
    assert report["summary"][-1] == (
        "Production untouched: the candidate's improvement is not statistically significant"
    )


def test_blocked_without_promotion_step_falls_back_to_the_evaluation_reason():
    state = blocked_state()
    del state["promotion"]
    assert build_report(state, now=NOW, links=LINKS)["summary"][-1] == (
        "Production untouched: the candidate's improvement is not statistically significant"
    )
    state["evaluation"]["passed"] = True
    assert build_report(state, now=NOW, links=LINKS)["summary"][-1] == (
        "Production untouched: the promotion step did not run"
    )


def test_first_promotion_without_production_model(promoted):
    promoted["training"]["model_version"] = "1"
    promoted["evaluation"].update(
        production_version=None,
        production_metrics=None,
        staging_version="1",
        decision=None,
        reason="no_production_model",
    )
    promoted["ab_test"].update(
        requests={"staging": 60},
        errors={"staging": 2},
        f1_macro={"staging": 0.9503, "production": None},
        reason="no_production_model",
        production_version=None,
        evidence=None,
    )
    promoted["promotion"].update(previous_version=None, new_version="1", reason="no_production_model")

    report = build_report(promoted, now=NOW, links=LINKS)

    assert report["status"] == "promoted"
    assert report["offline_test"] is None
    assert report["summary"][1:] == [
        "Candidate v1 (LightGBM) F1-macro 0.978; no Production model to compare",
        "Offline test skipped: no Production model yet",
        "Online via API: 60 rows sent (staging answered 60, production 0), 2 failed requests: no Production model yet",
        "Promoted v1 to Production: no Production model yet",
    ]


def test_candidate_line_when_evaluation_did_not_run(promoted):
    for key in ("evaluation", "ab_test", "promotion"):
        del promoted[key]
    promoted["error"] = {"Error": "Lambda.Unknown", "Cause": "out of memory"}
    report = build_report(promoted, now=NOW, links=LINKS)
    assert report["summary"][1] == (
        "Candidate v4 (LightGBM) cross-validated F1-macro 0.955; not evaluated on held-out rows"
    )


@pytest.mark.parametrize(
    "verdict", ["significant_improvement", "not_significant", "insufficient_data", "class_regression"]
)
def test_every_offline_verdict_line_names_the_condition_that_decided_it(promoted, verdict):
    decision = promoted["evaluation"]["decision"]
    decision.update(verdict=verdict, decided_by=f"the condition of {verdict}", missing_rows=500)
    line = build_report(promoted, now=NOW, links=LINKS)["summary"][2]
    assert line.endswith(f": {verdict}, because the condition of {verdict}")


def test_a_class_that_falls_is_named_in_the_summary(promoted):
    decision = promoted["evaluation"]["decision"]
    decision["classes"][1].update(passed=False, delta=-0.2)
    lines = build_report(promoted, now=NOW, links=LINKS)["summary"]
    assert f"Class guardrails failed: {decision['classes'][1]['label']} ΔF1 -0.200" in lines


def test_a_waiting_candidate_is_reported_pending(promoted):
    promoted["ab_test"]["evidence"]["test"].update(verdict="continue", decided_by="neither p below α yet")
    promoted["promotion"].update(promoted=False, outcome="pending", reason="awaiting_online_evidence", new_version=None)
    report = build_report(promoted, now=NOW, links=LINKS)
    assert report["status"] == "pending"
    assert report["summary"][-1] == (
        "Candidate v4 waits in Staging: the candidate waits in Staging while online evidence accumulates; "
        "Production untouched"
    )


def test_non_finite_numbers_become_null_and_read_as_na(promoted):
    promoted["drift"]["columns"]["sepal_width"]["score"] = math.nan
    promoted["ab_test"]["f1_macro"]["production"] = math.inf
    promoted["evaluation"]["production_metrics"]["f1_macro"] = -math.inf

    report = build_report(promoted, now=NOW, links=LINKS)

    json.dumps(report, allow_nan=False)
    assert report["drift"]["columns"]["sepal_width"]["score"] is None
    assert report["ab_testing_api"]["f1_macro"]["production"] is None
    assert report["summary"][1] == "Candidate v4 (LightGBM) F1-macro 0.978 vs Production v3 n/a"
    promoted["evaluation"]["decision"]["mde"] = math.nan
    assert "minimum detectable effect n/a" in build_report(promoted, now=NOW, links=LINKS)["summary"][3]


def test_the_state_is_not_modified(promoted):
    before = copy.deepcopy(promoted)
    build_report(promoted, now=NOW, links=LINKS)
    assert promoted == before


def test_drift_share_near_the_threshold_keeps_its_decimal(promoted):
    promoted["drift"].update(share_of_drifted_columns=0.499, number_of_drifted_columns=499, number_of_columns=1000)
    promoted["drift"]["detected"] = False
    promoted.pop("promotion")
    report = build_report(promoted, now=NOW, links=LINKS)
    assert report["summary"][0] == "No drift: 499 of 1000 columns (49.9%) < 50%"


@pytest.mark.parametrize(("share", "text"), [(0.5, "50%"), (0.6, "60%"), (2 / 3, "66.7%"), (0.0, "0%"), (None, "n/a")])
def test_format_share(share, text):
    assert format_share(share) == text


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            {"Error": "ValueError", "Cause": json.dumps({"errorMessage": "bad", "errorType": "ValueError"})},
            {"error": "ValueError", "type": "ValueError", "message": "bad", "stack_trace": None},
        ),
        (
            # Step Functions names the error; the payload's own type is kept beside it.
            {"Error": "Lambda.Unknown", "Cause": {"errorMessage": "x", "errorType": "Runtime.ExitError"}},
            {"error": "Lambda.Unknown", "type": "Runtime.ExitError", "message": "x", "stack_trace": None},
        ),
        (
            {"Error": "States.Timeout", "Cause": "Task timed out after 900.00 seconds"},
            {
                "error": "States.Timeout",
                "type": "States.Timeout",
                "message": "Task timed out after 900.00 seconds",
                "stack_trace": None,
            },
        ),
        (
            {"Error": "States.TaskFailed"},
            {"error": "States.TaskFailed", "type": "States.TaskFailed", "message": "", "stack_trace": None},
        ),
        (
            {"Error": "X", "Cause": "[1, 2]"},
            {"error": "X", "type": "X", "message": "[1, 2]", "stack_trace": None},
        ),
        (
            {"Error": "X", "Cause": "{not json"},
            {"error": "X", "type": "X", "message": "{not json", "stack_trace": None},
        ),
    ],
)
def test_parse_error(error, expected):
    assert parse_error(error) == expected


@pytest.mark.parametrize("run_id", [None, 42, "", "../etc", "a b", "run/1", "<script>", "x" * 81])
def test_unsafe_or_missing_run_id_is_refused(promoted, run_id):
    promoted["run_id"] = run_id
    with pytest.raises(InvalidRequestError, match="run_id") as raised:
        build_report(promoted, now=NOW, links=LINKS)
    assert raised.value.field == "run_id"


@pytest.mark.parametrize("key", ["drift", "training", "evaluation", "ab_test", "promotion", "error"])
def test_a_section_that_is_not_an_object_is_refused(promoted, key):
    promoted[key] = ["not", "an", "object"]
    with pytest.raises(InvalidRequestError, match=key) as raised:
        build_report(promoted, now=NOW, links=LINKS)
    assert raised.value.field == key


def test_other_malformed_states_are_refused(promoted):
    with pytest.raises(InvalidRequestError, match="JSON object"):
        build_report(["run"], now=NOW, links=LINKS)
    with pytest.raises(InvalidRequestError, match=r"drift\.columns"):
        build_report({**promoted, "drift": {**promoted["drift"], "columns": ["a"]}}, now=NOW, links=LINKS)
    with pytest.raises(InvalidRequestError, match="execution_arn"):
        build_report({**promoted, "execution_arn": 7}, now=NOW, links=LINKS)
    with pytest.raises(InvalidRequestError, match="decision"):
        evaluation = {**promoted["evaluation"], "decision": "significant"}
        build_report({**promoted, "evaluation": evaluation}, now=NOW, links=LINKS)
    with pytest.raises(InvalidRequestError, match=r"report\.drift\.columns\.sepal_width\.score holds a set"):
        promoted["drift"]["columns"]["sepal_width"]["score"] = {0.3}
        build_report(promoted, now=NOW, links=LINKS)


def test_a_state_with_neither_drift_nor_error_is_refused():
    state = load("no_drift")
    del state["drift"]
    with pytest.raises(InvalidRequestError, match="neither a drift result nor an error"):
        build_report(state, now=NOW, links=LINKS)


def test_report_links_under_the_website_and_mlflow(promoted):
    links = report_links(
        promoted,
        reports_base_url="http://reports.example:4566/",
        mlflow_ui_url="http://127.0.0.1:5000/",
        drift_report_url="http://data.example/drift/run-20261126T060000Z/report.html",
    )
    assert links == ReportLinks(
        json="http://reports.example:4566/reports/run-20261126T060000Z/report.json",
        html="http://reports.example:4566/reports/run-20261126T060000Z/report.html",
        drift_report="http://data.example/drift/run-20261126T060000Z/report.html",
        mlflow_run="http://127.0.0.1:5000/#/runs/5f0c1a7e2b9d4c0e8a3f6b1d2c4e7a90",
        mlflow_model="http://127.0.0.1:5000/#/models/iris-classifier/versions/4",
        index="http://reports.example:4566/reports/index.html",
    )
    assert build_report(promoted, now=NOW, links=links)["links"]["mlflow_model"] == links.mlflow_model


def test_report_links_default_to_relative_names_and_skip_missing_runs():
    links = report_links(load("no_drift"), mlflow_ui_url="http://127.0.0.1:5000")
    assert links == ReportLinks(json="report.json", html="report.html", index="../index.html")
    with pytest.raises(InvalidRequestError):
        report_links({"run_id": "../x"})


@pytest.mark.parametrize(("runs", "words"), [(1, "1 earlier run)"), (3, "3 earlier runs)")])
def test_the_offline_line_says_how_many_rows_were_pooled_from_how_many_runs(promoted, runs, words):
    promoted["evaluation"]["rows"].update(own=90, pooled=120, pooled_runs=runs)
    line = build_report(promoted, now=NOW, links=LINKS)["summary"][2]
    assert f"on 90 rows (120 pooled from {words}" in line
