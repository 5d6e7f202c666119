"""training.budget: extrapolating a probe's fold times, planning the compare's sample and models, and the
refusal of a final fit that cannot finish in the step's remaining time."""

from __future__ import annotations

import pytest
from mlops_core.training import budget
from mlops_core.training.budget import FitCost, check_final_fit, compare_seconds, plan_compare
from mlops_core.training.exceptions import TrainingBudgetError, TrainingError


def test_fit_time_grows_at_least_linearly_and_at_most_as_rows_to_the_1_5() -> None:
    flat = FitCost((1000, 4000), (0.5, 0.5))  # noise: the same time at four times the rows
    assert flat.exponent == 1.0
    assert flat.at(40_000) == pytest.approx(5.0 + budget.FOLD_OVERHEAD_SECONDS)
    steep = FitCost((1000, 4000), (0.1, 6.4))  # 4x rows, 64x time: read as 1.5, not 3
    assert steep.exponent == 1.5
    assert steep.at(16_000) == pytest.approx(6.4 * 8 + budget.FOLD_OVERHEAD_SECONDS)
    between = FitCost((1000, 4000), (1.0, 5.657))
    assert between.exponent == pytest.approx(1.25, abs=1e-3)


def test_millisecond_timings_do_not_make_a_model_look_steep() -> None:
    tiny = FitCost((500, 2000), (0.0001, 0.004))
    assert tiny.exponent == 1.0  # both floored at the timer's noise level


def test_fewer_rows_than_probed_cost_what_was_measured() -> None:
    cost = FitCost((1000, 4000), (0.2, 1.0))
    assert cost.at(100) == pytest.approx(1.0 + budget.FOLD_OVERHEAD_SECONDS)


def _costs(**seconds_at_4k: float) -> dict[str, FitCost]:
    return {m: FitCost((1000, 4000), (s / 4, s)) for m, s in seconds_at_4k.items()}


def test_everything_fits_on_all_rows_when_the_budget_allows() -> None:
    costs = _costs(lr=0.01, dt=0.02, nb=0.01)
    plan = plan_compare(costs, total_rows=20_000, min_rows=4000, folds=5, available_seconds=100)
    assert plan.sample_rows == 20_000 and plan.models == ["lr", "nb", "dt"] and plan.skipped == {}
    assert sum(plan.planned_seconds.values()) <= 100


def test_sample_shrinks_until_the_planned_compare_fits_the_budget() -> None:
    costs = _costs(lr=0.2, dt=0.3, rf=0.5, knn=0.3)
    plan = plan_compare(costs, total_rows=1_000_000, min_rows=4000, folds=5, available_seconds=100)
    assert 4000 < plan.sample_rows < 1_000_000
    assert sum(compare_seconds(costs[m], plan.sample_rows, 5) for m in plan.models) <= 100
    # the next size up would not have fitted: the plan takes the largest that does
    bigger = int(plan.sample_rows / budget.SIZE_STEP) + 1
    assert sum(compare_seconds(costs[m], bigger, 5) for m in plan.models) > 100 or len(plan.models) < 4


def test_a_slow_model_is_skipped_with_the_time_it_would_need() -> None:
    costs = _costs(lr=0.05, dt=0.05, nb=0.05, gbc=20.0)
    plan = plan_compare(costs, total_rows=100_000, min_rows=4000, folds=5, available_seconds=100)
    assert "gbc" not in plan.models and set(plan.models) == {"lr", "dt", "nb"}
    assert plan.skipped["gbc"].startswith("needs about ")
    assert f"on {plan.sample_rows} rows" in plan.skipped["gbc"]


def test_start_cost_of_the_worker_is_counted() -> None:
    costs = _costs(lr=0.1)
    free = plan_compare(costs, total_rows=1_000_000, min_rows=4000, folds=5, available_seconds=60)
    paid = plan_compare(
        costs, total_rows=1_000_000, min_rows=4000, folds=5, available_seconds=60, start_seconds=lambda rows: 30.0
    )
    assert paid.sample_rows < free.sample_rows


def test_when_nothing_fits_the_cheapest_model_still_runs_on_the_smallest_sample() -> None:
    costs = _costs(rf=50.0, gbc=200.0)
    plan = plan_compare(costs, total_rows=100_000, min_rows=4000, folds=5, available_seconds=10)
    assert plan.sample_rows == 4000 and plan.models == ["rf"] and list(plan.skipped) == ["gbc"]


def test_no_candidates_no_plan() -> None:
    plan = plan_compare({}, total_rows=100, min_rows=100, folds=5, available_seconds=10)
    assert plan.models == [] and plan.sample_rows == 0


def test_final_fit_within_the_time_left_passes() -> None:
    check_final_fit("rf", 1_000_000, 100.0, 300.0)
    check_final_fit("rf", 1_000_000, 1e9, None)  # no limit known


def test_final_fit_past_the_time_left_is_refused_naming_figures_and_the_job_path() -> None:
    with pytest.raises(TrainingBudgetError) as raised:
        check_final_fit("gbc", 3_000_000, 1234.4, 400.0)
    message = str(raised.value)
    assert "'gbc'" in message and "3,000,000" in message and "1234 s" in message and "400 s left" in message
    assert "the job path (template parameter TrainingJobThresholdRows)" in message
    assert isinstance(raised.value, TrainingError)


def test_final_fit_estimate_scales_the_probe_with_the_safety_factor() -> None:
    cost = FitCost((1000, 4000), (0.25, 1.0))
    assert budget.final_fit_seconds(cost, 400_000) == pytest.approx(
        budget.FINAL_SAFETY * (100.0 + budget.FOLD_OVERHEAD_SECONDS)
    )


def test_a_fold_measured_on_the_sample_anchors_the_final_estimate() -> None:
    probe = FitCost((560, 2240), (0.02, 0.08))  # reads as linear
    slower = budget.anchored(probe, 22_400, 1.6)  # the sample's fold: 20x the time at 10x the rows
    assert slower.rows == (2240, 22_400) and slower.exponent == pytest.approx(1.301, abs=1e-3)
    assert budget.final_fit_seconds(slower, 224_000) > budget.final_fit_seconds(probe, 224_000)
    assert budget.anchored(probe, 1000, 5.0) is probe  # fewer rows than probed: nothing new


def test_a_skip_says_whether_the_model_is_too_slow_alone_or_came_last() -> None:
    costs = _costs(lr=0.05, dt=0.05, nb=0.05, gbc=20.0)
    plan = plan_compare(costs, total_rows=4000, min_rows=4000, folds=5, available_seconds=10)
    assert plan.skipped["gbc"].endswith("over 40% of the 10 s for comparing")
    crowded = plan_compare(
        _costs(a=0.5, b=0.5, c=0.5, d=0.5), total_rows=4000, min_rows=4000, folds=5, available_seconds=14
    )
    assert len(crowded.models) == 3 and "the cheaper candidates left" in next(iter(crowded.skipped.values()))


def test_model_size_grows_at_most_linearly_and_may_not_grow() -> None:
    trees = budget.ModelSize((560, 2240), (4_410_000, 14_140_000))  # ExtraTrees measured: 0.84
    assert trees.exponent == pytest.approx(0.84, abs=0.01)
    assert trees.at(60_000) == pytest.approx(14_140_000 * (60_000 / 2240) ** trees.exponent)
    assert budget.ModelSize((560, 2240), (1000, 64_000)).exponent == 1.0  # 4x rows, 64x bytes: read as linear
    assert budget.ModelSize((560, 2240), (2000, 1900)).exponent == 0.0  # a linear model's coefficients
    assert budget.ModelSize((2240, 2240), (5, 5)).at(22_400) == pytest.approx(50)  # one point: linear
    assert trees.at(100) == 14_140_000  # fewer rows than probed: what was measured


def test_a_model_estimated_past_the_limit_is_too_large_with_the_figures() -> None:
    trees = budget.ModelSize((560, 2240), (4_410_000, 14_140_000))
    assert budget.too_large(trees, 40_000, budget.MAX_MODEL_BYTES) is None
    reason = budget.too_large(trees, 950_000, budget.MAX_MODEL_BYTES)
    assert reason is not None
    assert reason.startswith("its model on all 950,000 rows would take about ")
    assert reason.endswith("MB, over the 300 MB a served model may take")


def test_a_cheap_model_still_pays_pycarets_per_row_work_so_the_sample_stays_bounded() -> None:
    # Ten models that fit in milliseconds: the sample is not all 950,000 rows, because every fold also
    # transforms and scores its rows.
    costs = {f"m{i}": FitCost((560, 2240), (0.001, 0.004)) for i in range(10)}
    assert compare_seconds(costs["m0"], 400_000, 5) == pytest.approx(
        budget.SAFETY * 5 * (costs["m0"].at(224_000) + budget.FOLD_ROW_OVERHEAD_SECONDS * 224_000)
    )
    plan = plan_compare(costs, total_rows=950_000, min_rows=4000, folds=5, available_seconds=93)
    assert len(plan.models) >= 8 and plan.sample_rows < 400_000  # not the 486,400 rows planned without it
    assert sum(compare_seconds(costs[m], plan.sample_rows, 5) for m in plan.models) <= 93
