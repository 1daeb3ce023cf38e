"""Charts drawn on the server as SVG: horizontal bars and a line over editions, from numbers.

Pure functions of plain numbers and labels, returning SVG text to put inline in a page: no
script, no chart library, nothing loaded from elsewhere. Every label is escaped text. Each
chart is an image with a name (``role="img"``, its ``<title>``) and a one-sentence summary
(``<desc>``); the page shows a table of the same numbers beside it, which is what a screen
reader reads. Colours come from the page's stylesheet through class names (``bar``,
``line``, ``axis``, ``grid``, ``label``), so one chart serves the light and the dark scheme;
the second line of a chart is dashed and its points are squares, so the lines differ by more
than their colour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from digest.text import cut_text, one_line_text

__all__ = ["Bar", "Series", "bar_chart", "line_chart", "nice_ceiling"]

#: The most characters of a bar's label drawn in the chart (the table has it whole).
LABEL_LENGTH = 32


@dataclass(frozen=True)
class Bar:
    """One bar: its label and its value (a count, or a share from 0 to 1 with ``percent``)."""

    label: str
    value: float


@dataclass(frozen=True)
class Series:
    """One line of a line chart: its name and a value for each point (None: no value)."""

    name: str
    values: Sequence[float | None]


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``value``.

    Anything not above a billionth (nothing to draw, or too small to see) has a scale of 1.
    """
    if not math.isfinite(value) or value <= 1e-9:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10 * power  # pragma: no cover (the loop ends at 10)


def _number(value: float, percent: bool) -> str:
    """A value as the chart writes it: ``12``, ``3.5``, or ``12.5 %``."""
    if percent:
        return f"{100 * value:.1f} %".replace(".0 %", " %")
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _text(value: str) -> str:
    """Untrusted text as SVG character data, on one line."""
    return escape(one_line_text(value), quote=True)


def _clean(value: float) -> float:
    """A value a chart can draw: not negative, finite."""
    return value if math.isfinite(value) and value > 0 else 0.0


def bar_chart(
    title: str, bars: Sequence[Bar], *, ident: str, percent: bool = False, width: int = 560
) -> str:
    """Horizontal bars, largest scale first, each labelled with its value, as inline SVG.

    ``ident`` makes the ids of the chart's title and description unique in the page.
    """
    row, top, left, right = 30, 10, 264, 64
    height = top + max(len(bars), 1) * row + 30
    largest = nice_ceiling(max((_clean(b.value) for b in bars), default=0.0))
    span = width - left - right
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bars" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{_text(title)}</title>',
        f'<desc id="{ident}-desc">{_text(_bar_summary(bars, percent))}</desc>',
    ]
    axis_y = top + max(len(bars), 1) * row
    for tick in range(5):
        x = left + span * tick / 4
        parts.append(
            f'<line class="grid" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{axis_y}"/>'
            f'<text class="label tick" x="{x:.1f}" y="{axis_y + 18}" text-anchor="middle">'
            f"{_text(_number(largest * tick / 4, percent))}</text>"
        )
    if not bars:
        parts.append(
            f'<text class="label" x="{left + 8}" y="{top + row / 2 + 5:.1f}">nothing yet</text>'
        )
    for n, bar in enumerate(bars):
        y = top + n * row
        length = span * _clean(bar.value) / largest
        parts.append(
            f'<text class="label" x="{left - 8}" y="{y + row / 2 + 5:.1f}" text-anchor="end">'
            f"{_text(cut_text(one_line_text(bar.label), LABEL_LENGTH))}</text>"
            f'<rect class="bar" x="{left}" y="{y + 5}" width="{length:.1f}" height="{row - 10}"'
            ' rx="2"/>'
            f'<text class="label value" x="{left + length + 6:.1f}" y="{y + row / 2 + 5:.1f}">'
            f"{_text(_number(bar.value, percent))}</text>"
        )
    parts.append(f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{axis_y}"/></svg>')
    return "".join(parts)


def _bar_summary(bars: Sequence[Bar], percent: bool) -> str:
    """One sentence: how many bars, and which is the largest."""
    if not bars:
        return "No values yet."
    top = max(bars, key=lambda b: _clean(b.value))
    return (
        f"{len(bars)} bars; the largest is {one_line_text(top.label)}, "
        f"{_number(top.value, percent)}. The table beside the chart gives every value."
    )


def line_chart(
    title: str,
    points: Sequence[str],
    series: Sequence[Series],
    *,
    ident: str,
    percent: bool = True,
    width: int = 560,
    height: int = 260,
) -> str:
    """Lines over ``points`` (editions, oldest first), one per series, as inline SVG.

    Each point of each line is marked; a missing value breaks its line. The first series is
    solid with round marks, the others dashed with square ones.
    """
    top, bottom, left, right, inset = 14, 46, 56, 16, 20
    span_x, span_y = width - left - right - 2 * inset, height - top - bottom
    values = [_clean(v) for s in series for v in s.values if v is not None]
    largest = nice_ceiling(max(values, default=0.0))
    step = span_x / (len(points) - 1) if len(points) > 1 else 0.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart lines" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{_text(title)}</title>',
        f'<desc id="{ident}-desc">{_text(_line_summary(points, series, percent))}</desc>',
    ]
    for tick in range(5):
        y = top + span_y * (1 - tick / 4)
        parts.append(
            f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}"/>'
            f'<text class="label tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_text(_number(largest * tick / 4, percent))}</text>"
        )
    for n, point in enumerate(points):
        x = left + inset + (step * n if len(points) > 1 else span_x / 2)
        parts.append(
            f'<text class="label tick" x="{x:.1f}" y="{top + span_y + 18}" '
            f'text-anchor="middle">{_text(cut_text(one_line_text(point), 12))}</text>'
        )
    if not points:
        parts.append(f'<text class="label" x="{left + 8}" y="{top + 20}">nothing yet</text>')
    for index, line in enumerate(series):
        kind = "first" if index == 0 else "other"
        coordinates: list[list[tuple[float, float]]] = [[]]
        for n, value in enumerate(line.values[: len(points)]):
            if value is None:
                coordinates.append([])
                continue
            x = left + inset + (step * n if len(points) > 1 else span_x / 2)
            y = top + span_y * (1 - _clean(value) / largest)
            coordinates[-1].append((x, y))
        for run in coordinates:
            if len(run) > 1:
                drawn = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                parts.append(f'<polyline class="line {kind}" points="{drawn}"/>')
            for x, y in run:
                parts.append(
                    f'<circle class="mark {kind}" cx="{x:.1f}" cy="{y:.1f}" r="4"/>'
                    if index == 0
                    else f'<rect class="mark {kind}" x="{x - 4:.1f}" y="{y - 4:.1f}" '
                    'width="8" height="8"/>'
                )
    legend_y = height - 8
    for index, line in enumerate(series):
        kind = "first" if index == 0 else "other"
        x = left + index * 190
        parts.append(
            f'<line class="line {kind}" x1="{x}" y1="{legend_y - 4}" x2="{x + 24}" '
            f'y2="{legend_y - 4}"/>'
            f'<text class="label" x="{x + 30}" y="{legend_y}">{_text(line.name)}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{left}" y1="{top + span_y}" x2="{width - right}" '
        f'y2="{top + span_y}"/></svg>'
    )
    return "".join(parts)


def _line_summary(points: Sequence[str], series: Sequence[Series], percent: bool) -> str:
    """One sentence per series: where it started and where it ended."""
    if not points or not series:
        return "No values yet."
    said = []
    for line in series:
        known = [(p, v) for p, v in zip(points, line.values, strict=False) if v is not None]
        if not known:
            said.append(f"{one_line_text(line.name)}: no values.")
            continue
        (first, a), (last, b) = known[0], known[-1]
        said.append(
            f"{one_line_text(line.name)}: {_number(a, percent)} at {one_line_text(first)}, "
            f"{_number(b, percent)} at {one_line_text(last)}."
        )
    return " ".join(said) + " The table beside the chart gives every value."
