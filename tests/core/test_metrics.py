"""Metric functions on hand-computable cases."""

import math

import numpy as np
import pytest

from panda_lite import metrics


def col(*values):
    """(H, 1) array from scalars."""
    return np.array(values, dtype=float)[:, None]


def test_smape_hand_values_and_scale():
    # |1-1|/(1+1) = 0, |3-1|/(3+1) = 1/2, |-1-1|/(1+1) = 1  ->  200 * mean(0, 0.5, 1) = 100
    assert metrics.smape(col(1, 3, -1), col(1, 1, 1)) == pytest.approx(100.0)
    # opposite signs hit the top of the 0-200 scale
    assert metrics.smape(col(-2), col(5)) == pytest.approx(200.0)


def test_smape_zero_over_zero_is_zero():
    assert metrics.smape(col(0, 0), col(0, 0)) == 0.0
    assert metrics.smape(col(0, 2), col(0, 2)) == 0.0


def test_mae_mse_hand_values():
    pred, true = np.array([[1.0, 2.0], [3.0, 5.0]]), np.array([[0.0, 2.0], [1.0, 1.0]])
    assert metrics.mae(pred, true) == pytest.approx((1 + 0 + 2 + 4) / 4)
    assert metrics.mse(pred, true) == pytest.approx((1 + 0 + 4 + 16) / 4)


def test_point_metrics_reduce_time_and_channels_of_a_batch():
    rng = np.random.default_rng(0)
    pred, true = rng.normal(size=(5, 7, 3)), rng.normal(size=(5, 7, 3))
    for fn in (metrics.smape, metrics.mae, metrics.mse, metrics.spearman, metrics.valid_prediction_time):
        batched = fn(pred, true)
        assert batched.shape == (5,)
        assert batched[2] == pytest.approx(fn(pred[2], true[2]))


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        metrics.smape(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"\(\.\.\., H, C\)"):
        metrics.mae(np.zeros(4), np.zeros(4))


def test_spearman_rank_cases():
    true = col(1, 2, 3, 4, 5)
    assert metrics.spearman(col(10, 20, 30, 40, 50) ** 3, true) == pytest.approx(1.0)  # monotone map
    assert metrics.spearman(col(5, 4, 3, 2, 1), true) == pytest.approx(-1.0)
    assert metrics.spearman(col(7, 7, 7, 7, 7), true) == 0.0  # constant: no rank information
    # channel mean: +1 and -1 channels average to 0
    two = np.hstack([col(1, 2, 3), col(3, 2, 1)])
    assert metrics.spearman(two, np.hstack([col(1, 2, 3), col(1, 2, 3)])) == pytest.approx(0.0)


def test_vpt_of_perfect_forecast_is_full_horizon():
    true = np.random.default_rng(1).normal(size=(3, 40, 2))
    np.testing.assert_array_equal(metrics.valid_prediction_time(true, true), [40, 40, 40])


def test_vpt_first_exceedance_of_running_smape():
    true = np.ones((10, 1))
    pred = true.copy()
    pred[3:] = 3.0  # per-step sMAPE 0,0,0,100,100,...  running: 0,0,0,25,40 -> exceeds 30 at step 5
    np.testing.assert_allclose(metrics.running_smape(pred, true)[:5], [0, 0, 0, 25, 40])
    assert metrics.valid_prediction_time(pred, true) == 4
    # running sMAPE at step t >= 4 is 100 (t - 3) / t: 50 at step 6, 57 at step 7
    assert metrics.valid_prediction_time(pred, true, threshold=50) == 6


def test_vpt_lyapunov_times():
    assert metrics.vpt_lyapunov_times(100, dt=0.01, lyapunov_max=0.9) == pytest.approx(0.9)
    assert math.isnan(metrics.vpt_lyapunov_times(100, dt=0.01, lyapunov_max=float("nan")))
    assert math.isnan(metrics.vpt_lyapunov_times(100, dt=0.01, lyapunov_max=-0.1))


def test_state_space_kl_hand_case():
    # 1-D, 2 bins over the truth's range [0, 1]: truth counts (1/2, 1/2), forecast (1, 0).
    true, pred = col(0, 0, 1, 1), col(0, 0, 0, 0)
    alpha = 0.1
    p = np.array([0.5 + alpha, 0.5 + alpha]) / (1 + 2 * alpha)
    q = np.array([1.0 + alpha, alpha]) / (1 + 2 * alpha)
    expected = float(np.sum(p * np.log(p / q)))
    assert metrics.state_space_kl(pred, true, n_bins=2, alpha=alpha) == pytest.approx(expected)


def test_state_space_kl_identical_zero_and_outliers_clipped():
    x = np.random.default_rng(2).normal(size=(500, 3))
    assert metrics.state_space_kl(x, x) == pytest.approx(0.0, abs=1e-12)
    far = metrics.state_space_kl(x + 100.0, x)  # all mass clipped into one corner bin
    assert np.isfinite(far) and far > 3.0
    wide = np.random.default_rng(3).normal(size=(500, 5))
    assert metrics.state_space_kl(wide, wide) == pytest.approx(0.0, abs=1e-12)  # C > 3 via PCA


def test_spectral_hellinger_cases():
    t = np.arange(256)
    slow = np.sin(2 * np.pi * 5 * t / 256)[:, None]
    fast = np.sin(2 * np.pi * 40 * t / 256)[:, None]
    assert metrics.spectral_hellinger(slow, slow) == pytest.approx(0.0, abs=1e-7)
    # disjoint spectra (no smoothing): Bhattacharyya coefficient 0 -> distance 1
    assert metrics.spectral_hellinger(fast, slow, sigma=0) == pytest.approx(1.0, abs=1e-6)
    assert metrics.spectral_hellinger(np.full_like(slow, 3.0), slow) == 1.0
    assert metrics.spectral_hellinger(np.full_like(slow, 3.0), np.full_like(slow, 1.0)) == 0.0
    # channel mean of 0 and 1
    assert metrics.spectral_hellinger(np.hstack([slow, fast]), np.hstack([slow, slow]), sigma=0) == pytest.approx(
        0.5, abs=1e-6
    )


def test_correlation_dimension_known_sets():
    rng = np.random.default_rng(4)
    line = np.linspace(0, 1, 1500)[:, None] * np.array([[1.0, 2.0, -1.0]])
    assert metrics.correlation_dimension(line) == pytest.approx(1.0, abs=0.1)
    square = metrics.correlation_dimension(rng.random((1500, 2)))
    assert 1.7 < square <= 2.0
    assert metrics.correlation_dimension(np.ones((100, 3))) == 0.0


def test_correlation_dimension_of_tiled_copy_stays_bounded():
    # A forecast that repeats 10 states: duplicates are dropped, result within [0, C].
    cycle = np.random.default_rng(5).normal(size=(10, 4))
    tiled = np.tile(cycle, (300, 1))
    assert 0.0 <= metrics.correlation_dimension(tiled) <= 4.0


def test_correlation_dimension_error(lorenz_trajectory):
    x = lorenz_trajectory
    assert metrics.correlation_dimension_error(x, x) == 0.0
    assert metrics.correlation_dimension_error(np.ones_like(x), x) == pytest.approx(metrics.correlation_dimension(x))
    assert 1.6 < metrics.correlation_dimension(x) < 2.2  # Lorenz-63: 2.05 in the literature


def test_standardize_uses_context_statistics():
    context = np.array([[0.0, 5.0], [2.0, 5.0]])  # mean (1, 5), std (1, 0 -> 1)
    np.testing.assert_allclose(metrics.standardize(np.array([[3.0, 6.0]]), context), [[2.0, 1.0]])
    # NaN steps of the context are ignored; channels flatter than min_std count as constant.
    holed = np.array([[0.0, 5.0], [np.nan, 5.0], [2.0, 5.000001]])
    np.testing.assert_allclose(metrics.standardize(np.array([[3.0, 6.0]]), holed, min_std=1e-3)[0, 0], 2.0)
    assert abs(metrics.standardize(np.array([[3.0, 6.0]]), holed, min_std=1e-3)[0, 1] - 1.0) < 1e-5
