"""Raw rows for the client's tests, and the reference aggregate: a pandas groupby of them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from registry_bias import CheckSpec

RACES = ["Asian", "Black", "White", "Hispanic or Latino", None]
SEXES = ["F", "M"]
LEVELS = ["low", "medium", "high"]

#: One spec per task and variant; every engine is checked against each.
SPECS = {
    "binary": CheckSpec(["race", "sex"], y_true="y_true", y_pred="y_pred"),
    "binary_scores": CheckSpec(
        ["race"], y_true="y_true", y_pred="y_pred", y_score="score", score_bins=4
    ),
    "multiclass": CheckSpec(["sex"], task="multiclass", y_true="level_true", y_pred="level_pred"),
    "outcome_rates": CheckSpec(["race", "sex"], task="outcome_rates", outcomes="approved,flagged"),
    "regression": CheckSpec(["race", "sex"], task="regression", y_true="amount", y_pred="estimate"),
}


def raw_rows(n: int = 3000, seed: int = 7) -> pd.DataFrame:
    """Rows with missing values in every kind of column, scores on the bin edges, floats."""
    rng = np.random.default_rng(seed)
    race = rng.choice(np.array(RACES, dtype=object), n, p=[0.15, 0.25, 0.4, 0.15, 0.05])
    sex = rng.choice(SEXES, n)
    y_true = rng.integers(0, 2, n).astype("float64")
    y_pred = np.where(rng.random(n) < 0.8, y_true, 1 - y_true)
    y_pred[rng.random(n) < 0.02] = np.nan  # a missing prediction: float column, as in life
    score = np.round(rng.random(n), 3)
    score[:4] = [0.0, 0.25, 1.0, 0.75]  # on the edges: the bins are [low, high)
    score[rng.random(n) < 0.03] = np.nan
    amount = np.round(rng.gamma(2.0, 300.0, n), 2)
    estimate = np.round(amount * rng.normal(1.0, 0.2, n) + rng.normal(0, 20, n), 2)
    amount[rng.random(n) < 0.02] = np.nan
    return pd.DataFrame(
        {
            "race": race,
            "sex": sex,
            "y_true": y_true.astype("int64"),
            "y_pred": y_pred,
            "score": score,
            "level_true": rng.choice(LEVELS, n),
            "level_pred": rng.choice(LEVELS, n),
            "approved": rng.integers(0, 2, n),
            "flagged": (rng.random(n) < 0.1).astype("int64"),
            "amount": amount,
            "estimate": estimate,
        }
    )


def records(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """The rows as plain Python tuples, missing values as None (for Spark and SQL inserts)."""
    out = []
    for row in frame.itertuples(index=False, name=None):
        out.append(
            tuple(
                None
                if (v is None or (isinstance(v, float) and math.isnan(v)))
                else (v.item() if hasattr(v, "item") else v)
                for v in row
            )
        )
    return out


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _bin(score: float, edges: tuple[float, ...]) -> tuple[float, float] | tuple[None, None]:
    if math.isnan(score):
        return (None, None)
    i = 0
    while i + 2 < len(edges) and score >= edges[i + 1]:
        i += 1
    return (edges[i], edges[i + 1])


def expected(spec: CheckSpec, frame: pd.DataFrame) -> dict[tuple[str | None, ...], tuple]:
    """The reference: ``DataFrame.groupby(dropna=False)`` of the raw rows, values as text."""
    keys = list(spec.key_columns)
    work = frame.copy()
    if spec.binned:
        bins = [_bin(s, spec.score_edges) for s in work[spec.y_score]]
        work["y_score_low"] = [b[0] for b in bins]
        work["y_score_high"] = [b[1] for b in bins]
    if spec.task == "regression":
        work = work[work[spec.y_true].notna() & work[spec.y_pred].notna()]
        e = work[spec.y_pred] - work[spec.y_true]
        work = work.assign(
            sum_pred=work[spec.y_pred],
            sum_sq_pred=work[spec.y_pred] ** 2,
            sum_true=work[spec.y_true],
            sum_error=e,
            sum_abs_error=e.abs(),
            sum_sq_error=e**2,
            sum_quad_error=e**4,
        )
        moments = list(spec.value_columns[1:])
        grouped = work.groupby(keys, dropna=False)
        table = grouped[moments].sum().assign(n=grouped.size()).reset_index()
        return {
            tuple(_text(v) for v in row[keys]): (int(row["n"]), *(float(row[m]) for m in moments))
            for _, row in table.iterrows()
        }
    sizes = work.groupby(keys, dropna=False).size()
    return {
        tuple(_text(v) for v in (k if isinstance(k, tuple) else (k,))): (int(n),)
        for k, n in sizes.items()
    }


def assert_matches(aggregate, reference: dict) -> None:
    """Counts equal exactly; moments to 1e-9 relative (engines add floats in their own order)."""
    got = {key: values for key, values in aggregate.cells}
    assert set(got) == set(reference), sorted(set(got) ^ set(reference), key=str)[:5]
    for key, want in reference.items():
        have = got[key]
        assert int(have[0]) == want[0], (key, have, want)
        for a, b in zip(have[1:], want[1:], strict=True):
            assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6), (key, have, want)
