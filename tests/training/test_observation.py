"""Observation models of training windows: noise, observed channels, sensor maps, sampling
rates, context lengths; their config, their place in the sampler, and a tiny run with them on."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pytest
import torch
import yaml
from test_train import run_train

from panda_lite.training.config import load_config, to_dict
from panda_lite.training.observation import (
    ObservationConfig,
    add_noise,
    batch_shape,
    describe,
    resample,
    resample_stretch,
    sensor_map,
    settings,
    target_points_per_period,
)
from panda_lite.training.windows import Augmentations, WindowSampler

ALL_ON = ObservationConfig(p_noise=1.0, p_channels=1.0, p_sensor_map=1.0, p_resample=1.0, p_context_length=1.0)


class Store:
    """In-memory series with keys and (optionally) their points per period."""

    def __init__(self, arrays, points_per_period=None):
        self.arrays, self.keys = arrays, [f"s{i}" for i in range(len(arrays))]
        if points_per_period is not None:
            self.points_per_period = points_per_period

    def __len__(self):
        return len(self.arrays)

    def array(self, index):
        return self.arrays[index]


def integer_series(steps: int, channels: int, salt: int) -> np.ndarray:
    """Integer-valued channels (no transcendental functions: the same bits on every machine)."""
    t = np.arange(steps)[:, None]
    return ((t * np.arange(3, 3 + 4 * channels, 4) + salt) % 97).astype(np.float32)


def sines(steps: int, points_per_period: float) -> np.ndarray:
    phase = 2 * np.pi * np.arange(steps)[:, None] / points_per_period
    return np.concatenate([np.sin(phase), np.cos(phase), np.sin(phase) + 0.3 * np.sin(2 * phase)], axis=1)


def batch_digest(sampler: WindowSampler) -> str:
    digest = hashlib.sha256()
    for index in range(4):
        batch = sampler.batch(index, 8)
        digest.update(batch["past_values"].numpy().tobytes())
        digest.update(batch["future_values"].numpy().tobytes())
        digest.update(" ".join(batch["keys"]).encode())
    return digest.hexdigest()


# --- the functions ------------------------------------------------------------------------


def test_noise_std_is_the_requested_fraction_of_each_channels_std():
    values = np.random.default_rng(0).normal(size=(20_000, 3)) * [1.0, 2.0, 5.0]
    values[:, 1] = 4.0  # a constant channel gets no noise
    noisy = add_noise(np.random.default_rng(1), values, 0.05)
    assert noisy.shape == values.shape and noisy.dtype == values.dtype
    noise_std = (noisy - values).std(axis=0)
    assert noise_std[[0, 2]] == pytest.approx(0.05 * values[:, [0, 2]].std(axis=0), rel=0.03)
    assert np.array_equal(noisy[:, 1], values[:, 1])
    assert np.array_equal(add_noise(np.random.default_rng(1), values, 0.0), values)
    assert np.array_equal(noisy, add_noise(np.random.default_rng(1), values, 0.05))
    with pytest.raises(ValueError, match="noise fraction must be >= 0"):
        add_noise(np.random.default_rng(0), values, -0.1)


def test_sensor_map_is_smooth_strictly_increasing_and_invertible():
    x = np.tile(np.linspace(-4, 4, 4001)[:, None], (1, 3))
    y = sensor_map(np.random.default_rng(2), x, [0.5, 1.0], [0.5, 2.0])
    assert y.shape == x.shape and np.array_equal(y, sensor_map(np.random.default_rng(2), x, [0.5, 1.0], [0.5, 2.0]))
    slope = np.diff(y, axis=0) / np.diff(x, axis=0)
    assert slope.min() >= 1.0 - 1e-9 and slope.max() <= 2.0 + 1e-9  # dy/dx in [1, 1 + s], s <= 1
    assert (slope.max(axis=0) > 1.3).all()  # each channel is distorted, not the identity
    for j in range(3):  # strictly increasing: the inverse is interpolation on the graph
        assert np.allclose(np.interp(y[:, j], y[:, j], x[:, j]), x[:, j], atol=1e-9)
    assert np.array_equal(sensor_map(np.random.default_rng(0), x, [0.0, 0.0], [1.0, 1.0]), x)
    with pytest.raises(ValueError, match="sensor strength"):
        sensor_map(np.random.default_rng(0), x, [-0.5, 1.0], [1.0, 1.0])


def dominant_period(values: np.ndarray) -> float:
    """Samples per period of the strongest Fourier mode of a 1-D signal."""
    spectrum = np.abs(np.fft.rfft(values - values.mean()))
    return len(values) / np.argmax(spectrum)


def test_resampling_sets_the_points_per_period():
    values = sines(4096, 64.0)
    assert np.array_equal(resample(values, 4.0), values[::4])  # an integer factor is striding
    for target in (16.0, 25.0, 200.0):
        out = resample(values, 64.0 / target)
        assert len(out) == int(4095 * target / 64.0) + 1  # every step inside the series
        assert dominant_period(out[: int(8 * target), 0]) == pytest.approx(target, rel=0.01)
        assert np.allclose(out[:, :2], sines(len(out), target)[:, :2], atol=2e-3)  # cubic: close between samples
    stretch = resample_stretch(np.random.default_rng(0), values, 64.0 / 200.0, 1000)  # 5 periods, random phase
    assert stretch.shape == (1000, 3) and dominant_period(stretch[:, 0]) == pytest.approx(200.0)
    assert not np.allclose(stretch, resample_stretch(np.random.default_rng(1), values, 64.0 / 200.0, 1000))
    assert len(resample_stretch(np.random.default_rng(0), values, 8.0, 1000)) == 512  # what fits in the series
    with pytest.raises(ValueError, match="do not fit"):
        resample(values, 2.0, start=10.0, steps=2045)
    with pytest.raises(ValueError, match="factor > 0"):
        resample(values, 0.0)


def test_target_rate_is_log_uniform_in_range_and_keeps_the_window_inside_the_series():
    rng = np.random.default_rng(0)
    draws = np.array([target_points_per_period(rng, 128.0, 4096, 640, [16.0, 512.0]) for _ in range(2000)])
    low = 128.0 * 640 / 4095  # coarser than this, 640 steps need more than the series' 4096
    assert draws.min() >= low and draws.max() <= 512.0
    assert np.median(draws) == pytest.approx(np.sqrt(low * 512), rel=0.1)  # log-uniform
    for rate in draws[:50]:
        assert len(resample(np.zeros((4096, 1)), 128.0 / rate)) >= 640
    assert target_points_per_period(rng, 600.0, 700, 640, [16.0, 512.0]) is None  # no rate in range fits
    assert target_points_per_period(rng, float("nan"), 4096, 640, [16.0, 512.0]) is None


def test_batch_shape_draws_channels_and_context_in_range_and_nothing_when_off():
    config = ObservationConfig(p_channels=1.0, p_context_length=1.0, context_length=[64, 2048])
    rng = np.random.default_rng(0)
    shapes = [batch_shape(rng, config, 3, 512) for _ in range(500)]
    assert {c for c, _ in shapes} == {1, 2, 3}  # univariate batches included
    contexts = np.array([t for _, t in shapes])
    assert contexts.min() >= 64 and contexts.max() <= 512 and len(set(contexts)) > 100  # capped at the model's
    assert batch_shape(rng, config, None, 512)[0] is None  # every channel of the series: nothing to choose
    untouched = np.random.default_rng(5)
    state = untouched.bit_generator.state
    assert batch_shape(untouched, ObservationConfig(), 3, 512) == (3, 512)
    assert untouched.bit_generator.state == state  # probability 0 draws nothing


# --- in the sampler -----------------------------------------------------------------------


def test_defaults_leave_windows_bit_identical_to_the_sampler_without_observation_models():
    # Digests of the sampler before observation models existed (commit d97584a), on integer
    # series and the augmentations that need no BLAS (matmul rounding may differ by machine).
    store = Store([integer_series(300, 4, 0), integer_series(260, 3, 5)])
    expected = {
        "none": "76b90fbfe15642d246bd3f7fcfeb56577083ff920b01992b5be2ef93b69476a5",
        "delay": "a25840eb5a358c25070a9fe6bfb0dbae03e89298b553d75dec2ca161862bcc7b",
    }
    for name, augmentations in (
        ("none", Augmentations()),
        ("delay", Augmentations(p_delay_embedding=0.5, max_delay=5)),
    ):
        assert batch_digest(WindowSampler(store, 48, 16, 3, augmentations, seed=3)) == expected[name]
        defaults = WindowSampler(store, 48, 16, 3, augmentations, seed=3, observation=ObservationConfig())
        assert batch_digest(defaults) == expected[name] and defaults.observation_settings == {}


def test_observed_batches_are_deterministic_and_vary_in_channels_and_context():
    store = Store([sines(2000, 100.0), sines(1500, 40.0)], points_per_period=[100.0, 40.0])
    sampler = WindowSampler(store, 256, 32, 3, Augmentations(0.2, 0.2, 0.2, 5), seed=7, observation=ALL_ON)
    batches = [sampler.batch(i, 6) for i in range(12)]
    again = WindowSampler(store, 256, 32, 3, Augmentations(0.2, 0.2, 0.2, 5), seed=7, observation=ALL_ON)
    assert torch.equal(again.batch(5, 6)["past_values"], batches[5]["past_values"])  # no hidden state
    channels = {b["past_values"].shape[2] for b in batches}
    assert 1 in channels and len(channels) > 1
    for batch in batches:
        past, future = batch["past_values"], batch["future_values"]
        assert past.shape[0] == 6 and 64 <= past.shape[1] <= 256 and future.shape[1:] == (32, past.shape[2])
        assert torch.isfinite(past).all() and torch.isfinite(future).all()
    assert len({b["past_values"].shape[1] for b in batches}) > 1
    assert sampler.observation_settings["context_length"]["steps"] == [64, 256]


def test_resampled_windows_show_the_drawn_rate():
    # One model only, so the window is the resampled sine itself (z-scored): its period is the target.
    store = Store([sines(8192, 64.0)], points_per_period=[64.0])
    observation = ObservationConfig(p_resample=1.0, points_per_period=[20.0, 20.0])
    sampler = WindowSampler(store, 480, 32, 3, Augmentations(), seed=0, observation=observation)
    window = sampler.batch(0, 1)["past_values"][0].numpy()  # 24 periods of 20 steps
    assert [dominant_period(window[:, j]) for j in range(3)] == pytest.approx([20.0] * 3)
    with pytest.raises(ValueError, match="needs the series' points per period"):
        WindowSampler(Store([sines(600, 64.0)]), 64, 16, 3, Augmentations(), seed=0, observation=observation)


def test_univariate_batches_from_a_one_channel_sampler():
    observation = ObservationConfig(p_noise=1.0, p_sensor_map=1.0)
    sampler = WindowSampler(
        Store([sines(600, 50.0)]), 64, 16, 1, Augmentations(p_affine=0.5), seed=0, observation=observation
    )
    batch = sampler.batch(0, 4)
    assert batch["past_values"].shape == (4, 64, 1) and batch["future_values"].shape == (4, 16, 1)


# --- config, summary, card ----------------------------------------------------------------


def test_observation_config_keys_overrides_and_errors():
    config = load_config("tiny", ["data.observation.p_noise=0.5", "data.observation.noise_fraction=[0, 0.05]"])
    assert config.data.observation.p_noise == 0.5 and config.data.observation.noise_fraction == [0, 0.05]
    assert to_dict(load_config("tiny"))["data"]["observation"] == dataclasses.asdict(ObservationConfig())
    for override, message in (
        ("data.observation.p_sensor_map=1.5", r"'data.observation.p_sensor_map': is a probability"),
        ("data.observation.noise_fraction=[0.2, 0.1]", r"'data.observation.noise_fraction': must be a range"),
        ("data.observation.noise_fraction=0.1", r"'data.observation.noise_fraction': expected list"),
        ("data.observation.min_channels=4", r"must be in \[1, data.num_channels=3\]"),
        ("data.observation.context_length=[64.5, 100]", "range .* of integers"),
        ("data.observation.points_per_period=[0, 100]", "points_per_period"),
        ("data.observation.p_nois=0.1", r"did you mean 'data.observation.p_noise'"),
    ):
        with pytest.raises(ValueError, match=message):
            load_config("tiny", [override])


def test_mini_observed_is_mini_with_observation_models_on():
    mini, observed = to_dict(load_config("mini")), to_dict(load_config("mini_observed"))
    assert observed["data"].pop("observation") != mini["data"].pop("observation")
    assert {**observed, "output_dir": mini["output_dir"]} == mini  # every other key as in mini.yaml
    applied = settings(load_config("mini_observed").data.observation, 3, 512)
    assert set(applied) == {"noise", "channels", "sensor_map", "resample", "context_length"}
    assert applied["context_length"]["steps"] == [64, 512]
    assert describe({}) == "Observation models: none." and "resampling p=0.5" in describe(applied)


def test_tiny_run_with_observation_models_records_them(corpus, tmp_path):
    models = [f"data.observation.{key}=0.5" for key in ("p_noise", "p_channels", "p_sensor_map", "p_resample")]
    contexts = ["data.observation.p_context_length=0.5", "data.observation.context_length=[32, 2048]"]
    summary = run_train(corpus, tmp_path, *models, *contexts, "max_steps=4")
    assert summary["steps"] == 4 and np.isfinite(summary["validation_loss"])
    assert summary["observation"]["context_length"] == {"p": 0.5, "steps": [32, 64]}  # tiny's context is 64
    saved = json.loads((tmp_path / "model" / "training_summary.json").read_text())
    assert saved["observation"] == summary["observation"] and set(saved["observation"]) == {
        "noise",
        "channels",
        "sensor_map",
        "resample",
        "context_length",
    }
    card = (tmp_path / "model" / "README.md").read_text()
    assert "Observation models (training windows only" in card and "measurement noise p=0.5" in card
    dumped = yaml.safe_load(card.split("```yaml\n")[1].split("```")[0])
    assert dumped["data"]["observation"]["p_resample"] == 0.5
