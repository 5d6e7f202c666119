"""Schedule expressions: parsing, next fire times, and the per-rule due-time bookkeeping (pure, no AWS)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mlops_local.schedule_expressions import (
    CronSchedule,
    DueFire,
    FireTimeTracker,
    RateSchedule,
    aws_weekday,
    parse_schedule,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def first_in_year(expr: str, year: int) -> datetime | None:
    return parse_schedule(expr).next_after(utc(year, 1, 1) - timedelta(minutes=1))


def fires(expr: str, after: datetime, count: int = 1) -> list[datetime]:
    schedule = parse_schedule(expr)
    times: list[datetime] = []
    t = after
    for _ in range(count):
        t = schedule.next_after(t)
        assert t is not None
        times.append(t)
    return times


class TestRate:
    @pytest.mark.parametrize(
        ("expr", "period"),
        [
            ("rate(1 minute)", timedelta(minutes=1)),
            ("rate(5 minutes)", timedelta(minutes=5)),
            ("rate(1 hour)", timedelta(hours=1)),
            ("rate(12 hours)", timedelta(hours=12)),
            ("rate(1 day)", timedelta(days=1)),
            ("rate(2 days)", timedelta(days=2)),
        ],
    )
    def test_period(self, expr: str, period: timedelta) -> None:
        schedule = parse_schedule(expr)
        assert isinstance(schedule, RateSchedule)
        assert schedule.period == period
        assert schedule.expression == expr

    def test_counts_from_the_anchor(self) -> None:
        schedule = parse_schedule("rate(5 minutes)")
        anchor = utc(2026, 3, 1, 10, 0, 7)
        assert schedule.next_after(anchor, anchor=anchor) == utc(2026, 3, 1, 10, 5, 7)
        assert schedule.next_after(utc(2026, 3, 1, 10, 5, 6), anchor=anchor) == utc(2026, 3, 1, 10, 5, 7)
        assert schedule.next_after(utc(2026, 3, 1, 10, 5, 7), anchor=anchor) == utc(2026, 3, 1, 10, 10, 7)
        assert schedule.next_after(utc(2026, 3, 1, 11, 59), anchor=anchor) == utc(2026, 3, 1, 12, 0, 7)

    def test_before_the_anchor_fires_one_period_after_it(self) -> None:
        schedule = parse_schedule("rate(1 hour)")
        anchor = utc(2026, 3, 1, 10)
        assert schedule.next_after(utc(2026, 2, 1), anchor=anchor) == utc(2026, 3, 1, 11)

    def test_without_anchor_counts_from_t(self) -> None:
        assert parse_schedule("rate(2 days)").next_after(utc(2026, 2, 28, 1)) == utc(2026, 3, 2, 1)

    @given(
        minutes=st.integers(1, 60 * 24 * 3),
        anchor=st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
        offset=st.timedeltas(timedelta(days=-5), timedelta(days=400)),
    )
    def test_next_is_the_first_period_multiple_after_t(self, minutes: int, anchor: datetime, offset: timedelta) -> None:
        unit = "minute" if minutes == 1 else "minutes"
        schedule = parse_schedule(f"rate({minutes} {unit})")
        t = anchor + offset
        result = schedule.next_after(t, anchor=anchor)
        period = timedelta(minutes=minutes)
        assert result > t
        k, remainder = divmod(result - anchor, period)
        assert remainder == timedelta(0)
        assert k >= 1
        assert k == 1 or result - period <= t


class TestCronDaily:
    """The pipeline's own rule: every day at 06:00 UTC."""

    EXPR = "cron(0 6 * * ? *)"

    def test_before_six_fires_the_same_day(self) -> None:
        assert fires(self.EXPR, utc(2026, 3, 1, 5, 59, 59)) == [utc(2026, 3, 1, 6)]

    def test_at_or_after_six_fires_the_next_day(self) -> None:
        assert fires(self.EXPR, utc(2026, 3, 1, 6)) == [utc(2026, 3, 2, 6)]
        assert fires(self.EXPR, utc(2026, 3, 1, 6, 0, 30)) == [utc(2026, 3, 2, 6)]

    def test_successive_days_across_month_and_year_ends(self) -> None:
        assert fires(self.EXPR, utc(2026, 12, 30, 7), 3) == [
            utc(2026, 12, 31, 6),
            utc(2027, 1, 1, 6),
            utc(2027, 1, 2, 6),
        ]
        assert fires(self.EXPR, utc(2024, 2, 28, 7), 2) == [utc(2024, 2, 29, 6), utc(2024, 3, 1, 6)]

    def test_other_timezones_are_converted_to_utc(self) -> None:
        berlin_summer = timezone(timedelta(hours=2))
        # 07:30 in UTC+2 is 05:30 UTC: still before the 06:00 UTC fire.
        result = parse_schedule(self.EXPR).next_after(datetime(2026, 6, 1, 7, 30, tzinfo=berlin_summer))
        assert result == utc(2026, 6, 1, 6)
        assert result.tzinfo == UTC

    def test_naive_time_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            parse_schedule(self.EXPR).next_after(datetime(2026, 3, 1, 5))

    def test_matches(self) -> None:
        schedule = parse_schedule(self.EXPR)
        assert isinstance(schedule, CronSchedule)
        assert schedule.matches(utc(2026, 3, 1, 6, 0, 59))
        assert not schedule.matches(utc(2026, 3, 1, 6, 1))
        assert not schedule.matches(utc(2026, 3, 1, 7, 0))


class TestCronFields:
    @pytest.mark.parametrize(
        ("expr", "after", "expected"),
        [
            # minute lists, steps and ranges
            ("cron(0/15 * * * ? *)", utc(2026, 1, 1, 0, 0), [utc(2026, 1, 1, 0, 15), utc(2026, 1, 1, 0, 30)]),
            ("cron(*/20 3 * * ? *)", utc(2026, 1, 1, 3, 40), [utc(2026, 1, 2, 3, 0), utc(2026, 1, 2, 3, 20)]),
            ("cron(5/25 0 * * ? *)", utc(2026, 1, 1), [utc(2026, 1, 1, 0, 5), utc(2026, 1, 1, 0, 30)]),
            ("cron(10-50/20 0 * * ? *)", utc(2026, 1, 1, 0, 31), [utc(2026, 1, 1, 0, 50), utc(2026, 1, 2, 0, 10)]),
            ("cron(0,30 8-9 * * ? *)", utc(2026, 1, 1, 8, 45), [utc(2026, 1, 1, 9, 0), utc(2026, 1, 1, 9, 30)]),
            # month names and numbers, case-insensitive
            ("cron(0 0 1 JAN,jul ? *)", utc(2026, 2, 1), [utc(2026, 7, 1), utc(2027, 1, 1)]),
            ("cron(0 0 1 MAR-MAY ? *)", utc(2026, 4, 15), [utc(2026, 5, 1), utc(2027, 3, 1)]),
            ("cron(0 0 1 */6 ? *)", utc(2026, 1, 1), [utc(2026, 7, 1), utc(2027, 1, 1)]),
            # weekdays: 1 is Sunday in AWS cron; 2026-03-01 is a Sunday
            ("cron(0 12 ? * 1 *)", utc(2026, 2, 27), [utc(2026, 3, 1, 12), utc(2026, 3, 8, 12)]),
            ("cron(0 12 ? * SUN *)", utc(2026, 2, 27), [utc(2026, 3, 1, 12), utc(2026, 3, 8, 12)]),
            ("cron(0 12 ? * MON-FRI *)", utc(2026, 2, 27, 13), [utc(2026, 3, 2, 12), utc(2026, 3, 3, 12)]),
            ("cron(0 12 ? * 7 *)", utc(2026, 2, 27), [utc(2026, 2, 28, 12), utc(2026, 3, 7, 12)]),
            # years
            ("cron(0 0 1 1 ? 2030)", utc(2026, 5, 5), [utc(2030, 1, 1)]),
            ("cron(0 0 1 1 ? 2028-2040/4)", utc(2029, 1, 1), [utc(2032, 1, 1), utc(2036, 1, 1)]),
        ],
    )
    def test_next_fire_times(self, expr: str, after: datetime, expected: list[datetime]) -> None:
        assert fires(expr, after, len(expected)) == expected

    def test_last_possible_year_then_never(self) -> None:
        schedule = parse_schedule("cron(* * * * ? *)")
        assert schedule.next_after(utc(2199, 12, 31, 23, 58)) == utc(2199, 12, 31, 23, 59)
        assert schedule.next_after(utc(2199, 12, 31, 23, 59)) is None

    def test_a_year_in_the_past_never_fires(self) -> None:
        assert parse_schedule("cron(0 0 1 1 ? 2020)").next_after(utc(2026, 1, 1)) is None

    def test_an_impossible_date_never_fires(self) -> None:
        assert parse_schedule("cron(0 0 30 2 ? *)").next_after(utc(2026, 1, 1)) is None


class TestMonthEndsAndLeapYears:
    def test_february_29_only_in_leap_years(self) -> None:
        assert fires("cron(0 0 29 2 ? *)", utc(2025, 1, 1), 2) == [utc(2028, 2, 29), utc(2032, 2, 29)]

    def test_2100_is_not_a_leap_year(self) -> None:
        assert fires("cron(0 0 29 2 ? *)", utc(2097, 1, 1)) == [utc(2104, 2, 29)]

    def test_2000_is_a_leap_year(self) -> None:
        assert fires("cron(0 0 29 2 ? *)", utc(1999, 1, 1)) == [utc(2000, 2, 29)]

    def test_day_31_skips_shorter_months(self) -> None:
        assert fires("cron(0 0 31 * ? *)", utc(2026, 1, 31), 3) == [
            utc(2026, 3, 31),
            utc(2026, 5, 31),
            utc(2026, 7, 31),
        ]

    def test_last_day_of_month(self) -> None:
        assert fires("cron(30 23 L * ? *)", utc(2024, 1, 31, 23, 30), 4) == [
            utc(2024, 2, 29, 23, 30),
            utc(2024, 3, 31, 23, 30),
            utc(2024, 4, 30, 23, 30),
            utc(2024, 5, 31, 23, 30),
        ]
        assert fires("cron(0 0 L 2 ? *)", utc(2025, 1, 1)) == [utc(2025, 2, 28)]


class TestSpecialCharacters:
    def test_nearest_weekday_of_a_saturday_is_the_friday_before(self) -> None:
        # 2026-02-14 is a Saturday.
        assert fires("cron(0 0 14W * ? *)", utc(2026, 2, 1)) == [utc(2026, 2, 13)]

    def test_nearest_weekday_of_a_sunday_is_the_monday_after(self) -> None:
        # 2026-03-01 is a Sunday.
        assert fires("cron(0 0 1W 3 ? *)", utc(2026, 1, 1)) == [utc(2026, 3, 2)]

    def test_nearest_weekday_does_not_leave_the_month(self) -> None:
        # 2026-08-01 is a Saturday: the Friday before is in July, so Monday the 3rd.
        assert fires("cron(0 0 1W 8 ? *)", utc(2026, 1, 1)) == [utc(2026, 8, 3)]
        # 2026-05-31 is a Sunday: the Monday after is in June, so Friday the 29th.
        assert fires("cron(0 0 31W 5 ? *)", utc(2026, 1, 1)) == [utc(2026, 5, 29)]

    def test_nearest_weekday_of_a_weekday_is_itself(self) -> None:
        assert fires("cron(0 0 15W 4 ? *)", utc(2026, 1, 1)) == [utc(2026, 4, 15)]  # a Wednesday

    def test_nearest_weekday_of_a_missing_day_skips_the_month(self) -> None:
        assert fires("cron(0 0 31W * ? *)", utc(2026, 3, 31, 1)) == [utc(2026, 5, 29)]

    def test_last_weekday_of_month(self) -> None:
        # 2026-05-31 is a Sunday, 2026-10-31 a Saturday; 2026-11-30 is a Monday.
        assert fires("cron(0 0 LW 5,10,11 ? *)", utc(2026, 1, 1), 3) == [
            utc(2026, 5, 29),
            utc(2026, 10, 30),
            utc(2026, 11, 30),
        ]

    def test_nth_weekday(self) -> None:
        # 3#2: the second Tuesday. January 2026 starts on a Thursday.
        assert fires("cron(0 0 ? * 3#2 *)", utc(2026, 1, 1), 2) == [utc(2026, 1, 13), utc(2026, 2, 10)]
        assert fires("cron(0 0 ? * MON#1 *)", utc(2026, 1, 1), 2) == [utc(2026, 1, 5), utc(2026, 2, 2)]

    def test_fifth_weekday_only_in_months_that_have_one(self) -> None:
        # Fridays (6) in 2026: five of them in January, May, July, October.
        got = fires("cron(0 0 ? * 6#5 *)", utc(2026, 1, 1), 4)
        assert got == [utc(2026, 1, 30), utc(2026, 5, 29), utc(2026, 7, 31), utc(2026, 10, 30)]

    def test_last_given_weekday(self) -> None:
        # 5L: the last Thursday; Thanksgiving 2026 is the 26th of November.
        assert fires("cron(0 0 ? 11 5L *)", utc(2026, 1, 1)) == [utc(2026, 11, 26)]
        assert fires("cron(0 0 ? * THUL *)", utc(2026, 11, 1)) == [utc(2026, 11, 26)]
        assert fires("cron(0 0 ? 2 2L *)", utc(2026, 1, 1)) == [utc(2026, 2, 23)]

    def test_bare_l_in_day_of_week_is_saturday(self) -> None:
        assert fires("cron(0 0 ? * L *)", utc(2026, 3, 1), 2) == [utc(2026, 3, 7), utc(2026, 3, 14)]


def test_aws_weekday_numbers() -> None:
    assert [aws_weekday(date(2026, 3, d)) for d in range(1, 8)] == [1, 2, 3, 4, 5, 6, 7]  # Sun .. Sat


class TestErrors:
    @pytest.mark.parametrize(
        ("expr", "fragment"),
        [
            ("", "expected 'rate(value unit)' or 'cron(six fields)'"),
            ("every 5 minutes", "expected 'rate(value unit)' or 'cron(six fields)'"),
            ("RATE(5 minutes)", "expected 'rate(value unit)'"),
            ("rate(5 minutes", "expected 'rate(value unit)'"),
            ("rate()", "with one space"),
            ("rate(5)", "with one space"),
            ("rate(5  minutes)", "with one space"),
            ("rate(0 minutes)", "value 0 must be at least 1"),
            ("rate(-1 minutes)", "'-1' is not a positive whole number"),
            ("rate(1.5 hours)", "'1.5' is not a positive whole number"),
            ("rate(five minutes)", "'five' is not a positive whole number"),
            ("rate(5 weeks)", "unit 'weeks' is not one of minute(s), hour(s), day(s)"),
            ("rate(5 seconds)", "unit 'seconds'"),
            ("rate(1 minutes)", "with value 1 the unit must be singular: 'minute'"),
            ("rate(1 hours)", "with value 1 the unit must be singular: 'hour'"),
            ("rate(5 minute)", "with value 5 the unit must be plural: 'minutes'"),
            ("rate(2 day)", "with value 2 the unit must be plural: 'days'"),
            ("cron(0 6 * * ?)", "expected 6 fields (minutes hours day-of-month month day-of-week year), got 5"),
            ("cron(0 0 6 * * ? *)", "expected 6 fields"),
            ("cron()", "got 0"),
            ("cron(0 6 * * * *)", "exactly one of day-of-month (field 3, '*') and day-of-week (field 5, '*')"),
            ("cron(0 6 ? * ? *)", "exactly one of day-of-month (field 3, '?') and day-of-week"),
            ("cron(0 6 1 * MON *)", "exactly one of day-of-month (field 3, '1') and day-of-week (field 5, 'MON')"),
            ("cron(60 6 * * ? *)", "field 1 (minutes) '60': value 60 is out of range 0-59"),
            ("cron(0 24 * * ? *)", "field 2 (hours) '24': value 24 is out of range 0-23"),
            ("cron(0 6 0 * ? *)", "field 3 (day-of-month) '0': value 0 is out of range 1-31"),
            ("cron(0 6 32 * ? *)", "field 3 (day-of-month) '32': value 32 is out of range 1-31"),
            ("cron(0 6 1 13 ? *)", "field 4 (month) '13': value 13 is out of range 1-12"),
            ("cron(0 6 1 FOO ? *)", "field 4 (month) 'FOO': 'FOO' is not a number or a name JAN-DEC"),
            ("cron(0 6 ? * 0 *)", "field 5 (day-of-week) '0': value 0 is out of range 1-7"),
            ("cron(0 6 ? * 8 *)", "field 5 (day-of-week) '8': value 8 is out of range 1-7"),
            ("cron(0 6 ? * FUN *)", "'FUN' is not a number or a name SUN-SAT"),
            ("cron(0 6 * * ? 1969)", "field 6 (year) '1969': value 1969 is out of range 1970-2199"),
            ("cron(0 6 * * ? 2200)", "field 6 (year) '2200': value 2200 is out of range 1970-2199"),
            ("cron(30-10 6 * * ? *)", "field 1 (minutes) '30-10': range '30-10' runs backwards"),
            ("cron(5- 6 * * ? *)", "range '5-' needs a start and an end"),
            ("cron(-5 6 * * ? *)", "range '-5' needs a start and an end"),
            ("cron(*/0 6 * * ? *)", "field 1 (minutes) '*/0': step 0 in '*/0' must be 1-60"),
            ("cron(0 */25 * * ? *)", "field 2 (hours) '*/25': step 25 in '*/25' must be 1-24"),
            ("cron(0/x 6 * * ? *)", "step 'x' in '0/x' is not a positive number"),
            ("cron(1,,2 6 * * ? *)", "field 1 (minutes) '1,,2': empty item in list"),
            ("cron(1, 6 * * ? *)", "empty item in list"),
            ("cron(? 6 * * ? *)", "field 1 (minutes) '?': '?' is allowed only as the whole day-of-month"),
            ("cron(0 6 1,? * ? *)", "field 3 (day-of-month) '1,?': '?' is allowed only"),
            ("cron(0 6 ? * 1,? *)", "field 5 (day-of-week) '1,?': '?' is allowed only"),
            ("cron(L 6 * * ? *)", "field 1 (minutes) 'L': 'L' is not a number"),
            ("cron(0 6 L-3 * ? *)", "field 3 (day-of-month) 'L-3': 'L' and 'W' must stand alone"),
            ("cron(0 6 1,15W * ? *)", "field 3 (day-of-month) '1,15W': 'W' needs one day number"),
            ("cron(0 6 1-5W * ? *)", "'W' needs one day number before it"),
            ("cron(0 6 W * ? *)", "'W' needs one day number before it"),
            ("cron(0 6 32W * ? *)", "field 3 (day-of-month) '32W': value 32 is out of range 1-31"),
            ("cron(0 6 ? * 2#6 *)", "field 5 (day-of-week) '2#6': occurrence '6' after '#' must be 1-5"),
            ("cron(0 6 ? * 2#0 *)", "occurrence '0' after '#' must be 1-5"),
            ("cron(0 6 ? * 2# *)", "occurrence '' after '#' must be 1-5"),
            ("cron(0 6 ? * 8#1 *)", "value 8 is out of range 1-7"),
            ("cron(0 6 ? * 1-3#2 *)", "'#' takes one weekday"),
            ("cron(0 6 ? * 8L *)", "field 5 (day-of-week) '8L': value 8 is out of range 1-7"),
            ("cron(0 6 ? * XYZL *)", "'XYZ' is not a number or a name SUN-SAT"),
        ],
    )
    def test_invalid_expression(self, expr: str, fragment: str) -> None:
        with pytest.raises(ValueError) as caught:
            parse_schedule(expr)
        assert fragment in str(caught.value)
        assert repr(expr) in str(caught.value)

    def test_not_a_string(self) -> None:
        with pytest.raises(ValueError, match="must be a string, got int"):
            parse_schedule(5)  # type: ignore[arg-type]


# Property tests: a strategy that builds valid AWS cron expressions from every field form.


def _values(low: int, high: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    single = number.map(str) if not names else st.one_of(number.map(str), st.sampled_from(names))
    ranged = st.tuples(number, number).map(lambda p: f"{min(p)}-{max(p)}")
    span = high - low + 1
    item = st.one_of(
        single,
        ranged,
        st.integers(1, span).map(lambda s: f"*/{s}"),
        st.tuples(number, st.integers(1, span)).map(lambda p: f"{p[0]}/{p[1]}"),
        st.tuples(number, number, st.integers(1, span)).map(lambda p: f"{min(p[:2])}-{max(p[:2])}/{p[2]}"),
    )
    return st.one_of(st.just("*"), st.lists(item, min_size=1, max_size=3).map(",".join))


_DAY_OF_MONTH = st.one_of(_values(1, 31), st.just("L"), st.just("LW"), st.integers(1, 31).map(lambda d: f"{d}W"))
_DAY_OF_WEEK = st.one_of(
    _values(1, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
    st.just("L"),
    st.integers(1, 7).map(lambda d: f"{d}L"),
    st.tuples(st.integers(1, 7), st.integers(1, 5)).map(lambda p: f"{p[0]}#{p[1]}"),
)
_DAYS = st.one_of(
    _DAY_OF_MONTH.map(lambda d: (d, "?")),
    _DAY_OF_WEEK.map(lambda d: ("?", d)),
)
_YEARS = st.one_of(st.just("*"), st.integers(2024, 2030).map(lambda y: f"{y}-2199"), _values(2024, 2028))


@st.composite
def cron_expressions(draw: st.DrawFn) -> str:
    dom, dow = draw(_DAYS)
    fields = [
        draw(_values(0, 59)),
        draw(_values(0, 23)),
        dom,
        draw(_values(1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))),
        dow,
        draw(_YEARS),
    ]
    return f"cron({' '.join(fields)})"


_TIMES = st.datetimes(datetime(2024, 1, 1), datetime(2028, 12, 31), timezones=st.just(UTC))
_WINDOW = timedelta(days=2)


@settings(max_examples=150, deadline=None)
@given(expr=cron_expressions(), t=_TIMES)
def test_next_after_is_the_first_matching_minute(expr: str, t: datetime) -> None:
    schedule = parse_schedule(expr)
    assert isinstance(schedule, CronSchedule)
    result = schedule.next_after(t)
    if result is not None:
        assert result > t
        assert result.second == 0
        assert result.microsecond == 0
        assert result.tzinfo == UTC
        assert schedule.matches(result)
    # Brute force: scan every minute after t over a bounded window; none may match before `result`.
    minute = t.replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = t + _WINDOW if result is None else min(result, t + _WINDOW)
    while minute < end:
        assert not schedule.matches(minute), f"{expr} matches {minute} before next_after gave {result}"
        minute += timedelta(minutes=1)


@given(year=st.integers(1970, 2199), month=st.integers(1, 12), weekday=st.integers(1, 7))
def test_last_weekday_of_month_property(year: int, month: int, weekday: int) -> None:
    result = first_in_year(f"cron(0 0 ? {month} {weekday}L {year})", year)
    assert result is not None
    assert (result.year, result.month) == (year, month)
    assert aws_weekday(result.date()) == weekday
    assert (result + timedelta(days=7)).month != month


@given(year=st.integers(1970, 2199), month=st.integers(1, 12), weekday=st.integers(1, 7), nth=st.integers(1, 5))
def test_nth_weekday_property(year: int, month: int, weekday: int, nth: int) -> None:
    result = first_in_year(f"cron(0 0 ? {month} {weekday}#{nth} {year})", year)
    firsts = [d for d in range(1, 8) if aws_weekday(date(year, month, d)) == weekday]
    expected_day = firsts[0] + 7 * (nth - 1)
    if expected_day > calendar.monthrange(year, month)[1]:
        assert result is None
    else:
        assert result == utc(year, month, expected_day)


@given(year=st.integers(1970, 2199), month=st.integers(1, 12), day=st.integers(1, 31))
def test_nearest_weekday_property(year: int, month: int, day: int) -> None:
    result = first_in_year(f"cron(0 0 {day}W {month} ? {year})", year)
    if day > calendar.monthrange(year, month)[1]:
        assert result is None
        return
    assert result is not None
    assert (result.year, result.month) == (year, month)
    assert result.weekday() < 5
    assert abs(result.day - day) <= 2
    if date(year, month, day).weekday() < 5:
        assert result.day == day


class TestFireTimeTracker:
    T0 = utc(2026, 3, 1, 5, 0, 0)

    def test_rate_rule_counts_from_first_sight_and_fires_once_per_period(self) -> None:
        tracker = FireTimeTracker()
        rules = {"every-minute": "rate(1 minute)"}
        assert tracker.update(rules, self.T0).due == []
        assert tracker.next_due("every-minute") == self.T0 + timedelta(minutes=1)
        assert tracker.update(rules, self.T0 + timedelta(seconds=59)).due == []
        first = tracker.update(rules, self.T0 + timedelta(seconds=60))
        assert first.due == [DueFire("every-minute", self.T0 + timedelta(minutes=1))]
        # Later polls within the same period do not fire again.
        assert tracker.update(rules, self.T0 + timedelta(seconds=60)).due == []
        assert tracker.update(rules, self.T0 + timedelta(seconds=119)).due == []
        second = tracker.update(rules, self.T0 + timedelta(seconds=121))
        assert second.due == [DueFire("every-minute", self.T0 + timedelta(minutes=2))]

    def test_a_pause_fires_once_then_resumes_on_the_original_grid(self) -> None:
        tracker = FireTimeTracker()
        rules = {"r": "rate(5 minutes)"}
        tracker.update(rules, self.T0)
        after_pause = tracker.update(rules, self.T0 + timedelta(minutes=31))
        assert after_pause.due == [DueFire("r", self.T0 + timedelta(minutes=5))]
        assert tracker.next_due("r") == self.T0 + timedelta(minutes=35)
        assert tracker.update(rules, self.T0 + timedelta(minutes=34)).due == []

    def test_cron_rule_follows_the_clock(self) -> None:
        tracker = FireTimeTracker()
        rules = {"daily": "cron(0 6 * * ? *)"}
        tracker.update(rules, self.T0)
        assert tracker.next_due("daily") == utc(2026, 3, 1, 6)
        assert tracker.update(rules, utc(2026, 3, 1, 5, 59, 59)).due == []
        assert tracker.update(rules, utc(2026, 3, 1, 6, 0, 1)).due == [DueFire("daily", utc(2026, 3, 1, 6))]
        assert tracker.update(rules, utc(2026, 3, 1, 6, 0, 2)).due == []
        assert tracker.next_due("daily") == utc(2026, 3, 2, 6)

    def test_a_changed_expression_starts_over(self) -> None:
        tracker = FireTimeTracker()
        tracker.update({"r": "rate(1 hour)"}, self.T0)
        later = self.T0 + timedelta(minutes=30)
        assert tracker.update({"r": "rate(1 minute)"}, later).due == []
        assert tracker.next_due("r") == later + timedelta(minutes=1)

    def test_a_rule_that_goes_away_is_forgotten_and_restarts_when_back(self) -> None:
        tracker = FireTimeTracker()
        tracker.update({"r": "rate(1 minute)"}, self.T0)
        assert tracker.update({}, self.T0 + timedelta(minutes=5)).due == []
        assert tracker.next_due("r") is None
        back = self.T0 + timedelta(minutes=10)
        assert tracker.update({"r": "rate(1 minute)"}, back).due == []
        assert tracker.next_due("r") == back + timedelta(minutes=1)

    def test_invalid_expression_is_reported_once_and_never_fires(self) -> None:
        tracker = FireTimeTracker()
        rules = {"bad": "cron(0 6 * * * *)", "good": "rate(1 minute)"}
        first = tracker.update(rules, self.T0)
        assert list(first.invalid) == ["bad"]
        assert "exactly one of day-of-month" in first.invalid["bad"]
        later = tracker.update(rules, self.T0 + timedelta(days=1))
        assert later.invalid == {}
        assert [d.rule_name for d in later.due] == ["good"]

    def test_a_rule_that_never_fires_again(self) -> None:
        tracker = FireTimeTracker()
        rules = {"past": "cron(0 0 1 1 ? 2020)"}
        tracker.update(rules, self.T0)
        assert tracker.next_due("past") is None
        assert tracker.update(rules, self.T0 + timedelta(days=3650)).due == []

    def test_several_rules_due_at_once(self) -> None:
        tracker = FireTimeTracker()
        rules = {"b": "rate(1 minute)", "a": "rate(2 minutes)", "c": "rate(1 hour)"}
        tracker.update(rules, self.T0)
        due = tracker.update(rules, self.T0 + timedelta(minutes=2)).due
        assert due == [DueFire("a", self.T0 + timedelta(minutes=2)), DueFire("b", self.T0 + timedelta(minutes=1))]

    def test_naive_clock_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            FireTimeTracker().update({"r": "rate(1 minute)"}, datetime(2026, 3, 1))
