"""Baselines: shapes, the shared interface, the configured subset."""

import numpy as np
import pytest

from panda_lite.evaluation.baselines import context_mean, default_baselines, last_value


def test_last_value_and_mean():
    context = np.arange(12, dtype=float).reshape(2, 3, 2)  # (B=2, T=3, C=2)
    np.testing.assert_array_equal(last_value(context, 4), np.repeat(context[:, -1:], 4, axis=1))
    np.testing.assert_array_equal(context_mean(context, 2)[:, 0], [[2.0, 3.0], [8.0, 9.0]])
    assert context_mean(context, 5).shape == (2, 5, 2)


def test_every_baseline_shares_the_interface():
    context = np.random.default_rng(0).normal(size=(3, 200, 4)).cumsum(axis=1)
    for name, forecast in default_baselines().items():
        out = forecast(context, 33)
        assert out.shape == (3, 33, 4), name
        assert np.all(np.isfinite(out)), name
    with pytest.raises(ValueError, match=r"\(B, T, C\)"):
        last_value(np.zeros((10, 2)), 3)
    with pytest.raises(ValueError, match="horizon"):
        context_mean(np.zeros((1, 10, 2)), 0)
