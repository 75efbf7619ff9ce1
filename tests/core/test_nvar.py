"""The in-context NVAR: accuracy on a quadratic flow and its blow-up guards."""

import numpy as np

from panda_lite import metrics
from panda_lite.nvar import NVAR


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
