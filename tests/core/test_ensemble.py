"""Ensembles: the perturbations, quantiles and baseline ensembles of panda_lite.ensemble, and
PandaLitePipeline.sample / predict_quantiles (shapes, seeds, batch invariance, input checks)."""

import numpy as np
import pytest
import torch
from util import lorenz_rk4, series

from panda_lite import PandaLitePipeline
from panda_lite.ensemble import (
    analog_ensemble,
    backtest_error,
    climatological_ensemble,
    ensemble_quantiles,
    member_generators,
    noise_scale,
    perturb_context,
)
from panda_lite.metrics import crps_ensemble, interval_coverage


@pytest.fixture(scope="module")
def pipe(tiny_checkpoint):
    return PandaLitePipeline.from_pretrained(tiny_checkpoint)


def ramp(length: int, channels: int = 2) -> np.ndarray:
    """A quadratic in time of binary fractions: its third differences are exactly zero (no
    observation noise)."""
    t = np.arange(length, dtype=np.float64)[:, None]
    return 2.0**-6 * t + 2.0**-12 * t**2 * np.arange(1, channels + 1)


def test_noise_scale_recovers_white_noise_on_a_smooth_signal():
    t = np.arange(4000)[:, None]
    clean = np.sin(2 * np.pi * t / np.array([128.0, 90.0]))  # sampled like the corpus: 128 points per period
    noisy = clean + np.random.default_rng(0).normal(size=clean.shape) * np.array([0.3, 0.01])
    np.testing.assert_allclose(noise_scale(noisy), [0.3, 0.01], rtol=0.1)
    assert np.all(noise_scale(clean) < 1e-4) and np.all(noise_scale(ramp(100)) == 0.0)
    holed = noisy.copy()
    holed[100:200, 0] = np.nan
    np.testing.assert_allclose(noise_scale(holed), [0.3, 0.01], rtol=0.1)


def test_perturbation_moves_only_the_end_state_of_a_noise_free_context():
    context = ramp(100)
    members = perturb_context(context, np.array([0.5, 2.0]), 200, seed=3, ramp_length=16)
    assert members.shape == (200, 100, 2)
    np.testing.assert_array_equal(members[:, :84], np.broadcast_to(context[:84], (200, 84, 2)))
    offsets = members[:, -1] - context[-1]  # the full offset at the last step
    np.testing.assert_allclose(offsets.std(axis=0), [0.5, 2.0], rtol=0.15)


def test_perturbation_is_seeded_per_member_and_keeps_missing_steps():
    context = series(120, channels=2)
    context[50:60, 1] = np.nan
    first = perturb_context(context, np.array([0.1, 0.1]), 6, seed=0)
    np.testing.assert_array_equal(first, perturb_context(context, np.array([0.1, 0.1]), 6, seed=0))
    np.testing.assert_array_equal(first[:3], perturb_context(context, np.array([0.1, 0.1]), 3, seed=0))
    assert not np.allclose(first, perturb_context(context, np.array([0.1, 0.1]), 6, seed=1))
    assert np.isnan(first[:, 50:60, 1]).all() and np.isfinite(first[:, 60:]).all()
    # another series draws other numbers from the same seed
    a, b = (
        rng.standard_normal(4) for rng in (member_generators(0, context, 1)[0], member_generators(0, -context, 1)[0])
    )
    assert not np.allclose(a, b)


def test_perturbation_and_seed_checks():
    with pytest.raises(ValueError, match="state_scale must be 2 finite values"):
        perturb_context(ramp(50), np.array([0.1, np.nan]), 2, seed=0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        perturb_context(ramp(50), np.array([0.1, 0.1]), 2, seed=-1)


def test_backtest_error_is_rms_over_observed_steps_else_the_context_std():
    truth = np.array([[1.0, np.nan], [2.0, np.nan]])
    forecast = np.array([[1.0, 0.0], [4.0, 0.0]])
    context = np.array([[0.0, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(backtest_error(forecast, truth, context), [np.sqrt(2.0), 1.0])


def test_quantiles_are_monotone_in_the_level_and_a_calibrated_gaussian_is_covered():
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(400, 64, 20, 1))  # (K, S, H, C)
    truth = rng.normal(size=(400, 20, 1))
    levels = (0.1, 0.25, 0.5, 0.75, 0.9)
    quantiles = ensemble_quantiles(samples, levels)
    assert quantiles.shape == (400, 20, 1, 5) and np.all(np.diff(quantiles, axis=-1) >= 0)
    # an S-member interval between empirical quantiles covers a little less than nominal (1/(S+1) per tail)
    assert interval_coverage(quantiles, truth, levels, 0.5).mean() == pytest.approx(0.5, abs=0.03)
    assert interval_coverage(quantiles, truth, levels, 0.8).mean() == pytest.approx(0.8, abs=0.03)
    with pytest.raises(ValueError, match=r"quantile levels must be .* in \(0, 1\)"):
        ensemble_quantiles(samples, (0.0, 0.5))


def test_analog_ensemble_of_a_periodic_signal_is_perfect():
    t = np.arange(600)
    signal = np.stack([np.sin(2 * np.pi * t / 50), np.cos(2 * np.pi * t / 50)], axis=-1)
    members = analog_ensemble(signal[None, :500], 64, 4)
    assert members.shape == (1, 4, 64, 2)
    np.testing.assert_allclose(crps_ensemble(members, signal[None, 500:564]), 0.0, atol=1e-9)


def test_climatological_ensemble_draws_stretches_of_the_context():
    context = np.arange(40.0).reshape(1, 20, 2)
    members = climatological_ensemble(context, 30, 8, seed=1)
    assert members.shape == (1, 8, 30, 2)
    np.testing.assert_array_equal(members, climatological_ensemble(context, 30, 8, seed=1))
    step = (members[0, :, 1:, 0] - members[0, :, :-1, 0]) / 2  # consecutive steps, or a wrap to step 0
    assert np.all((step == 1) | (step == -19))
    assert np.isin(members, context).all()


def test_sample_and_quantile_shapes(pipe):
    samples = pipe.sample(series(200), 40, num_samples=5)
    assert samples.shape == (5, 40, 3) and samples.dtype == torch.float64 and torch.isfinite(samples).all()
    assert pipe.sample(series(200, 1)[:, 0], 40, num_samples=2).shape == (2, 40, 1)
    assert pipe.sample([series(200), series(70, seed=1)], 40, num_samples=3).shape == (2, 3, 40, 3)
    quantiles, mean = pipe.predict_quantiles(series(200), 40, quantile_levels=(0.1, 0.5, 0.9), num_samples=5)
    assert quantiles.shape == (40, 3, 3) and mean.shape == (40, 3) and quantiles.dtype == torch.float64
    assert torch.all(quantiles[..., 1:] >= quantiles[..., :-1])
    torch.testing.assert_close(mean, samples.mean(dim=0), rtol=0, atol=0)
    batched, _ = pipe.predict_quantiles(series(200)[None].repeat(2, axis=0), 40, num_samples=5)
    assert batched.shape == (2, 40, 3, 9)


def test_sample_is_deterministic_under_a_seed_and_extends_by_members(pipe):
    context = series(200)
    first = pipe.sample(context, 40, num_samples=6, seed=11)
    assert torch.equal(first, pipe.sample(context, 40, num_samples=6, seed=11))
    assert torch.equal(first[:3], pipe.sample(context, 40, num_samples=3, seed=11))
    assert not torch.equal(first, pipe.sample(context, 40, num_samples=6, seed=12))
    assert (first.std(dim=0) > 0).any()  # members differ


def test_members_do_not_depend_on_the_batch(pipe):
    contexts = [series(n, seed=n) for n in (200, 64, 128, 17)]
    alone = torch.stack([pipe.sample(c, 50, num_samples=4, seed=2) for c in contexts])
    for batch_size in (32, 3):
        together = pipe.sample(contexts, 50, num_samples=4, seed=2, batch_size=batch_size)
        torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


def test_members_are_predict_forecasts_of_the_perturbed_contexts(pipe):
    context = ramp(150, channels=3)  # no observation noise: with spread 0 nothing is perturbed
    members = pipe.sample(context, 40, num_samples=3, spread=0.0)
    torch.testing.assert_close(members, pipe.predict(context, 40).expand(3, 40, 3), atol=1e-5, rtol=1e-5)


def test_an_expert_that_knows_the_state_gives_a_sharp_ensemble(pipe):
    context = lorenz_rk4(128)  # NVAR is exact on Lorenz and wins its backtest: a tiny backtest error
    members = pipe.sample(context, 32, num_samples=8, expert="nvar")
    by_network = pipe.sample(context, 32, num_samples=8, expert="off")
    scale = context.std(axis=0)
    sharp = (members.std(dim=0)[:8].numpy() / scale).max()
    wide = (by_network.std(dim=0)[:8].numpy() / scale).max()
    assert sharp < 0.01 < wide


def test_missing_steps_are_allowed_and_bad_arguments_are_refused(pipe):
    holed = series(200)
    holed[150:160, 1] = np.nan
    assert torch.isfinite(pipe.sample(holed, 32, num_samples=2)).all()
    with pytest.raises(ValueError, match="num_samples must be a positive integer"):
        pipe.sample(series(200), 32, num_samples=0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        pipe.sample(series(200), 32, seed=-3)
    with pytest.raises(ValueError, match="spread must be a finite number >= 0"):
        pipe.sample(series(200), 32, spread=float("nan"))
    with pytest.raises(ValueError, match="prediction_length must be a positive integer"):
        pipe.sample(series(200), 0)
    with pytest.raises(ValueError, match=r"quantile levels must be .* in \(0, 1\)"):
        pipe.predict_quantiles(series(200), 32, quantile_levels=(0.5, 1.0))
    infinite = series(200)
    infinite[-3, 0] = np.inf
    for call in (pipe.predict, pipe.sample):
        with pytest.raises(ValueError, match="contains inf values"):
            call(infinite, 32)
