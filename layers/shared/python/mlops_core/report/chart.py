"""Inline SVG charts: the bootstrap distribution of ΔF1 (bars, the confidence band, zero and the observed
delta), and a share over time for the reports index (a line through the runs, marked runs drawn apart).

Plain string building keeps the report free of plotting libraries (cold start) and of external scripts (the
page must render offline). Numbers are formatted here; the one piece of text from data, a point's label, is
escaped.
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

_MARGIN_LEFT = 52
_MARGIN_RIGHT = 16
_MARGIN_TOP = 30
_MARGIN_BOTTOM = 44

BAR_COLOUR = "#6b8fb8"
BAND_COLOUR = "#f2c14e"
OBSERVED_COLOUR = "#b8322a"
ZERO_COLOUR = "#333333"


def render_bootstrap_svg(
    edges: Sequence[float],
    counts: Sequence[float],
    *,
    ci_low: float,
    ci_high: float,
    observed: float,
    confidence: float = 0.95,
    width: int = 720,
    height: int = 260,
) -> str:
    """The histogram of `counts` over `edges` (len(counts) + 1 increasing bin edges) as an `<svg>` element.

    Raises ValueError when the histogram or the interval is malformed, so bad figures are reported, not drawn.
    """
    edges, counts = _checked_histogram(edges, counts)
    for name, value in (("ci_low", ci_low), ("ci_high", ci_high), ("observed", observed)):
        if not is_finite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if ci_low > ci_high:
        raise ValueError(f"ci_low {ci_low} is above ci_high {ci_high}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")

    # Zero always lies on the axis: whether the band clears it is what the chart is for.
    lo = min(edges[0], ci_low, observed, 0.0)
    hi = max(edges[-1], ci_high, observed, 0.0)
    pad = (hi - lo) * 0.04 or 1e-3
    lo, hi = lo - pad, hi + pad
    plot_w = width - _MARGIN_LEFT - _MARGIN_RIGHT
    plot_h = height - _MARGIN_TOP - _MARGIN_BOTTOM
    top = max(counts) or 1.0
    bottom_y = _MARGIN_TOP + plot_h

    def x_of(value: float) -> float:
        return _MARGIN_LEFT + (value - lo) / (hi - lo) * plot_w

    def y_of(count: float) -> float:
        return bottom_y - count / top * plot_h

    parts = [
        '<svg class="chart bootstrap-chart" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        'font-family="sans-serif" font-size="11">',
        f"<title>Bootstrap distribution of ΔF1-macro: {confidence:.0%} CI [{_num(ci_low)}, {_num(ci_high)}], "
        f"observed {_signed(observed)}</title>",
    ]
    band_x = x_of(ci_low)
    band_w = max(x_of(ci_high) - band_x, 1.0)
    parts.append(
        f'<rect class="ci-band" x="{band_x:.2f}" y="{_MARGIN_TOP}" width="{band_w:.2f}" '
        f'height="{plot_h}" fill="{BAND_COLOUR}" fill-opacity="0.35">'
        f"<title>{confidence:.0%} CI [{_num(ci_low)}, {_num(ci_high)}]</title></rect>"
    )
    for left, right, count in zip(edges, edges[1:], counts, strict=False):
        if count <= 0:
            continue
        x0, x1, y = x_of(left), x_of(right), y_of(count)
        parts.append(
            f'<rect class="bar" x="{x0:.2f}" y="{y:.2f}" width="{max(x1 - x0 - 0.5, 0.5):.2f}" '
            f'height="{bottom_y - y:.2f}" fill="{BAR_COLOUR}"><title>[{_num(left)}, {_num(right)}): '
            f"{_count(count)}</title></rect>"
        )
    parts.append(_x_axis(lo, hi, x_of, bottom_y, width))
    parts.append(
        f'<line class="axis" x1="{_MARGIN_LEFT}" y1="{_MARGIN_TOP}" x2="{_MARGIN_LEFT}" y2="{bottom_y}" '
        f'stroke="#999"/><text x="{_MARGIN_LEFT - 6}" y="{_MARGIN_TOP + 4}" text-anchor="end">'
        f"{_count(top)}</text>"
        f'<text x="{_MARGIN_LEFT - 6}" y="{bottom_y}" text-anchor="end">0</text>'
    )
    zero_x = x_of(0.0)
    parts.append(
        f'<line class="zero-line" x1="{zero_x:.2f}" y1="{_MARGIN_TOP - 4}" x2="{zero_x:.2f}" y2="{bottom_y}" '
        f'stroke="{ZERO_COLOUR}" stroke-width="1.5" stroke-dasharray="4 3"><title>ΔF1 = 0</title></line>'
    )
    obs_x = x_of(observed)
    parts.append(
        f'<line class="observed" x1="{obs_x:.2f}" y1="{_MARGIN_TOP - 4}" x2="{obs_x:.2f}" y2="{bottom_y}" '
        f'stroke="{OBSERVED_COLOUR}" stroke-width="2"><title>observed ΔF1 {_signed(observed)}</title></line>'
    )
    parts.append(_legend(ci_low, ci_high, observed, confidence))
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class TimePoint:
    """One run on a time chart: when, the value (0 to 1), a tooltip, and whether it is drawn as marked."""

    at: datetime
    value: float
    label: str
    marked: bool = False


def render_time_svg(
    points: Sequence[TimePoint],
    *,
    css_class: str,
    title: str,
    y_label: str,
    threshold: float | None = None,
    marked_label: str = "marked",
    width: int = 720,
    height: int = 240,
) -> str:
    """A line through `points` (values between 0 and 1) in time order, one `circle.point` per point, marked
    points also `.marked`; `threshold` as a dashed line. ValueError for no points or a value outside [0, 1]."""
    if not points:
        raise ValueError("a time chart needs at least one point")
    for point in points:
        if not isinstance(point.at, datetime) or point.at.tzinfo is None:
            raise ValueError(f"point {point.label!r} needs a timezone-aware time, got {point.at!r}")
        if not (is_finite(point.value) and 0 <= point.value <= 1):
            raise ValueError(f"point {point.label!r} has value {point.value!r}, outside [0, 1]")
    if threshold is not None and not (is_finite(threshold) and 0 <= threshold <= 1):
        raise ValueError(f"threshold must lie in [0, 1], got {threshold!r}")
    ordered = sorted(points, key=lambda p: p.at)
    first, last = ordered[0].at.timestamp(), ordered[-1].at.timestamp()
    plot_w = width - _MARGIN_LEFT - _MARGIN_RIGHT
    plot_h = height - _MARGIN_TOP - _MARGIN_BOTTOM
    bottom_y = _MARGIN_TOP + plot_h

    def x_of(index: int, point: TimePoint) -> float:
        if last == first:  # one moment only: spread the runs evenly instead of stacking them
            share = 0.5 if len(ordered) == 1 else index / (len(ordered) - 1)
        else:
            share = (point.at.timestamp() - first) / (last - first)
        return _MARGIN_LEFT + 8 + share * (plot_w - 16)

    def y_of(value: float) -> float:
        return bottom_y - value * plot_h

    xy = [(x_of(i, p), y_of(p.value)) for i, p in enumerate(ordered)]
    parts = [
        f'<svg class="chart {css_class}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" font-family="sans-serif" font-size="11">',
        f"<title>{html.escape(title)}</title>",
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = y_of(tick)
        parts.append(
            f'<line class="grid" x1="{_MARGIN_LEFT}" y1="{y:.2f}" x2="{width - _MARGIN_RIGHT}" y2="{y:.2f}" '
            f'stroke="#e3e6ea"/><text x="{_MARGIN_LEFT - 6}" y="{y + 4:.2f}" text-anchor="end">{tick:.2f}</text>'
        )
    if threshold is not None:
        y = y_of(threshold)
        parts.append(
            f'<line class="threshold" x1="{_MARGIN_LEFT}" y1="{y:.2f}" x2="{width - _MARGIN_RIGHT}" y2="{y:.2f}" '
            f'stroke="{OBSERVED_COLOUR}" stroke-dasharray="4 3"><title>threshold {_num(threshold)}</title></line>'
        )
    parts.append(
        f'<line class="axis" x1="{_MARGIN_LEFT}" y1="{bottom_y}" x2="{width - _MARGIN_RIGHT}" y2="{bottom_y}" '
        'stroke="#999"/>'
        f'<text x="{_MARGIN_LEFT}" y="{bottom_y + 16}" text-anchor="start">{_day(ordered[0].at)}</text>'
        f'<text x="{width - _MARGIN_RIGHT}" y="{bottom_y + 16}" text-anchor="end">{_day(ordered[-1].at)}</text>'
        f'<text x="{(_MARGIN_LEFT + width - _MARGIN_RIGHT) / 2:.0f}" y="{bottom_y + 34}" text-anchor="middle">'
        f"{html.escape(y_label)}, run by run</text>"
    )
    if len(xy) > 1:
        path = " ".join(f"{x:.2f},{y:.2f}" for x, y in xy)
        parts.append(f'<polyline class="line" points="{path}" fill="none" stroke="{BAR_COLOUR}" stroke-width="2"/>')
    for (x, y), point in zip(xy, ordered, strict=True):
        cls, colour, radius = ("point marked", OBSERVED_COLOUR, 6) if point.marked else ("point", BAR_COLOUR, 4)
        parts.append(
            f'<circle class="{cls}" cx="{x:.2f}" cy="{y:.2f}" r="{radius}" fill="{colour}">'
            f"<title>{html.escape(point.label)}: {_num(point.value)}</title></circle>"
        )
    if any(p.marked for p in ordered):
        parts.append(
            f'<g class="legend"><circle cx="{_MARGIN_LEFT + 6}" cy="10" r="6" fill="{OBSERVED_COLOUR}"/>'
            f'<text x="{_MARGIN_LEFT + 16}" y="14">{html.escape(marked_label)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _day(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick positions (steps of 1, 2 or 5 × 10^k) covering [lo, hi]."""
    if not (is_finite(lo) and is_finite(hi)) or hi <= lo:
        raise ValueError(f"cannot place ticks on [{lo!r}, {hi!r}]")
    raw = (hi - lo) / max(target, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step)
    ticks = []
    index = first
    while index * step <= hi + step * 1e-9:
        ticks.append(round(index * step, 12))
        index += 1
    return ticks


def _x_axis(lo: float, hi: float, x_of, bottom_y: float, width: int) -> str:
    ticks = nice_ticks(lo, hi)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else hi - lo
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 3
    parts = [
        f'<line class="axis" x1="{_MARGIN_LEFT}" y1="{bottom_y}" x2="{width - _MARGIN_RIGHT}" '
        f'y2="{bottom_y}" stroke="#999"/>'
    ]
    for tick in ticks:
        x = x_of(tick)
        parts.append(
            f'<line x1="{x:.2f}" y1="{bottom_y}" x2="{x:.2f}" y2="{bottom_y + 4}" stroke="#999"/>'
            f'<text x="{x:.2f}" y="{bottom_y + 16}" text-anchor="middle">{tick + 0.0:.{decimals}f}</text>'
        )
    middle = (_MARGIN_LEFT + width - _MARGIN_RIGHT) / 2
    parts.append(
        f'<text x="{middle:.0f}" y="{bottom_y + 34}" text-anchor="middle">'
        "ΔF1-macro (staging − production), bootstrap resamples</text>"
    )
    return "".join(parts)


def _legend(ci_low: float, ci_high: float, observed: float, confidence: float) -> str:
    y = 14
    return (
        f'<g class="legend"><rect x="{_MARGIN_LEFT}" y="{y - 9}" width="14" height="10" fill="{BAND_COLOUR}" '
        f'fill-opacity="0.5"/><text x="{_MARGIN_LEFT + 18}" y="{y}">{confidence:.0%} CI [{_num(ci_low)}, '
        f'{_num(ci_high)}]</text><line x1="{_MARGIN_LEFT + 190}" y1="{y - 4}" x2="{_MARGIN_LEFT + 204}" '
        f'y2="{y - 4}" stroke="{OBSERVED_COLOUR}" stroke-width="2"/><text x="{_MARGIN_LEFT + 208}" y="{y}">'
        f'observed {_signed(observed)}</text><line x1="{_MARGIN_LEFT + 320}" y1="{y - 4}" '
        f'x2="{_MARGIN_LEFT + 334}" y2="{y - 4}" stroke="{ZERO_COLOUR}" stroke-width="1.5" '
        f'stroke-dasharray="4 3"/><text x="{_MARGIN_LEFT + 338}" y="{y}">no difference</text></g>'
    )


def _checked_histogram(edges: Sequence[float], counts: Sequence[float]) -> tuple[list[float], list[float]]:
    if not all(isinstance(v, Sequence) and not isinstance(v, str | bytes) for v in (edges, counts)):
        raise ValueError("histogram edges and counts must be lists of numbers")
    if len(counts) == 0 or len(edges) != len(counts) + 1:
        raise ValueError(
            f"histogram needs at least one bin and len(edges) == len(counts) + 1, "
            f"got {len(edges)} edges and {len(counts)} counts"
        )
    if not all(is_finite(v) for v in edges) or not all(is_finite(c) and c >= 0 for c in counts):
        raise ValueError("histogram edges must be finite numbers and counts finite and non-negative")
    if any(right <= left for left, right in itertools.pairwise(edges)):
        raise ValueError("histogram edges must be strictly increasing")
    return [float(v) for v in edges], [float(c) for c in counts]


def is_finite(value: object) -> bool:
    """A real number, not a bool, not NaN or infinite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _num(value: float) -> str:
    return f"{value:.3f}"


def _signed(value: float) -> str:
    return f"{value:+.3f}"


def _count(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"
