"""Accessible horizontal bar charts drawn as inline SVG on the server: grouped bars of
percentages (:func:`bar_chart`) and bars of counts (:func:`count_chart`).

Promises of both:

* The result is well-formed XML: one ``<svg role="img">`` whose ``aria-labelledby`` names its
  ``<title>`` and ``<desc>``; every piece of caller text is XML-escaped (characters XML
  forbids are dropped), so trainer-written statements cannot inject markup.
* Nothing is carried by colour alone: each series has a colour (GOV.UK palette, at least 3:1
  against white) *and* a fill pattern (solid, diagonal hatching, dots, cross-hatching), the
  legend shows both, and every bar is labelled with its value as text: a whole percentage
  rounded half up ("58%"), or, for a missing value, the bar's note ("fewer than 5") or
  "no answers", drawn next to a zero-width bar.
* Bar width is proportional to the percentage; a light grid marks 0, 25, 50, 75 and 100%.
* Every ``id`` in the output starts with ``chart_id``, so several charts can share a page.
* The chart is a picture of figures that the page also shows in a table; it is not the only
  place they appear, and the ``<desc>`` says so.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from markupsafe import Markup, escape

__all__ = ["Bar", "Group", "bar_chart", "count_chart", "format_percent"]

# (colour, pattern) per series, in order. Contrast against white: 5.2, 19.6, 6.2, 4.9 to 1.
STYLES: tuple[tuple[str, str], ...] = (
    ("#1d70b8", "solid"),
    ("#0b0c0c", "hatch"),
    ("#00703c", "dots"),
    ("#d4351c", "cross"),
)
TEXT = "#0b0c0c"
GRID = "#b1b4b6"
FONT_SIZE = 16
LINE_H = 20  # height of one line of a wrapped group label
WRAP = 32  # characters per line of a group label
WIDTH = 640  # viewBox width: about the width of a two-thirds column, so text is ~16px
PLOT_X = 280  # x of the 0% line; group labels (about 32 characters) sit left of it
PLOT_W = 300  # width of 100%; value labels sit to the right of the bar
BAR_H = 20
BAR_GAP = 4
GROUP_GAP = 20
LEGEND_H = 26
SWATCH = 16
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
_WHITE = '<rect width="8" height="8" fill="#ffffff"/>'
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Bar:
    """One bar: a series' percentage (0..100), or ``None`` with an optional ``note``.

    ``note`` is shown only when ``percent`` is ``None`` ("no answers" if it is missing too).
    Raises :class:`ValueError` for a percent outside 0..100 (or NaN)."""

    series: str
    percent: float | None
    note: str | None = None
    label: str | None = None  # shown instead of the percentage (a count chart's value)

    def __post_init__(self) -> None:
        if self.percent is not None and not (0 <= self.percent <= 100):  # NaN fails too
            raise ValueError(f"percent must be between 0 and 100, not {self.percent!r}")


@dataclass(frozen=True)
class Group:
    """A labelled set of bars, one per series at most (e.g. one statement)."""

    label: str
    bars: list[Bar]


def format_percent(percent: float) -> str:
    """Return ``percent`` as a whole number rounded half up, with a percent sign: "58%"."""
    return f"{Decimal(repr(float(percent))).quantize(Decimal(1), rounding=ROUND_HALF_UP)}%"


def _text(value: str) -> Markup:
    """Escape ``value`` for XML after dropping characters XML 1.0 cannot hold."""
    return escape(_NOT_XML.sub("", value))


def _n(value: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _bar_label(bar: Bar) -> str:
    if bar.percent is not None and bar.label is not None:
        return bar.label
    if bar.percent is not None:
        return format_percent(bar.percent)
    return bar.note or "no answers"


def _patterns(chart_id: str, count: int) -> list[str]:
    out = []
    for i, (colour, kind) in enumerate(STYLES[:count]):
        pid = f"{chart_id}-pattern-{i}"
        if kind == "solid":
            body = f'<rect width="8" height="8" fill="{colour}"/>'
        elif kind == "hatch":
            body = f'{_WHITE}<rect width="4" height="8" fill="{colour}"/>'
        elif kind == "dots":
            body = f'{_WHITE}<circle cx="4" cy="4" r="2.5" fill="{colour}"/>'
        else:
            body = f'{_WHITE}<path d="M0 4H8M4 0V8" stroke="{colour}" stroke-width="2"/>'
        transform = ' patternTransform="rotate(45)"' if kind == "hatch" else ""
        out.append(
            f'<pattern id="{pid}" data-style="{kind}" width="8" height="8" '
            f'patternUnits="userSpaceOnUse"{transform}>{body}</pattern>'
        )
    return out


def _legend(chart_id: str, series: list[str]) -> tuple[list[str], float]:
    """Legend entries (swatch with the series' colour and pattern, then its name), wrapped
    into rows; returns the elements and the height they take."""
    out, x, y = [], 0.0, 0.0
    for i, name in enumerate(series):
        entry_w = SWATCH + 8 + len(name) * 8 + 24
        if x and x + entry_w > WIDTH:
            x, y = 0.0, y + LEGEND_H
        colour = STYLES[i][0]
        out.append(
            f'<g class="chart-legend-entry" data-series="{_text(name)}">'
            f'<rect x="{_n(x + 1)}" y="{_n(y + 1)}" width="{SWATCH}" height="{SWATCH}" '
            f'fill="url(#{chart_id}-pattern-{i})" stroke="{colour}" stroke-width="2"/>'
            f'<text x="{_n(x + SWATCH + 8)}" y="{_n(y + 14)}">{_text(name)}</text></g>'
        )
        x += entry_w
    return out, (y + LEGEND_H if series else 0.0)


def _check(groups: list[Group], series: list[str], chart_id: str) -> None:
    if not _ID.match(chart_id):
        raise ValueError(f"chart_id must be a letter then letters, digits, - or _: {chart_id!r}")
    if len(set(series)) != len(series):
        raise ValueError("series names must be unique")
    if len(series) > len(STYLES):
        raise ValueError(f"at most {len(STYLES)} series can be told apart")
    for group in groups:
        names = [bar.series for bar in group.bars]
        if len(set(names)) != len(names) or not set(names) <= set(series):
            raise ValueError(f"bars of {group.label!r} must be distinct series from {series!r}")
        for bar in group.bars:  # Bar checks itself, but guard against object.__setattr__
            if bar.percent is not None and not (0 <= bar.percent <= 100):
                raise ValueError(f"percent must be between 0 and 100, not {bar.percent!r}")


PERCENT_TICKS = tuple((tick, f"{tick}%") for tick in (0, 25, 50, 75, 100))


def bar_chart(
    title: str, groups: list[Group], series: list[str], chart_id: str, description: str = "",
    ticks: tuple[tuple[float, str], ...] = PERCENT_TICKS, empty: str = "No answers yet",
) -> Markup:
    """Render ``groups`` as a grouped horizontal bar chart of percentages in inline SVG.

    Bars within a group follow the order of ``series``, which also fixes each series' colour
    and pattern. The SVG is ``width="100%"`` and scales with its container; its height grows
    with the number of groups and of wrapped label lines. An empty ``groups`` gives a small
    chart that says "No answers yet". Raises :class:`ValueError` for a percent outside 0..100,
    a bar whose series is not in ``series`` (or repeats one), more than four series, or a
    ``chart_id`` that is not a plain XML id.
    """
    _check(groups, series, chart_id)
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    extra = f" {description.strip()}" if description.strip() else ""
    if not groups:
        desc = f"Bar chart: {empty.lower()}.{extra}"
        body = [f'<text x="0" y="24">{_text(empty)}</text>']
        height: float = 40
    else:
        desc = f"Bar chart. The same figures are in the table that follows.{extra}"
        body, height = _body(groups, series, chart_id, ticks)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="app-chart" id="{chart_id}" '
        f'role="img" aria-labelledby="{title_id} {desc_id}" viewBox="0 0 {WIDTH} {_n(height)}" '
        f'width="100%" font-size="{FONT_SIZE}" fill="{TEXT}">'
        f'<title id="{title_id}">{_text(title)}</title><desc id="{desc_id}">{_text(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _body(
    groups: list[Group], series: list[str], chart_id: str, ticks: tuple[tuple[float, str], ...]
) -> tuple[list[str], float]:
    """The legend, grid and bars of a non-empty chart, and the chart's total height."""
    legend, y = _legend(chart_id, series)
    out = [f"<defs>{''.join(_patterns(chart_id, len(series)))}</defs>", *legend]
    tick_y, grid_top, grid = y + 14, y + 20, []
    y += 28
    order = {name: i for i, name in enumerate(series)}
    rows = []
    for group in groups:
        lines = textwrap.wrap(_NOT_XML.sub("", group.label), WRAP) or [""]
        bars = sorted(group.bars, key=lambda bar: order[bar.series])
        rows.append('<g class="chart-group">')
        rows.extend(
            f'<text x="0" y="{_n(y + 14 + k * LINE_H)}">{escape(line)}</text>'
            for k, line in enumerate(lines)
        )
        for k, bar in enumerate(bars):
            i, top = order[bar.series], y + k * (BAR_H + BAR_GAP)
            width = PLOT_W * (bar.percent or 0) / 100
            rows.append(
                f'<rect class="chart-bar" data-series="{_text(bar.series)}" x="{PLOT_X}" '
                f'y="{_n(top)}" width="{_n(width)}" height="{BAR_H}" '
                f'fill="url(#{chart_id}-pattern-{i})" stroke="{STYLES[i][0]}" '
                f'stroke-width="{2 if width else 0}"/>'
                f'<text class="chart-value" x="{_n(PLOT_X + width + 6)}" y="{_n(top + 14)}">'
                f"{_text(_bar_label(bar))}</text>"
            )
        rows.append("</g>")
        y += max(len(bars) * (BAR_H + BAR_GAP) - BAR_GAP, len(lines) * LINE_H) + GROUP_GAP
    bottom = y - GROUP_GAP + 6
    for tick, label in ticks:
        x = PLOT_X + PLOT_W * tick / 100
        grid.append(
            f'<line x1="{_n(x)}" y1="{_n(grid_top)}" x2="{_n(x)}" y2="{_n(bottom)}" '
            f'stroke="{TEXT if tick == 0 else GRID}" stroke-width="1"/>'
            f'<text class="chart-tick" x="{_n(x)}" y="{_n(tick_y)}" '
            f'text-anchor="middle">{_text(label)}</text>'
        )
    return out + grid + rows, bottom + 8


def nice_ceiling(value: float) -> int:
    """A count chart's full scale: four times the smallest round step (1, 2, 2.5 or 5 times
    a power of ten, whole) for which four steps reach ``value``; so the grid lines are round
    numbers."""
    power = 1
    while True:
        for step in (1, 2, 2.5, 5):
            size = step * power
            if size == int(size) and 4 * size >= value:
                return int(4 * size)
        power *= 10


def count_chart(
    title: str, items: list[tuple[str, int]], chart_id: str, series: str = "Count",
    description: str = "", empty: str = "Nothing to show",
) -> Markup:
    """Render ``items`` (label, count) as horizontal bars of counts in inline SVG.

    The scale runs from 0 to :func:`nice_ceiling` of the largest count, with five labelled
    grid lines; each bar is labelled with its count ("1,234"). The same promises as
    :func:`bar_chart` hold (escaping, ids, a ``<desc>`` pointing to the table). Raises
    :class:`ValueError` for a negative count.
    """
    if any(count < 0 for _, count in items):
        raise ValueError("counts cannot be negative")
    top = nice_ceiling(max((count for _, count in items), default=0))
    ticks = tuple((step * 25, f"{top * step // 4:,}") for step in range(5))
    groups = [
        Group(label, [Bar(series, 100 * count / top, label=f"{count:,}")])
        for label, count in items
    ]
    return bar_chart(title, groups, [series], chart_id, description, ticks=ticks, empty=empty)
