"""Small-cell protection: small counts hidden, and none can be worked out from the totals shown.

The recovery check here is independent of the module's linear program: it enumerates every
integer table that agrees with what is shown and asks whether a hidden count takes only one
value in all of them.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from assessments.suppression import Shown, exposed, protect, protect_groups


def consistent_values(cells, totals, protected, minimum, cap):
    """For each hidden cell, every value it takes in some table consistent with what is shown."""
    hidden = [i for i, s in enumerate(protected.cells) if s.suppressed]
    ranges = []
    for i in hidden:
        reason = protected.cells[i].reason
        if reason == "small":
            ranges.append(range(1, minimum))
        elif reason == "withheld":
            ranges.append(range(0, cap + 1))
        else:
            ranges.append(range(minimum, cap + 1))
    seen = {i: set() for i in hidden}
    for guess in itertools.product(*ranges):
        table = list(cells)
        for i, v in zip(hidden, guess, strict=True):
            table[i] = v
        ok = True
        for members, shown in zip(totals, protected.totals, strict=True):
            value = sum(table[i] for i in members)
            if shown.suppressed:
                low, high = {"small": (1, minimum - 1), "withheld": (0, 10**9)}.get(
                    shown.reason, (minimum, 10**9)
                )
                ok = low <= value <= high
            else:
                ok = value == shown.value
            if not ok:
                break
        if ok:
            for i, v in zip(hidden, guess, strict=True):
                seen[i].add(v)
    return seen


def check_nothing_recoverable(cells, totals, minimum):
    protected = protect(cells, totals, minimum=minimum)
    # What is shown is true, and small counts are never shown.
    for count, shown in zip(cells, protected.cells, strict=True):
        if 1 <= count < minimum:
            assert shown.suppressed and shown.text in (f"fewer than {minimum}", "not shown")
        if not shown.suppressed:
            assert shown.value == count and shown.text == f"{count:,}"
        elif shown.reason == "secondary":
            assert count >= minimum and shown.text == f"{minimum} or more"
    for members, shown in zip(totals, protected.totals, strict=True):
        value = sum(cells[i] for i in members)
        assert shown.value in (value, None)
        if 1 <= value < minimum:
            assert shown.suppressed
    cap = sum(cells) + minimum + 2
    for cell, values in consistent_values(cells, totals, protected, minimum, cap).items():
        assert cells[cell] in values  # the truth is among them
        pinned_by_label = protected.cells[cell].reason == "small" and minimum == 2
        assert len(values) >= 2 or pinned_by_label, (cells, totals, cell, values, protected)
    return protected


small_tables = st.lists(st.integers(0, 14), min_size=1, max_size=4)


@settings(max_examples=120, deadline=None)
@given(cells=small_tables, minimum=st.integers(2, 5))
def test_no_hidden_count_can_be_worked_out_from_the_grand_total(cells, minimum):
    check_nothing_recoverable(cells, [list(range(len(cells)))], minimum)


@settings(max_examples=40, deadline=None)
@given(cells=st.lists(st.integers(0, 12), min_size=4, max_size=4), minimum=st.integers(3, 5))
def test_no_hidden_count_can_be_worked_out_from_a_two_way_table_and_its_margins(cells, minimum):
    # A 2 x 2 table (sex x age band, say): the grand total, each row and each column.
    totals = [[0, 1, 2, 3], [0, 1], [2, 3], [0, 2], [1, 3]]
    check_nothing_recoverable(cells, totals, minimum)


@settings(max_examples=40, deadline=None)
@given(cells=st.lists(st.integers(0, 12), min_size=3, max_size=3), minimum=st.integers(3, 5))
def test_no_hidden_count_can_be_worked_out_from_its_complement_within_a_feature(cells, minimum):
    # One feature with three values: the total, and "everyone but the first value".
    check_nothing_recoverable(cells, [[0, 1, 2], [1, 2]], minimum)


def test_a_single_small_cell_takes_a_second_one_with_it():
    protected = protect([5, 15, 40], [[0, 1, 2]], minimum=10)
    assert [s.text for s in protected.cells] == ["fewer than 10", "10 or more", "40"]
    assert protected.totals[0] == Shown(60, "60")


def test_a_total_below_the_minimum_is_hidden_too():
    protected = protect([2, 3], [[0, 1]], minimum=10)
    assert all(s.suppressed for s in (*protected.cells, *protected.totals))


def test_zero_counts_and_large_counts_are_shown():
    protected = protect([0, 10, 12345], [[0, 1, 2]], minimum=10)
    assert [s.text for s in protected.cells] == ["0", "10", "12,345"]


def test_a_table_of_only_small_counts_says_nothing_the_labels_would_give_away():
    # Two counts of "fewer than 3" cannot add up to a total of "fewer than 3" unless both are 1.
    protected = protect([0, 0, 1, 1], [[0, 1, 2, 3], [0, 1], [2, 3], [0, 2], [1, 3]], minimum=3)
    assert protected.cells[2].text == protected.cells[3].text == "not shown"


def test_minimum_of_one_shows_everything():
    protected = protect([1, 2, 3], [[0, 1, 2]], minimum=1)
    assert [s.value for s in protected.cells] == [1, 2, 3]


def test_bias_check_groups_are_protected_with_their_total_and_margins():
    groups = [
        {"group": {"race": "Asian", "sex": "F"}, "count": 4},
        {"group": {"race": "Asian", "sex": "M"}, "count": 31},
        {"group": {"race": "White", "sex": "F"}, "count": 50},
        {"group": {"race": "White", "sex": "M"}, "count": 61},
    ]
    cells, total, margins = protect_groups(groups, minimum=10, marginals=True)
    assert cells[0].text == "fewer than 10"
    assert sum(1 for c in cells if c.suppressed) >= 2
    assert total.text == "146"
    assert set(margins) == {"race", "sex"} and set(margins["sex"]) == {"F", "M"}
    shown_cells = [c.value for c in cells if not c.suppressed]
    assert 4 not in shown_cells
    # Nothing recoverable with the margins shown (the module's own linear-programming check;
    # the independent enumeration covers small tables above).
    counts = [4, 31, 50, 61]
    totals = [[0, 1, 2, 3], [0, 1], [2, 3], [0, 2], [1, 3]]
    values = counts + [sum(counts[i] for i in m) for m in totals]
    reasons = [
        s.reason for s in (*cells, total, *margins["race"].values(), *margins["sex"].values())
    ]
    equations = [(4 + k, m) for k, m in enumerate(totals)]
    assert exposed(values, reasons, equations, 10) == []


def test_a_table_whose_leak_survives_withholding_ends_and_shows_nothing_recoverable():
    """Found by hypothesis: this 2 x 2 table with its margins sent the search into a loop."""
    check_nothing_recoverable([6, 10, 2, 2], [[0, 1, 2, 3], [0, 1], [2, 3], [0, 2], [1, 3]], 5)
