"""Window transforms: standardisation, channel subsets, delay embedding, convex and affine mixes."""

from __future__ import annotations

import numpy as np
import pytest

from panda_lite.training.augment import affine_mix, choose_channels, convex_mix, delay_embedding
from panda_lite.training.windows import Augmentations, WindowSampler, standardise


def series(steps: int = 200, channels: int = 4) -> np.ndarray:
    t = np.arange(steps)[:, None]
    return (np.sin(0.1 * t * np.arange(1, channels + 1)) * np.arange(1, channels + 1) + 5.0).astype(np.float32)


def test_standardise_zero_mean_unit_std_and_constant_channels_stay_finite():
    values = series()
    values[:, 1] = 3.0
    out = standardise(values)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert np.allclose(out[:, [0, 2, 3]].mean(0), 0, atol=1e-5) and np.allclose(out[:, [0, 2, 3]].std(0), 1, atol=1e-4)
    assert np.all(out[:, 1] == 0)
    window = standardise(values[:50], reference=values)  # statistics of the whole series
    assert np.allclose(window, out[:50], atol=1e-5)


def test_choose_channels_is_a_seeded_subset():
    values = series()
    a = choose_channels(np.random.default_rng(3), values, 3)
    b = choose_channels(np.random.default_rng(3), values, 3)
    assert a.shape == (200, 3) and np.array_equal(a, b)
    assert all(any(np.array_equal(a[:, i], values[:, j]) for j in range(4)) for i in range(3))
    with pytest.raises(ValueError, match="cannot choose 5"):
        choose_channels(np.random.default_rng(0), values, 5)


def test_convex_mix_stays_within_the_channel_envelope():
    values = series()
    mixed = convex_mix(np.random.default_rng(0), values, 3)
    assert mixed.shape == (200, 3)
    assert np.all(mixed <= values.max(1, keepdims=True) + 1e-5) and np.all(
        mixed >= values.min(1, keepdims=True) - 1e-5
    )


def test_affine_mix_is_an_affine_map_of_the_channels():
    values = series()
    mixed = affine_mix(np.random.default_rng(0), values, 3)
    design = np.column_stack([values, np.ones(len(values))])
    coefficients, residual, *_ = np.linalg.lstsq(design, mixed, rcond=None)
    assert mixed.shape == (200, 3) and np.allclose(design @ coefficients, mixed, atol=1e-4)


def test_delay_embedding_columns_are_lagged_copies():
    values = series()
    embedded = delay_embedding(values, start=20, length=50, coordinate=2, lag=4, k=3)
    assert embedded.shape == (50, 3)
    for j in range(3):
        assert np.array_equal(embedded[:, j], values[20 - 4 * j : 70 - 4 * j, 2])
    with pytest.raises(ValueError, match="leaves the trajectory"):
        delay_embedding(values, start=5, length=50, coordinate=0, lag=4, k=3)


class OneSeries:
    def __init__(self, values):
        self.values, self.keys = values, ["s"]

    def __len__(self):
        return 1

    def array(self, index):
        return self.values


@pytest.mark.parametrize(
    "augmentations",
    [
        Augmentations(p_delay_embedding=1.0),
        Augmentations(p_convex=1.0),
        Augmentations(p_affine=1.0),
        Augmentations(),
    ],
)
def test_every_augmentation_yields_standardised_windows_of_k_channels(augmentations):
    sampler = WindowSampler(OneSeries(series(300)), 48, 16, 3, augmentations, seed=0)
    batch = sampler.batch(0, 16)
    windows = np.concatenate([batch["past_values"].numpy(), batch["future_values"].numpy()], axis=1)
    assert windows.shape == (16, 64, 3) and np.isfinite(windows).all()
    assert np.abs(windows.mean(axis=1)).max() < 3.0  # z-scored (by the series or window statistics)


def test_delay_embedding_sample_holds_lagged_copies_of_one_coordinate():
    values = series(300)
    sampler = WindowSampler(OneSeries(values), 48, 16, 3, Augmentations(p_delay_embedding=1.0, max_delay=5), seed=1)
    batch = sampler.batch(0, 1)
    window = np.concatenate([batch["past_values"].numpy(), batch["future_values"].numpy()], axis=1)[0]
    # Column j is column 0 delayed by j lags: find the lag from column 1, then check column 2.
    lag = next(lag for lag in range(1, 6) if np.allclose(window[:-lag, 0], window[lag:, 1], atol=1e-5))
    assert np.allclose(window[: -2 * lag, 0], window[2 * lag :, 2], atol=1e-5)


def test_a_series_with_too_few_channels_is_delay_embedded():
    # A univariate series (a delay equation, one lattice site) still trains 3-channel samples:
    # always as a delay embedding, whatever augmentation was drawn.
    values = series(300, channels=1)
    sampler = WindowSampler(OneSeries(values), 48, 16, 3, Augmentations(p_convex=1.0, max_delay=5), seed=2)
    for index in range(4):
        window = np.concatenate(
            [part.numpy() for part in (sampler.batch(index, 1)[k] for k in ("past_values", "future_values"))], axis=1
        )[0]
        lag = next(lag for lag in range(1, 6) if np.allclose(window[:-lag, 0], window[lag:, 1], atol=1e-5))
        assert np.allclose(window[: -2 * lag, 0], window[2 * lag :, 2], atol=1e-5)
    # No room for delayed copies: the channel is repeated.
    short = WindowSampler(OneSeries(values[:64]), 48, 16, 3, Augmentations(), seed=0).batch(0, 1)["past_values"][0]
    assert short.shape == (48, 3) and (short == short[:, :1]).all()
