"""EventBridge schedule expressions: parse `rate()` and AWS `cron()` and compute when a rule fires next.

Pure: no clock, no AWS. All times are timezone-aware and answered in UTC, as EventBridge evaluates schedules.
Cron follows the AWS dialect (six fields, `?`, year; day-of-week 1-7 = SUN-SAT), not the Unix one.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

YEAR_MIN, YEAR_MAX = 1970, 2199
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")

_RATE_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_RATE_RE = re.compile(r"rate\((?P<body>.*)\)", re.DOTALL)
_CRON_RE = re.compile(r"cron\((?P<body>.*)\)", re.DOTALL)
_INT_RE = re.compile(r"\d+")
_ONE_MINUTE = timedelta(minutes=1)


def parse_schedule(expr: str) -> Schedule:
    """Parse an EventBridge ScheduleExpression; ValueError says what is wrong and where."""
    if not isinstance(expr, str):
        raise ValueError(f"schedule expression must be a string, got {type(expr).__name__}")
    if match := _RATE_RE.fullmatch(expr):
        return _parse_rate(expr, match["body"])
    if match := _CRON_RE.fullmatch(expr):
        return _parse_cron(expr, match["body"])
    raise ValueError(f"invalid schedule expression {expr!r}: expected 'rate(value unit)' or 'cron(six fields)'")


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"datetime {t.isoformat()} is naive: schedules need a timezone-aware time")
    return t.astimezone(UTC)


@dataclass(frozen=True)
class RateSchedule:
    """Fires every `period`, counted from an anchor (AWS counts from the rule's creation)."""

    expression: str
    period: timedelta

    def next_after(self, t: datetime, *, anchor: datetime | None = None) -> datetime:
        """The first `anchor + k * period` (k >= 1) strictly after `t`; without an anchor, `t + period`."""
        t = _utc(t)
        if anchor is None:
            return t + self.period
        anchor = _utc(anchor)
        if t < anchor:
            return anchor + self.period
        return anchor + ((t - anchor) // self.period + 1) * self.period


def _parse_rate(expr: str, body: str) -> RateSchedule:
    def fail(problem: str) -> ValueError:
        return ValueError(f"invalid rate expression {expr!r}: {problem}")

    parts = body.split(" ")
    if len(parts) != 2 or not all(parts):
        raise fail("expected 'rate(value unit)' with one space, e.g. 'rate(5 minutes)'")
    value_text, unit = parts
    if not _INT_RE.fullmatch(value_text):
        raise fail(f"value {value_text!r} is not a positive whole number")
    value = int(value_text)
    if value < 1:
        raise fail(f"value {value} must be at least 1")
    singular = unit.removesuffix("s")
    if singular not in _RATE_UNITS:
        raise fail(f"unit {unit!r} is not one of minute(s), hour(s), day(s)")
    if value == 1 and unit != singular:
        raise fail(f"with value 1 the unit must be singular: '{singular}', not {unit!r}")
    if value > 1 and unit == singular:
        raise fail(f"with value {value} the unit must be plural: '{singular}s', not {unit!r}")
    return RateSchedule(expr, value * _RATE_UNITS[singular])


def aws_weekday(d: date) -> int:
    """AWS day-of-week number of a date: 1 = Sunday ... 7 = Saturday."""
    return (d.weekday() + 1) % 7 + 1


DayPredicate = Callable[[int, int, int], bool]


@dataclass(frozen=True)
class CronSchedule:
    """An AWS cron schedule; fires at second 0 of every minute whose fields all match."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    years: tuple[int, ...]
    day_matches: DayPredicate = field(repr=False, compare=False)

    def matches(self, t: datetime) -> bool:
        """Whether the minute containing `t` is a fire time."""
        t = _utc(t)
        return (
            t.minute in self.minutes
            and t.hour in self.hours
            and t.month in self.months
            and t.year in self.years
            and self.day_matches(t.year, t.month, t.day)
        )

    def next_after(self, t: datetime, *, anchor: datetime | None = None) -> datetime | None:
        """The first matching minute strictly after `t` (`anchor` is ignored: cron follows the clock)."""
        start = _utc(t).replace(second=0, microsecond=0) + _ONE_MINUTE
        # Walk the fields from the largest down; a field is bounded below by `start` only while every larger
        # field equals start's, so each level is a short scan and an impossible date costs one pass a month.
        for year in self.years:
            if year < start.year:
                continue
            on_year = year == start.year
            for month in self.months:
                if on_year and month < start.month:
                    continue
                on_month = on_year and month == start.month
                last_day = calendar.monthrange(year, month)[1]
                for day in range(start.day if on_month else 1, last_day + 1):
                    if not self.day_matches(year, month, day):
                        continue
                    on_day = on_month and day == start.day
                    for hour in self.hours:
                        if on_day and hour < start.hour:
                            continue
                        on_hour = on_day and hour == start.hour
                        for minute in self.minutes:
                            if on_hour and minute < start.minute:
                                continue
                            return datetime(year, month, day, hour, minute, tzinfo=UTC)
        return None


Schedule = RateSchedule | CronSchedule
"""A parsed expression: `next_after(t, *, anchor=None)` is the first fire time strictly after t (None: never)."""


@dataclass(frozen=True)
class _Field:
    name: str
    position: int
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i


_MINUTES = _Field("minutes", 1, 0, 59)
_HOURS = _Field("hours", 2, 0, 23)
_DAY_OF_MONTH = _Field("day-of-month", 3, 1, 31)
_MONTH = _Field("month", 4, 1, 12, MONTH_NAMES)
_DAY_OF_WEEK = _Field("day-of-week", 5, 1, 7, WEEKDAY_NAMES)
_YEAR = _Field("year", 6, YEAR_MIN, YEAR_MAX)
_FIELDS = (_MINUTES, _HOURS, _DAY_OF_MONTH, _MONTH, _DAY_OF_WEEK, _YEAR)


class _Parser:
    """Parses one cron expression; every error names the expression, the field and the offending text."""

    def __init__(self, expr: str) -> None:
        self.expr = expr

    def error(self, spec: _Field, text: str, problem: str) -> ValueError:
        return ValueError(
            f"invalid cron expression {self.expr!r}: field {spec.position} ({spec.name}) {text!r}: {problem}"
        )

    def number(self, spec: _Field, token: str, text: str) -> int:
        if token == "?":
            raise self.error(spec, text, "'?' is allowed only as the whole day-of-month or day-of-week field")
        upper = token.upper()
        if upper in spec.names:
            return spec.low + spec.names.index(upper)
        if not _INT_RE.fullmatch(token):
            names = f" or a name {spec.names[0]}-{spec.names[-1]}" if spec.names else ""
            raise self.error(spec, text, f"{token!r} is not a number{names}")
        value = int(token)
        if not spec.low <= value <= spec.high:
            raise self.error(spec, text, f"value {value} is out of range {spec.low}-{spec.high}")
        return value

    def values(self, spec: _Field, text: str) -> tuple[int, ...]:
        """A field made of `*` or a comma list of values, ranges `a-b` and steps `*/n`, `a/n`, `a-b/n`."""
        if text == "":
            raise self.error(spec, text, "empty field")
        chosen: set[int] = set()
        for item in text.split(","):
            if item == "":
                raise self.error(spec, text, "empty item in list")
            base, slash, step_text = item.partition("/")
            step = 1
            if slash:
                if not _INT_RE.fullmatch(step_text):
                    raise self.error(spec, text, f"step {step_text!r} in {item!r} is not a positive number")
                step = int(step_text)
                if not 1 <= step <= spec.high - spec.low + 1:
                    raise self.error(spec, text, f"step {step} in {item!r} must be 1-{spec.high - spec.low + 1}")
            if base == "*":
                low, high = spec.low, spec.high
            elif "-" in base:
                first, _, last = base.partition("-")
                if not first or not last:
                    raise self.error(spec, text, f"range {base!r} needs a start and an end")
                low, high = self.number(spec, first, text), self.number(spec, last, text)
                if low > high:
                    raise self.error(spec, text, f"range {base!r} runs backwards")
            else:
                low = self.number(spec, base, text)
                # `a/n` means from a to the end of the field every n; a bare `a` is the single value.
                high = spec.high if slash else low
            chosen.update(range(low, high + 1, step))
        return tuple(sorted(chosen))

    def day_of_month(self, text: str) -> DayPredicate:
        spec = _DAY_OF_MONTH
        if text == "L":
            return lambda y, m, d: d == calendar.monthrange(y, m)[1]
        if text == "LW":
            return lambda y, m, d: d == _nearest_weekday(y, m, calendar.monthrange(y, m)[1])
        if text.endswith("W"):
            target_text = text[:-1]
            if not _INT_RE.fullmatch(target_text):
                raise self.error(spec, text, "'W' needs one day number before it, e.g. '15W' (no lists or ranges)")
            target = self.number(spec, target_text, text)
            return lambda y, m, d: target <= calendar.monthrange(y, m)[1] and d == _nearest_weekday(y, m, target)
        if "L" in text or "W" in text:
            raise self.error(spec, text, "'L' and 'W' must stand alone: 'L', 'LW' or a single day like '15W'")
        days = frozenset(self.values(spec, text))
        return lambda y, m, d: d in days

    def day_of_week(self, text: str) -> DayPredicate:
        spec = _DAY_OF_WEEK
        if text == "L":
            # Quartz, which AWS cron follows: a bare L is the last day of the week, Saturday.
            return lambda y, m, d: aws_weekday(date(y, m, d)) == 7
        if text.endswith("L"):
            weekday = self.number(spec, text[:-1], text)
            return lambda y, m, d: aws_weekday(date(y, m, d)) == weekday and d + 7 > calendar.monthrange(y, m)[1]
        if "#" in text:
            weekday_text, _, nth_text = text.partition("#")
            if "," in weekday_text or "-" in weekday_text or "/" in weekday_text:
                raise self.error(spec, text, "'#' takes one weekday, e.g. '2#1' (no lists or ranges)")
            weekday = self.number(spec, weekday_text, text)
            if not _INT_RE.fullmatch(nth_text) or not 1 <= int(nth_text) <= 5:
                raise self.error(spec, text, f"occurrence {nth_text!r} after '#' must be 1-5")
            nth = int(nth_text)
            return lambda y, m, d: aws_weekday(date(y, m, d)) == weekday and (d - 1) // 7 + 1 == nth
        weekdays = frozenset(self.values(spec, text))
        return lambda y, m, d: aws_weekday(date(y, m, d)) in weekdays


def _nearest_weekday(year: int, month: int, day: int) -> int:
    """The Monday-Friday day nearest to `day`, never leaving the month (Quartz's `W`)."""
    last = calendar.monthrange(year, month)[1]
    weekday = date(year, month, day).weekday()  # Monday = 0
    if weekday == 5:  # Saturday: Friday before, unless that is in the previous month
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: Monday after, unless that is in the next month
        return day + 1 if day < last else day - 2
    return day


def _parse_cron(expr: str, body: str) -> CronSchedule:
    parser = _Parser(expr)
    texts = body.split()
    if len(texts) != len(_FIELDS):
        raise ValueError(
            f"invalid cron expression {expr!r}: expected 6 fields "
            f"(minutes hours day-of-month month day-of-week year), got {len(texts)}"
        )
    minutes_text, hours_text, dom_text, month_text, dow_text, year_text = texts
    if (dom_text == "?") == (dow_text == "?"):
        raise ValueError(
            f"invalid cron expression {expr!r}: exactly one of day-of-month (field 3, {dom_text!r}) "
            f"and day-of-week (field 5, {dow_text!r}) must be '?'"
        )
    day_matches = parser.day_of_week(dow_text) if dom_text == "?" else parser.day_of_month(dom_text)
    return CronSchedule(
        expression=expr,
        minutes=parser.values(_MINUTES, minutes_text),
        hours=parser.values(_HOURS, hours_text),
        months=parser.values(_MONTH, month_text),
        years=parser.values(_YEAR, year_text),
        day_matches=day_matches,
    )


@dataclass(frozen=True)
class DueFire:
    """A rule that is due: `due` is the scheduled time it fires for."""

    rule_name: str
    due: datetime


@dataclass(frozen=True)
class TrackerUpdate:
    """What one look at the rules found: rules due now and rules newly found with a bad expression."""

    due: list[DueFire]
    invalid: dict[str, str]


@dataclass
class _Tracked:
    expression: str
    schedule: Schedule | None
    anchor: datetime
    next_due: datetime | None
    error: str = ""


class FireTimeTracker:
    """Remembers each rule's next fire time between looks at the rule list.

    A rule is counted from the first look that sees it (or sees its expression change): rate rules fire every
    period from then, as AWS counts from the rule's creation; cron rules at their next matching minute. A rule
    due at a look fires once, however many fire times it missed, then waits for its next time after now.
    """

    def __init__(self) -> None:
        self._rules: dict[str, _Tracked] = {}

    def next_due(self, rule_name: str) -> datetime | None:
        tracked = self._rules.get(rule_name)
        return tracked.next_due if tracked else None

    def update(self, expressions: Mapping[str, str], now: datetime) -> TrackerUpdate:
        """Take the current {rule name: schedule expression}; forget rules gone, report rules due at `now`."""
        now = _utc(now)
        for gone in self._rules.keys() - expressions.keys():
            del self._rules[gone]
        due: list[DueFire] = []
        invalid: dict[str, str] = {}
        for name, expression in sorted(expressions.items()):
            tracked = self._rules.get(name)
            if tracked is None or tracked.expression != expression:
                tracked = self._track(expression, now)
                self._rules[name] = tracked
                if tracked.schedule is None:
                    invalid[name] = tracked.error
                continue
            if tracked.schedule is None or tracked.next_due is None or now < tracked.next_due:
                continue
            due.append(DueFire(name, tracked.next_due))
            tracked.next_due = tracked.schedule.next_after(now, anchor=tracked.anchor)
        return TrackerUpdate(due, invalid)

    @staticmethod
    def _track(expression: str, now: datetime) -> _Tracked:
        try:
            schedule = parse_schedule(expression)
        except ValueError as exc:
            return _Tracked(expression, None, now, None, str(exc))
        return _Tracked(expression, schedule, now, schedule.next_after(now, anchor=now))
