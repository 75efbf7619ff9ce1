"""Baselines: shapes, exact parroting continuations, NVAR accuracy and blow-up guards."""

import numpy as np
import pytest

from panda_lite.evaluation import metrics
from panda_lite.evaluation.baselines import NVAR, ContextParroting, context_mean, default_baselines, last_value


def test_last_value_and_mean():
    context = np.arange(12, dtype=float).reshape(2, 3, 2)  # (B=2, T=3, C=2)
    np.testing.assert_array_equal(last_value(context, 4), np.repeat(context[:, -1:], 4, axis=1))
    np.testing.assert_array_equal(context_mean(context, 2)[:, 0], [[2.0, 3.0], [8.0, 9.0]])
    assert context_mean(context, 5).shape == (2, 5, 2)


@pytest.mark.parametrize("period", [37, 50, 64])
def test_parroting_reproduces_periodic_signal_exactly(period):
    t = np.arange(512 + 300)
    signal = np.stack([np.sin(2 * np.pi * t / period), np.cos(4 * np.pi * t / period) + 0.3 * np.sin(2 * np.pi * t / period)], -1)
    pred = ContextParroting(10)(signal[None, :512], 300)
    # Exact to rounding: the copy is the last period, tiled (a horizon of several periods).
    np.testing.assert_allclose(pred[0], signal[512:], atol=1e-12)


def test_parroting_hand_case_copies_through_last_context_point():
    # Query (last D=2 points) is [0, 1]; it matches the window ending at s=2 exactly, so the
    # continuation is x_3..x_8 = [2, 0, 1.1, 5, 0, 1] (including the last context point,
    # unlike the reference code's data[best:-1]) tiled with period 6.
    context = np.array([0, 1, 2, 0, 1.1, 5, 0, 1], dtype=float)[None, :, None]
    pred = ContextParroting(2)(context, 8)
    np.testing.assert_allclose(pred[0, :, 0], [2, 0, 1.1, 5, 0, 1, 2, 0])


def test_parroting_matches_on_the_whole_state():
    # The query is the last D=2 states. Channel 0 alone matches the window ending at s=2
    # exactly ([0, 1]), but channel 1 there is [5, 5] vs [0, 0]; the best match of the state
    # ends at s=5, so x_6..x_8 is copied, with period 3.
    ch0 = [0, 1, 9, 0, 1.2, 7, 0, 1]
    ch1 = [5, 5, 9, 0, 0, 7, 0, 0]
    context = np.array([ch0, ch1], dtype=float).T[None]
    pred = ContextParroting(2)(context, 4)
    np.testing.assert_allclose(pred[0], np.array([[7, 0, 1, 7], [7, 0, 0, 7]]).T)


def test_parroting_rejects_short_context_and_bad_motif():
    with pytest.raises(ValueError, match="at least 20"):
        ContextParroting(10)(np.zeros((1, 15, 2)), 4)
    with pytest.raises(ValueError, match="motif_length"):
        ContextParroting(0)


def test_nvar_forecasts_lorenz_well(lorenz_trajectory):
    context, truth = lorenz_trajectory[None, :512], lorenz_trajectory[None, 512:576]
    pred = NVAR()(context, 64)
    z = lambda x: (x - context.mean(1, keepdims=True)) / context.std(1, keepdims=True)  # noqa: E731
    assert metrics.smape(z(pred), z(truth))[0] < 10.0


def test_nvar_divergence_is_clipped_not_nan():
    # Exponential growth is fitted exactly and keeps growing: the guard caps it at the
    # context's range widened by one range on each side.
    context = (1.05 ** np.arange(300.0))[None, :, None]
    pred = NVAR()(context, 500)
    lo, hi = context.min(), context.max()
    assert np.all(np.isfinite(pred))
    assert pred.max() <= hi + (hi - lo) + 1e-6 and pred.max() > hi


def test_nvar_constant_context_falls_back_to_constant():
    pred = NVAR(ridge=0.0)(np.full((2, 50, 3), 4.0), 20)
    np.testing.assert_allclose(pred, 4.0)


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
