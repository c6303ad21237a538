"""Horizontal bar charts as SVG text, rendered on the server (no JavaScript anywhere).

The strict content security policy forbids ``style`` attributes, so every look comes from
SVG presentation attributes (``fill``, ``stroke``, ``font-size``). Every piece of text is
escaped. A chart is an image with a title for assistive technology; the page puts a table
with the same numbers next to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from markupsafe import Markup, escape

WIDTH: Final = 640
LABEL_WIDTH: Final = 170  # the bar labels, right-aligned against the plot
PLOT_LEFT: Final = LABEL_WIDTH + 10
PLOT_WIDTH: Final = 390  # leaves room for the value written after the longest bar
ROW: Final = 24
BAR: Final = 16
TOP: Final = 8
AXIS: Final = 48  # tick labels and the axis title under the plot
MAX_LABEL: Final = 24
INK: Final = "#1d232b"
MUTED: Final = "#5b6470"
GRID: Final = "#d9d6cf"
FILL: Final = "#1f5c4a"
FONT: Final = "system-ui, sans-serif"


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float | None  # None: hidden or withheld (no bar is drawn, only ``text``)
    text: str  # written after the bar: the number, or why there is none


def nice_step(largest: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) so that ``ticks`` steps reach
    ``largest``."""
    if largest <= 0:
        return 1.0
    raw = largest / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return float(factor * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def _text(x: float, y: float, content: str, *, anchor: str = "start", fill: str = INK) -> str:
    return (
        f'<text x="{x:g}" y="{y:g}" text-anchor="{anchor}" font-family="{FONT}" '
        f'font-size="12" fill="{fill}">{escape(content)}</text>'
    )


def bar_chart(*, title: str, bars: Sequence[Bar], axis_label: str) -> Markup:
    """A horizontal bar chart: one row per bar, a value axis with round ticks underneath."""
    largest = max((b.value for b in bars if b.value is not None), default=0.0)
    step = nice_step(largest)
    top = step * max(1, math.ceil(largest / step))
    scale = PLOT_WIDTH / top
    plot_bottom = TOP + ROW * max(1, len(bars))
    height = plot_bottom + AXIS
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}"'
        f' width="{WIDTH}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    tick = 0.0
    while tick <= top + step / 2:
        x = PLOT_LEFT + tick * scale
        parts.append(
            f'<line x1="{x:g}" y1="{TOP}" x2="{x:g}" y2="{plot_bottom}" stroke="{GRID}"'
            ' stroke-width="1"/>'
        )
        parts.append(_text(x, plot_bottom + 16, _number(tick), anchor="middle", fill=MUTED))
        tick += step
    for row, bar in enumerate(bars):
        y = TOP + row * ROW + (ROW - BAR) / 2
        middle = y + BAR / 2 + 4
        parts.append(_text(LABEL_WIDTH, middle, _short(bar.label), anchor="end"))
        width = (bar.value or 0) * scale
        if bar.value:
            parts.append(
                f'<rect x="{PLOT_LEFT}" y="{y:g}" width="{width:.1f}" height="{BAR}"'
                f' fill="{FILL}"><title>{escape(bar.label)}: {escape(bar.text)}</title></rect>'
            )
        value_fill = INK if bar.value is not None else MUTED
        parts.append(_text(PLOT_LEFT + width + 6, middle, bar.text, fill=value_fill))
    parts.append(
        f'<line x1="{PLOT_LEFT}" y1="{plot_bottom}" x2="{PLOT_LEFT + PLOT_WIDTH}"'
        f' y2="{plot_bottom}" stroke="{INK}" stroke-width="1"/>'
    )
    parts.append(_text(PLOT_LEFT + PLOT_WIDTH / 2, plot_bottom + 38, axis_label, anchor="middle"))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped
