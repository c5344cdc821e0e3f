"""The passes over rows run in chunks and the AUC bootstrap in blocks of resamples; neither
may change a result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from assessments import metrics as metrics_module
from assessments.metrics import compute_bias_metrics


def _inputs(n: int, levels: int, seed: int = 11) -> dict:
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(
        {
            "race": pd.Categorical(rng.choice(["a", "b", "c"], n)),
            "sex": rng.choice(["F", "M"], n),
        }
    )
    score = rng.random(n)
    if levels:
        score = np.round(score * (levels - 1)) / (levels - 1)
    score[:4] = [0.0, -0.0, 1.0, -0.0]  # -0 and 0 are the same score (a tie)
    y_true = (rng.random(n) < score).astype(np.int8)
    y_true[:4] = [1, 0, 1, 0]
    return {
        "y_true": y_true,
        "y_pred": (score > 0.5).astype(np.int8),
        "sensitive_features": features,
        "y_score": score,
        "n_boot": 120,
        "seed": 4,
    }


def _without_calibration_sums(result: dict) -> dict:
    out = dict(result)
    out.pop("calibration")
    return out


@pytest.mark.parametrize(
    ("levels", "max_hist_bins"),
    [
        (0, 10),  # exact AUC from sorted keys, binned bootstrap
        (11, None),  # exact histogram, also used by the bootstrap
        (300, None),  # exact histogram, binned bootstrap
    ],
)
def test_chunk_and_block_sizes_do_not_change_results(monkeypatch, levels, max_hist_bins):
    if max_hist_bins:
        monkeypatch.setattr(metrics_module, "_MAX_AUC_HIST_BINS", max_hist_bins)
    kwargs = _inputs(2000, levels)
    whole = compute_bias_metrics(**kwargs).to_dict()
    monkeypatch.setattr(metrics_module, "CHUNK_ROWS", 97)
    monkeypatch.setattr(metrics_module, "_AUC_BOOT_BLOCK", 7)
    chunked = compute_bias_metrics(**kwargs).to_dict()
    assert _without_calibration_sums(chunked) == _without_calibration_sums(whole)
    for a, b in zip(
        chunked["calibration"]["by_group"], whole["calibration"]["by_group"], strict=True
    ):
        for x, y in zip(a["bins"], b["bins"], strict=True):
            assert x["count"] == y["count"] and x["observed_rate"] == y["observed_rate"]
            assert x["mean_score"] == pytest.approx(y["mean_score"], rel=1e-12)


@pytest.mark.parametrize("levels", [0, 11])
def test_sorted_keys_auc_matches_sklearn_with_ties_and_signed_zeros(monkeypatch, levels):
    kwargs = _inputs(600, levels)
    monkeypatch.setattr(metrics_module, "_MAX_AUC_HIST_BINS", 10)  # force the sorted keys
    monkeypatch.setattr(metrics_module, "CHUNK_ROWS", 64)
    result = compute_bias_metrics(**kwargs).to_dict()
    y_true, score = kwargs["y_true"], kwargs["y_score"]
    assert result["overall"]["roc_auc"] == pytest.approx(roc_auc_score(y_true, score), abs=1e-12)
    features = kwargs["sensitive_features"]
    for entry in result["by_group"]:
        mask = (
            (features["race"] == entry["group"]["race"])
            & (features["sex"] == entry["group"]["sex"])
        ).to_numpy()
        expected = roc_auc_score(y_true[mask], score[mask])
        assert entry["roc_auc"] == pytest.approx(expected, abs=1e-12)
