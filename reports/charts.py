"""Portfolio charts for the dashboard and the board packet: accessible, deterministic SVG."""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache

from assessments.charts import CHART_RC, _add_title_desc


def bar_chart_svg(key: str, title: str, labels: Sequence[str], values: Sequence[int]) -> str:
    """A horizontal bar chart of counts, with a title, a description and value labels.

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

    Returns
    -------
    str
        SVG markup whose root has ``role="img"`` with a ``<title>`` and ``<desc>``.
    """
    return _bar_chart_svg(key, title, tuple(labels), tuple(int(v) for v in values))


@lru_cache(maxsize=64)
def _bar_chart_svg(key: str, title: str, labels: tuple[str, ...], values: tuple[int, ...]) -> str:
    from matplotlib import rc_context
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    rc = CHART_RC
    n = len(labels)
    with rc_context(rc):
        fig = Figure(figsize=(6.5, 0.9 + 0.38 * max(n, 1)), layout="constrained")
        FigureCanvasSVG(fig)
        ax = fig.add_subplot()
        ys = list(range(n))[::-1]
        ax.barh(ys, list(values), color="#1f4e79", height=0.6)
        top = max([*values, 1])
        for y, value in zip(ys, values, strict=True):
            ax.text(value + top * 0.01, y, str(value), va="center", fontsize=9)
        ax.set_yticks(ys, list(labels))
        ax.set_xlim(0, top * 1.15)
        ax.set_title(title, loc="left", fontsize=11)
        ax.spines[["top", "right"]].set_visible(False)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        fig.clear()
    desc = "; ".join(f"{label}: {value}" for label, value in zip(labels, values, strict=True))
    return _add_title_desc(buf.getvalue(), title, desc, key)
