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


# --- probabilistic scores ---------------------------------------------------------------


def members(*values):
    """(S, 1, 1) ensemble of scalars (one step, one channel)."""
    return np.array(values, dtype=float)[:, None, None]


def gaussian_crps(y):
    """Closed-form CRPS of N(0, 1) at y: y (2 Phi(y) - 1) + 2 phi(y) - 1 / sqrt(pi)."""
    phi = math.exp(-0.5 * y * y) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + math.erf(y / math.sqrt(2)))
    return y * (2 * cdf - 1) + 2 * phi - 1 / math.sqrt(math.pi)


def normal_quantiles(levels):
    from statistics import NormalDist

    return np.array([NormalDist().inv_cdf(tau) for tau in levels])


def test_crps_ensemble_hand_cases():
    # samples {0, 1}, truth 0.5: E|X - y| = 0.5, E|X - X'| = (0 + 1 + 1 + 0) / 4 = 0.5 -> 0.5 - 0.25
    assert metrics.crps_ensemble(members(0, 1), col(0.5)) == pytest.approx(0.25)
    # fair: pair mean 2 / (2 * 1) = 1 -> 0.5 - 0.5 = 0
    assert metrics.crps_ensemble(members(0, 1), col(0.5), fair=True) == pytest.approx(0.0)
    # samples {0, 0, 3}, truth 1: E|X - y| = (1 + 1 + 2) / 3, pair sum = 4 * 3 = 12 over 9 pairs
    assert metrics.crps_ensemble(members(0, 0, 3), col(1)) == pytest.approx(4 / 3 - 0.5 * 12 / 9)


def test_crps_ensemble_perfect_and_single_member():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(4, 6, 3))
    perfect = np.repeat(truth[:, None], 5, axis=1)  # (4, S=5, 6, 3), every member the truth
    np.testing.assert_allclose(metrics.crps_ensemble(perfect, truth), 0.0, atol=1e-12)
    np.testing.assert_allclose(metrics.crps_ensemble(perfect, truth, fair=True), 0.0, atol=1e-12)
    pred = rng.normal(size=(4, 6, 3))
    np.testing.assert_allclose(metrics.crps_ensemble(pred[:, None], truth), metrics.mae(pred, truth))


def test_crps_ensemble_sorted_form_equals_pairwise_definition():
    rng = np.random.default_rng(1)
    samples, truth = rng.normal(size=(3, 7, 5, 2)), rng.normal(size=(3, 5, 2))
    s = samples.shape[1]
    first = np.abs(samples - truth[:, None]).mean(axis=1)
    pairs = np.abs(samples[:, :, None] - samples[:, None, :]).sum(axis=(1, 2))  # O(S^2) definition
    for fair, norm in ((False, s * s), (True, s * (s - 1))):
        expected = (first - 0.5 * pairs / norm).mean(axis=(-2, -1))
        got = metrics.crps_ensemble(samples, truth, fair=fair)
        assert got.shape == (3,)
        np.testing.assert_allclose(got, expected)


def test_crps_ensemble_fair_form_is_unbiased_for_small_ensembles():
    # Two members drawn from N(0, 1), truth 0: the fair mean matches the closed form, the
    # plain one overshoots by E|X - X'| / (2 S) = (2 / sqrt(pi)) / 4.
    rng = np.random.default_rng(2)
    samples = rng.normal(size=(20000, 2, 1, 1))
    truth = np.zeros((20000, 1, 1))
    exact = gaussian_crps(0.0)
    assert metrics.crps_ensemble(samples, truth, fair=True).mean() == pytest.approx(exact, abs=0.01)
    bias = (2 / math.sqrt(math.pi)) / 4
    assert metrics.crps_ensemble(samples, truth).mean() == pytest.approx(exact + bias, abs=0.01)


def test_pinball_and_weighted_quantile_loss_hand_cases():
    levels = (0.1, 0.5, 0.9)
    truth = col(1.0, -3.0)  # (H=2, C=1)
    quantiles = np.array([[[0.0, 1.0, 2.0]], [[-3.0, -3.0, -3.0]]])  # (2, 1, 3)
    # step 1: y - q = (1, 0, -1) -> 0.1 * 1, 0, (0.9 - 1) * -1 = 0.1; step 2: exact -> 0
    assert metrics.quantile_loss(quantiles, truth, levels) == pytest.approx((0.1 + 0 + 0.1) / 6)
    # WQL = 2 * sum_{t} mean_k rho / sum |y| = 2 * (0.2 / 3) / (1 + 3)
    assert metrics.weighted_quantile_loss(quantiles, truth, levels) == pytest.approx(2 * (0.2 / 3) / 4)
    assert metrics.crps_quantiles(quantiles, truth, levels) == pytest.approx(2 * 0.2 / 6)
    # a median-only forecast: pinball at 0.5 is half the absolute error
    assert metrics.quantile_loss(col(3.0)[..., None], col(1.0), [0.5]) == pytest.approx(1.0)
    assert math.isnan(metrics.weighted_quantile_loss(np.ones((2, 1, 1)), np.zeros((2, 1)), [0.5]))


def test_quantile_metrics_reduce_a_batch():
    rng = np.random.default_rng(3)
    levels = (0.1, 0.25, 0.5, 0.75, 0.9)
    quantiles = np.sort(rng.normal(size=(4, 6, 2, 5)), axis=-1)
    truth = rng.normal(size=(4, 6, 2))
    fns = (
        metrics.quantile_loss,
        metrics.weighted_quantile_loss,
        metrics.crps_quantiles,
        metrics.interval_coverage,
        metrics.interval_width,
    )
    for fn in fns:
        batched = fn(quantiles, truth, levels)
        assert batched.shape == (4,)
        assert batched[1] == pytest.approx(fn(quantiles[1], truth[1], levels))


def test_crps_quantiles_approximates_ensemble_crps_of_a_gaussian():
    rng = np.random.default_rng(4)
    truth = np.array([-1.5, 0.0, 0.3, 2.0])[:, None]  # (H=4, C=1)
    samples = rng.normal(size=(20000, 4, 1))
    levels = (np.arange(99) + 0.5) / 99  # midpoint rule on (0, 1)
    quantiles = np.broadcast_to(normal_quantiles(levels), (4, 1, 99))
    exact = np.mean([gaussian_crps(y) for y in truth[:, 0]])
    from_quantiles = metrics.crps_quantiles(quantiles, truth, levels)
    from_samples = metrics.crps_ensemble(samples, truth)
    assert from_quantiles == pytest.approx(exact, abs=0.005)
    assert from_samples == pytest.approx(exact, abs=0.02)
    assert from_quantiles == pytest.approx(from_samples, abs=0.02)


def test_interval_coverage_of_a_calibrated_gaussian():
    rng = np.random.default_rng(5)
    levels = (0.1, 0.25, 0.5, 0.75, 0.9)
    truth = rng.normal(size=(20000, 2))  # (H, C) draws from N(0, 1)
    quantiles = np.broadcast_to(normal_quantiles(levels), truth.shape + (5,))
    assert metrics.interval_coverage(quantiles, truth, levels, 0.5) == pytest.approx(0.5, abs=0.015)
    assert metrics.interval_coverage(quantiles, truth, levels, 0.8) == pytest.approx(0.8, abs=0.015)
    assert metrics.interval_width(quantiles, truth, levels, 0.5) == pytest.approx(2 * 0.6744897501960817)
    assert metrics.interval_width(quantiles, truth, levels, 0.8) == pytest.approx(2 * 1.2815515655446004)


def test_interval_coverage_and_width_hand_case():
    levels = [0.25, 0.75]
    quantiles = np.array([[[0.0, 2.0]], [[0.0, 2.0]], [[1.0, 5.0]]])  # (H=3, C=1, Q=2)
    truth = col(2.0, 3.0, 0.0)  # on the upper bound (inside), above, below
    assert metrics.interval_coverage(quantiles, truth, levels, 0.5) == pytest.approx(1 / 3)
    assert metrics.interval_width(quantiles, truth, levels, 0.5) == pytest.approx((2 + 2 + 4) / 3)


def test_spread_skill_hand_case_and_shapes():
    # one step, two channels; members {0, 2} and {1, 1}, truth (0, 4)
    samples = np.array([[[0.0, 1.0]], [[2.0, 1.0]]])  # (S=2, H=1, C=2)
    spread, skill = metrics.spread_skill(samples, np.array([[0.0, 4.0]]))
    # variances (ddof 1): 2 and 0 -> sqrt(1); mean (1, 1), errors (1, -3) -> sqrt(5)
    np.testing.assert_allclose(spread, [1.0])
    np.testing.assert_allclose(skill, [math.sqrt(5.0)])
    rng = np.random.default_rng(6)
    spread, skill = metrics.spread_skill(rng.normal(size=(3, 8, 10, 4)), rng.normal(size=(3, 10, 4)))
    assert spread.shape == skill.shape == (3, 10)


def test_spread_skill_of_a_calibrated_ensemble():
    # members and truth exchangeable draws: mean skill^2 = (1 + 1/S) mean spread^2
    rng = np.random.default_rng(7)
    draws = rng.normal(size=(5000, 6, 3, 2))  # (windows, S + 1, H, C)
    spread, skill = metrics.spread_skill(draws[:, 1:], draws[:, 0])
    ratio = (skill**2).mean(axis=0) / (spread**2).mean(axis=0)
    np.testing.assert_allclose(ratio, 1 + 1 / 5, rtol=0.05)


def test_probabilistic_scores_reject_bad_shapes_and_levels():
    with pytest.raises(ValueError, match=r"\(\.\.\., S, H, C\)"):
        metrics.crps_ensemble(np.zeros((4, 5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"\(\.\.\., S, H, C\)"):
        metrics.crps_ensemble(np.zeros((5, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="at least 2"):
        metrics.crps_ensemble(np.zeros((1, 5, 2)), np.zeros((5, 2)), fair=True)
    with pytest.raises(ValueError, match="at least 2"):
        metrics.spread_skill(np.zeros((1, 5, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="Q = 3 levels"):
        metrics.quantile_loss(np.zeros((5, 2, 2)), np.zeros((5, 2)), (0.1, 0.5, 0.9))
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        metrics.weighted_quantile_loss(np.zeros((5, 2, 2)), np.zeros((5, 2)), (0.0, 0.5))
    with pytest.raises(ValueError, match="needs quantile level 0.25"):
        metrics.interval_coverage(np.zeros((5, 2, 3)), np.zeros((5, 2)), (0.1, 0.5, 0.9), 0.5)
    with pytest.raises(ValueError, match="interval width"):
        metrics.interval_width(np.zeros((5, 2, 3)), np.zeros((5, 2)), (0.1, 0.5, 0.9), 1.2)
