"""The fault-LSTM recipe on a real public series (river's NASA shuttle data); needs torch and river."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("river")

from rsu.eval.shuttle import evaluate, load_shuttle, roc_auc  # noqa: E402

pytestmark = pytest.mark.tools


def test_shuttle_data_is_the_documented_one():
    x, y = load_shuttle()
    assert x.shape == (49_097, 9) and int(y.sum()) == 3_511


def test_roc_auc_rank_statistic():
    import numpy as np

    assert roc_auc(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1])) == 1.0
    assert roc_auc(np.array([0.9, 0.8, 0.2, 0.1]), np.array([0, 0, 1, 1])) == 0.0
    assert roc_auc(np.array([0.5, 0.5]), np.array([0, 1])) == 0.5


def test_lstm_recipe_on_shuttle_quick():
    r = evaluate(epochs=2, steps_per_epoch=50)
    assert r["test_windows"] > 20_000 and 0.05 < r["anomaly_rate_test"] < 0.1
    assert r["lstm"]["roc_auc"] > 0.9 and r["zscore_baseline"]["roc_auc"] > 0.5
