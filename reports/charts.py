"""Portfolio charts for the dashboard and the board packet: accessible, deterministic SVG.

Colours come from one palette (:data:`TIER_STYLES`, :data:`STATUS_STYLES`), built from the
Okabe-Ito colour-blind-safe set, keeping only colours with at least 3:1 contrast on white
(WCAG 1.4.11). Colour is never alone: every bar carries its label and the symbol the pages
show beside a tier or status badge, and the values are written on the bars.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from assessments.charts import CHART_RC, _add_title_desc
from registry.catalog.vocabulary import ReviewStatus
from registry.web import NO_TIER_SYMBOL, TIER_SYMBOLS


@dataclass(frozen=True)
class BarStyle:
    """How one category's bar is drawn: a fill and the symbol beside its label."""

    colour: str
    symbol: str = ""


# Okabe & Ito (2008), "Color Universal Design": bluish green, blue, vermillion, reddish purple,
# black, and a mid grey for "not yet" categories. No hatching: WeasyPrint drops SVG patterns.
GREEN, BLUE, VERMILLION, PURPLE = "#009E73", "#0072B2", "#D55E00", "#CC79A7"
BLACK, GREY = "#000000", "#6F6F6F"
DEFAULT_STYLE = BarStyle(BLUE)

#: Risk tiers from the lowest (I) to the highest impact (IV); None is "not assessed".
TIER_STYLES: dict[str | None, BarStyle] = {
    "I": BarStyle(GREEN, TIER_SYMBOLS["I"]),
    "II": BarStyle(BLUE, TIER_SYMBOLS["II"]),
    "III": BarStyle(VERMILLION, TIER_SYMBOLS["III"]),
    "IV": BarStyle(BLACK, TIER_SYMBOLS["IV"]),
    None: BarStyle(GREY, NO_TIER_SYMBOL),
}

#: Review statuses: approved green (with conditions purple), under review blue, sent back
#: vermillion, rejected black, draft grey.
STATUS_STYLES: dict[str, BarStyle] = {
    ReviewStatus.DRAFT.value: BarStyle(GREY, ReviewStatus.DRAFT.symbol),
    ReviewStatus.SUBMITTED.value: BarStyle(BLUE, ReviewStatus.SUBMITTED.symbol),
    ReviewStatus.CHANGES_REQUESTED.value: BarStyle(
        VERMILLION, ReviewStatus.CHANGES_REQUESTED.symbol
    ),
    ReviewStatus.APPROVED.value: BarStyle(GREEN, ReviewStatus.APPROVED.symbol),
    ReviewStatus.APPROVED_WITH_CONDITIONS.value: BarStyle(
        PURPLE, ReviewStatus.APPROVED_WITH_CONDITIONS.symbol
    ),
    ReviewStatus.REJECTED.value: BarStyle(BLACK, ReviewStatus.REJECTED.symbol),
}

# Drawn at 3.5 in (336 CSS px) wide with 10 pt (13.3 px) text: a 375 px phone shows the chart
# at full size or larger (pages let it grow to the column, never shrink below its width
# minus the page's margins), so no text falls below 12 px.
CHART_WIDTH_IN = 3.5
FONT_PT = 10


def bar_chart_svg(
    key: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[int],
    styles: Sequence[BarStyle] | None = None,
) -> str:
    """A horizontal bar chart of counts: each category's label (with its symbol) above its
    bar, and its count at the bar's end.

    Memoised (a bounded LRU): the output is a pure function of the arguments, and the
    dashboard and board packet draw the same three charts until a count changes.

    Parameters
    ----------
    key : str
        A stable id for the chart (used in its element ids).
    title : str
        The chart's title.
    labels, values : sequences
        One bar per label.
    styles : sequence of BarStyle, optional
        One per label (colour and symbol); all bars are blue without it.

    Returns
    -------
    str
        SVG markup whose root has ``role="img"`` with a ``<title>`` and ``<desc>``.
    """
    styles = tuple(styles) if styles is not None else (DEFAULT_STYLE,) * len(labels)
    return _bar_chart_svg(key, title, tuple(labels), tuple(int(v) for v in values), styles)


@lru_cache(maxsize=64)
def _bar_chart_svg(
    key: str,
    title: str,
    labels: tuple[str, ...],
    values: tuple[int, ...],
    styles: tuple[BarStyle, ...],
) -> str:
    from matplotlib import rc_context
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    n = len(labels)
    with rc_context({**CHART_RC, "font.size": FONT_PT}):
        fig = Figure(figsize=(CHART_WIDTH_IN, 0.45 + 0.44 * max(n, 1)), layout="constrained")
        FigureCanvasSVG(fig)
        ax = fig.add_subplot()
        top = max([*values, 1])
        for row, (label, value, style) in enumerate(zip(labels, values, styles, strict=True)):
            y = -row * 2.0
            ax.barh(y, value, height=0.9, color=style.colour, linewidth=0)
            prefix = f"{style.symbol} " if style.symbol else ""
            ax.text(0, y + 0.6, f"{prefix}{label}", va="bottom", ha="left", fontsize=FONT_PT)
            ax.text(value + top * 0.02, y, str(value), va="center", ha="left", fontsize=FONT_PT,
                    fontweight="bold")
        ax.set_xlim(0, top * 1.18)
        ax.set_ylim(-2.0 * max(n, 1) + 1.3, 1.7)
        ax.set_axis_off()
        ax.set_title(title, loc="left", fontsize=FONT_PT + 1, fontweight="bold")
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        fig.clear()
    desc = "; ".join(f"{label}: {value}" for label, value in zip(labels, values, strict=True))
    return _add_title_desc(buf.getvalue(), title, desc, key)
