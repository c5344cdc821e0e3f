"""Small-cell protection: hide counts below a policy's minimum, and any count that would give one away.

A table of counts is shown with some of its totals (a grand total, a row of a feature, the
complement of a cell within a feature...). Hiding a small count is not enough when a total
is shown: the hidden count is the total minus the counts shown beside it. So suppression has
two steps.

1. **Primary suppression.** A count ``n`` with ``1 <= n < minimum`` is shown as
   "fewer than <minimum>" (a total too). Zero counts are shown: they describe nobody.
2. **Secondary suppression.** While some hidden count can be worked out exactly from the
   totals shown, the counts shown and what the labels say (a primary cell lies in
   ``[1, minimum - 1]``, a secondary one is shown as "<minimum> or more"), one more count in
   the same total is hidden: the smallest shown cell of that total of at least ``minimum``
   (zeros stay shown), or, when there is none, the total itself. When nothing is left to
   hide and the labels alone still pin a count (every count around it small or zero), every
   count and total around it is "not shown". Working it out is a linear program: each hidden
   count's least and greatest value over every non-negative assignment that agrees with what
   is shown (``scipy.optimize.linprog``). A count is exposed when the two meet, unless its own
   label already pins it (``minimum`` 2: "fewer than 2" is 1).

The result says, for every count and total, what to show: the number, "fewer than N",
"N or more", or "not shown". ``minimum <= 1`` turns suppression off. The functions are pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog

__all__ = [
    "DEFAULT_MINIMUM",
    "Protected",
    "Shown",
    "exposed",
    "protect",
    "protect_groups",
]

#: The smallest count shown when a policy does not say (the policy's ``privacy.small_cell_min``).
DEFAULT_MINIMUM = 10

# Values the linear program returns are floats; two bounds closer than this are one value.
_SAME = 0.5


@dataclass(frozen=True)
class Shown:
    """One count as it may be shown.

    ``value`` is the exact count, or None when it is hidden; ``reason`` is ``"small"`` for a
    count below the minimum, ``"secondary"`` for one hidden so that a small one cannot be
    worked out, ``"withheld"`` for one of a table too small to say anything of, None when
    shown; ``text`` is what to print.
    """

    value: int | None
    text: str
    reason: str | None = None

    @property
    def suppressed(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class Protected:
    """A protected table: what to show for each cell and for each total, in input order."""

    cells: tuple[Shown, ...]
    totals: tuple[Shown, ...]
    minimum: int


def _shown(value: int, reason: str | None, minimum: int) -> Shown:
    if reason is None:
        return Shown(int(value), f"{int(value):,}")
    if reason == "small":
        return Shown(None, f"fewer than {minimum}", "small")
    if reason == "withheld":
        return Shown(None, "not shown", "withheld")
    return Shown(None, f"{minimum} or more", "secondary")


def _bounds(value: int, reason: str | None, minimum: int) -> tuple[float, float | None]:
    if reason is None:
        return (value, value)
    if reason == "small":
        return (1, minimum - 1)
    if reason == "withheld":
        return (0, None)
    return (minimum, None)


def _ranges(
    values: Sequence[int],
    reasons: Sequence[str | None],
    equations: Sequence[tuple[int, Sequence[int]]],
    minimum: int,
) -> dict[int, tuple[float, float]]:
    """Least and greatest value of each hidden variable consistent with what is shown."""
    hidden = [i for i, r in enumerate(reasons) if r is not None]
    if not hidden:
        return {}
    column = {v: j for j, v in enumerate(hidden)}
    rows: list[np.ndarray] = []
    rhs: list[float] = []
    for total, members in equations:
        # total - sum(members) = 0, with the shown values moved to the right-hand side.
        row = np.zeros(len(hidden))
        constant = 0.0
        for var, sign in ((total, 1.0), *((m, -1.0) for m in members)):
            if var in column:
                row[column[var]] += sign
            else:
                constant -= sign * values[var]
        if row.any():
            rows.append(row)
            rhs.append(constant)
    bounds = [_bounds(values[v], reasons[v], minimum) for v in hidden]
    if len(rows) <= 1:  # one total (the usual case): the range in closed form
        return {var: _one_equation(rows, rhs, bounds, j) for var, j in column.items()}
    a_eq = np.array(rows) if rows else None
    b_eq = np.array(rhs) if rows else None
    out: dict[int, tuple[float, float]] = {}
    for var, j in column.items():
        cost = np.zeros(len(hidden))
        cost[j] = 1.0
        low = linprog(cost, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        high = linprog(-cost, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        lo = low.fun if low.status == 0 else bounds[j][0]
        hi = -high.fun if high.status == 0 else math.inf  # status 3: unbounded above
        out[var] = (lo, hi)
    return out


def _one_equation(
    rows: list[np.ndarray], rhs: list[float], bounds: list[tuple[float, float | None]], j: int
) -> tuple[float, float]:
    """The range of variable ``j`` under at most one equation ``row . x = rhs`` and its bounds."""
    upper = bounds[j][1]
    own_lo, own_hi = bounds[j][0], math.inf if upper is None else upper
    if not rows or rows[0][j] == 0:
        return (own_lo, own_hi)
    row, c = rows[0], rhs[0]
    rest_lo = rest_hi = 0.0
    for i, (lo, hi) in enumerate(bounds):
        if i == j or row[i] == 0:
            continue
        hi_ = math.inf if hi is None else hi
        ends = (row[i] * lo, row[i] * hi_)
        rest_lo += min(ends)
        rest_hi += max(ends)
    # row[j] * x_j = c - rest, rest in [rest_lo, rest_hi]
    ends = ((c - rest_hi) / row[j], (c - rest_lo) / row[j])
    return (max(own_lo, min(ends)), min(own_hi, max(ends)))


def exposed(
    values: Sequence[int],
    reasons: Sequence[str | None],
    equations: Sequence[tuple[int, Sequence[int]]],
    minimum: int,
) -> list[int]:
    """The hidden variables whose value the shown totals and counts give away.

    Parameters
    ----------
    values : sequence of int
        Every variable's true value: the cells, then the totals.
    reasons : sequence of str or None
        ``"small"``, ``"secondary"`` or None (shown) for each variable.
    equations : sequence of (int, sequence of int)
        ``(total, members)``: variable ``total`` is the sum of the variables ``members``.
    minimum : int
        The smallest count shown.

    Returns
    -------
    list of int
        Indices of hidden variables whose least and greatest possible values coincide,
        though their own label allows more than one value.
    """
    found = []
    for var, (lo, hi) in sorted(_ranges(values, reasons, equations, minimum).items()):
        own_lo, own_hi = _bounds(values[var], reasons[var], minimum)
        label_pins = own_hi is not None and own_hi - own_lo < _SAME
        if hi - lo < _SAME and not label_pins:
            found.append(var)
    return found


def protect(
    cells: Sequence[int],
    totals: Sequence[Sequence[int]],
    *,
    minimum: int = DEFAULT_MINIMUM,
) -> Protected:
    """Decide what to show of a table of counts and the totals shown with it.

    Parameters
    ----------
    cells : sequence of int
        The counts (non-negative integers).
    totals : sequence of sequences of int
        Each total shown, as the indices of the cells it adds up. A total's value is
        computed here; a total of every cell is the grand total.
    minimum : int
        The smallest count shown (the policy's ``small_cell_min``); 1 or less shows all.

    Returns
    -------
    Protected
        What to show for each cell and each total. No hidden count can be worked out from
        what is shown (see the module documentation).
    """
    counts = [int(c) for c in cells]
    if any(c < 0 for c in counts):
        raise ValueError("counts must be non-negative")
    n = len(counts)
    equations = [(n + k, [int(i) for i in members]) for k, members in enumerate(totals)]
    values = counts + [sum(counts[i] for i in members) for _, members in equations]
    if minimum <= 1:
        reasons: list[str | None] = [None] * len(values)
    else:
        reasons = ["small" if 1 <= v < minimum else None for v in values]
        _secondary(values, reasons, equations, minimum, n)
    shown = [_shown(v, r, minimum) for v, r in zip(values, reasons, strict=True)]
    return Protected(cells=tuple(shown[:n]), totals=tuple(shown[n:]), minimum=max(minimum, 1))


def _secondary(
    values: list[int],
    reasons: list[str | None],
    equations: list[tuple[int, list[int]]],
    minimum: int,
    n_cells: int,
) -> None:
    while True:
        leaks = exposed(values, reasons, equations, minimum)
        if not leaks:
            return
        leak = leaks[0]
        choice: int | None = None
        # In the totals the exposed variable takes part in, hide the smallest shown cell that
        # "N or more" describes truly (a zero stays shown); when none is left, the total.
        touching = [(t, m) for t, m in equations if leak == t or leak in m]
        candidates = sorted(
            {
                i
                for t, m in touching
                for i in (*m, t)
                if reasons[i] is None and i < n_cells and values[i] >= minimum
            },
            key=lambda i: (values[i], i),
        )
        if candidates:
            choice = candidates[0]
        else:
            shown_totals = sorted(
                {t for t, _ in touching if reasons[t] is None and values[t] >= minimum},
                key=lambda i: (values[i], i),
            )
            if shown_totals:
                choice = shown_totals[0]
        if choice is not None:
            reasons[choice] = "secondary"
            continue
        # Every count and total around it is hidden or zero, and the labels alone pin it
        # (say "fewer than 3" twice, adding up to a total of "fewer than 3"): say nothing of
        # any of them.
        changed = False
        for total, members in touching:
            for var in (total, *members):
                if reasons[var] != "withheld":
                    reasons[var] = "withheld"
                    changed = True
        if not changed:
            # Everything around the leak is already withheld and it is still exposed: show
            # nothing of the table at all (the only safe answer; never loop).
            for var in range(len(values)):
                reasons[var] = "withheld"
            return


def protect_groups(
    groups: Sequence[Mapping[str, Any]],
    *,
    minimum: int = DEFAULT_MINIMUM,
    features: Sequence[str] | None = None,
    marginals: bool = False,
) -> tuple[list[Shown], Shown, dict[str, dict[str, Shown]]]:
    """Protect a bias check's group counts, shown with their grand total.

    Parameters
    ----------
    groups : sequence of mappings
        The check's ``by_group`` entries: ``{"group": {feature: value}, "count": n, ...}``.
    minimum : int
        The smallest count shown.
    features : sequence of str, optional
        The sensitive features (default: those of the first group).
    marginals : bool
        Whether each feature's value totals are shown too (e.g. all women, all men).

    Returns
    -------
    tuple
        What to show for each group (input order), for the grand total, and for each
        feature value's total (``{feature: {value: Shown}}``, empty unless ``marginals``).
    """
    counts = [int(g.get("count") or 0) for g in groups]
    names = list(features or (groups[0]["group"].keys() if groups else []))
    totals: list[list[int]] = [list(range(len(counts)))]
    keys: list[tuple[str, str]] = []
    if marginals:
        for feature in names:
            values = sorted({str(g["group"].get(feature)) for g in groups})
            for value in values:
                members = [i for i, g in enumerate(groups) if str(g["group"].get(feature)) == value]
                totals.append(members)
                keys.append((feature, value))
    protected = protect(counts, totals, minimum=minimum)
    by_feature: dict[str, dict[str, Shown]] = {}
    for (feature, value), shown in zip(keys, protected.totals[1:], strict=True):
        by_feature.setdefault(feature, {})[value] = shown
    return list(protected.cells), protected.totals[0], by_feature
