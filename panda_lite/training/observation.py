"""Observation models of training windows: how a sensor, not the simulator, sees a trajectory.

Real series are measured with noise, on a few of the state's coordinates, through nonlinear
sensors, at some sampling rate, and come with contexts of any length. `WindowSampler` applies
these models while it draws a window, each with its probability, from the window's own
generator, so a batch stays a pure function of (seed, stream, rank, batch index). Per batch
(every sample of a batch shares them, as the model needs equal shapes): the number of observed
channels and the context length. Per sample: the sampling rate (before the window is cut), the
sensor map and the noise (after). Every function is numpy on time-first (T, C) arrays and draws
only from the Generator it is given; a probability of 0 draws nothing, so the defaults (all 0)
leave every window bit for bit as without them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SENSOR_CENTRE = 1.0  # the sensor map's inflection point x0 ~ U(-1, 1), in channel stds of the window
PHRASES = {  # the card's words for each model of `settings`
    "noise": "measurement noise p={p}, std {fraction_of_std} of each channel's std",
    "channels": "observed channels p={p}, {observed} per batch",
    "sensor_map": "monotone sensor map p={p}, strength {strength}, sharpness {sharpness}",
    "resample": "resampling p={p} to {points_per_period} points per period",
    "context_length": "context length p={p}, {steps} steps per batch",
}


@dataclass
class ObservationConfig:
    """Probabilities and ranges of the observation models (the `data.observation` config section).

    A range is `[low, high]`; "log-uniform" draws are uniform in log(value).
    """

    # Measurement noise, per sample: Gaussian, std = fraction x each channel's std over the window.
    p_noise: float = 0.0  # probability a sample is noisy
    noise_fraction: list[float] = field(default_factory=lambda: [0.0, 0.1])  # the fraction, uniform
    # Observed channels, per batch.
    p_channels: float = 0.0  # probability a batch's channel count is drawn, else it is data.num_channels
    min_channels: int = 1  # the count is uniform in [min_channels, data.num_channels]; 1: univariate series
    # Sensor map, per sample and channel: y = x + s tanh(c (x - x0)) / c on the z-scored window,
    # which is re-standardised after it.
    p_sensor_map: float = 0.0  # probability a sample is seen through a sensor map
    sensor_strength: list[float] = field(default_factory=lambda: [0.0, 1.0])  # s, uniform: dy/dx in [1, 1 + s]
    sensor_sharpness: list[float] = field(default_factory=lambda: [0.5, 2.0])  # c, log-uniform: 1 / c is the
    #                                                          width (in stds) of the stretched band
    # Sampling rate, per sample: resampled from the series' stored points per period.
    p_resample: float = 0.0  # probability a sample is resampled
    points_per_period: list[float] = field(default_factory=lambda: [16.0, 512.0])  # target rate, log-uniform;
    #                                    its low end is raised where the series is too short for the window
    # Context length, per batch.
    p_context_length: float = 0.0  # probability a batch's context length is drawn, else it is the model's
    context_length: list[int] = field(default_factory=lambda: [64, 2048])  # steps, log-uniform, capped at the
    #                                    model's context_length; low must be >= the model's patch_length


def applies(rng: np.random.Generator, probability: float) -> bool:
    """One Bernoulli(probability) draw; probability 0 draws nothing (the generator is untouched)."""
    return probability > 0 and bool(rng.random() < probability)


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """A draw uniform in log between low and high (0 < low <= high)."""
    if not 0 < low <= high:
        raise ValueError(f"log-uniform range must have 0 < low <= high, got [{low}, {high}]")
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def channel_range(config: ObservationConfig, num_channels: int) -> tuple[int, int]:
    """The [low, high] observed channels of a batch when the channel model applies."""
    return min(config.min_channels, num_channels), num_channels


def context_range(config: ObservationConfig, context_length: int) -> tuple[int, int]:
    """The [low, high] context steps of a batch when the context model applies, capped at the model's."""
    low, high = config.context_length
    return min(low, context_length), min(high, context_length)


def batch_shape(
    rng: np.random.Generator, config: ObservationConfig, num_channels: int | None, context_length: int
) -> tuple[int | None, int]:
    """The (observed channels, context length) of one batch: the sampler's own (`num_channels`,
    None for every channel of the series, and `context_length`) unless a model applies."""
    channels, context = num_channels, context_length
    if num_channels is not None and applies(rng, config.p_channels):
        low, high = channel_range(config, num_channels)
        channels = int(rng.integers(low, high + 1))
    if applies(rng, config.p_context_length):
        context = int(round(log_uniform(rng, *context_range(config, context_length))))
    return channels, context


def add_noise(rng: np.random.Generator, values: np.ndarray, fraction: float) -> np.ndarray:
    """values (T, C) + Gaussian noise whose std is `fraction` of each channel's std -> (T, C),
    same dtype (a constant channel stays noise-free)."""
    if fraction < 0:
        raise ValueError(f"noise fraction must be >= 0, got {fraction}")
    scale = fraction * values.std(axis=0)
    return (values + rng.normal(size=values.shape) * scale).astype(values.dtype)


def sensor_map(
    rng: np.random.Generator, values: np.ndarray, strength: list[float], sharpness: list[float]
) -> np.ndarray:
    """A random smooth, strictly increasing map of each channel of z-scored values (T, C) -> (T, C):
    y = x + s tanh(c (x - x0)) / c with s ~ U(strength), c ~ log-U(sharpness), x0 ~ U(-1, 1).

    Its slope 1 + s sech^2(c (x - x0)) lies in [1, 1 + s], so the map is a diffeomorphism of
    the line: a sensor that stretches values near x0 against the rest, never folding them."""
    if not 0 <= strength[0] <= strength[1]:
        raise ValueError(f"sensor strength range must have 0 <= low <= high, got {strength}")
    channels = values.shape[1]
    s = rng.uniform(strength[0], strength[1], size=channels)
    c = np.array([log_uniform(rng, *sharpness) for _ in range(channels)])
    x0 = rng.uniform(-SENSOR_CENTRE, SENSOR_CENTRE, size=channels)
    return values + s * np.tanh(c * (values - x0)) / c


def resample(values: np.ndarray, factor: float, start: float = 0.0, steps: int | None = None) -> np.ndarray:
    """values (T, C) read every `factor` steps (> 1 coarser, < 1 finer) from fractional step
    `start`: rows at start + factor * j for j < steps (default: all inside the series) -> (steps, C).

    Cubic (Catmull-Rom) interpolation between steps: exact at whole steps, so an integer factor
    from a whole start is plain striding."""
    last = len(values) - 1
    if last < 1:
        raise ValueError(f"resampling needs a series of at least 2 steps, got {last + 1}")
    if not factor > 0 or start < 0:
        raise ValueError(f"resampling needs factor > 0 and start >= 0, got factor {factor}, start {start}")
    if steps is None:
        steps = int(math.floor((last - start) / factor + 1e-9)) + 1
    positions = start + factor * np.arange(steps)
    if steps < 1 or start + factor * (steps - 1) > last + 1e-6:
        raise ValueError(f"{steps} steps every {factor} from {start} do not fit in a series of {last + 1} steps")
    base = np.minimum(np.floor(positions).astype(np.int64), last)
    t = (positions - base)[:, None]
    weights = (
        ((-0.5 * t + 1.0) * t - 0.5) * t,
        (1.5 * t - 2.5) * t * t + 1.0,
        ((-1.5 * t + 2.0) * t + 0.5) * t,
        (0.5 * t - 0.5) * t * t,
    )
    before, at, after, next_after = (values[np.clip(base + offset, 0, last)] for offset in (-1, 0, 1, 2))
    # Beyond either end, the missing neighbour continues the end segment linearly.
    before = np.where((base == 0)[:, None], 2 * at - after, before)
    next_after = np.where((base + 2 > last)[:, None], 2 * after - at, next_after)
    return weights[0] * before + weights[1] * at + weights[2] * after + weights[3] * next_after


def resample_stretch(rng: np.random.Generator, values: np.ndarray, factor: float, steps: int) -> np.ndarray:
    """A stretch of `steps` rows (fewer when the series is too short) of values (T, C) read every
    `factor` steps from a uniformly random fractional start -> (steps', C). Resampling only the
    stretch a window needs keeps fine rates cheap."""
    last = len(values) - 1
    steps = min(steps, int(math.floor(last / factor + 1e-9)) + 1)
    return resample(values, factor, rng.uniform(0.0, max(0.0, last - (steps - 1) * factor)), steps)


def target_points_per_period(
    rng: np.random.Generator, points_per_period: float, steps: int, length: int, target: list[float]
) -> float | None:
    """A log-uniform sampling rate in `target` for a series of `steps` steps at `points_per_period`,
    raised so that a window of `length` steps still fits; None when no rate in `target` fits (or
    the stored rate is unknown)."""
    if not (math.isfinite(points_per_period) and points_per_period > 0):
        return None
    low = max(target[0], points_per_period * length / max(steps - 1, 1))
    return log_uniform(rng, low, target[1]) if low <= target[1] else None


def settings(config: ObservationConfig, num_channels: int | None, context_length: int) -> dict:
    """The models a sampler applies, with their probabilities and effective ranges (for the run
    summary and the model card); {} when none is on."""
    applied: dict[str, dict] = {}
    if config.p_noise > 0:
        applied["noise"] = {"p": config.p_noise, "fraction_of_std": list(config.noise_fraction)}
    if config.p_channels > 0 and num_channels is not None:
        applied["channels"] = {"p": config.p_channels, "observed": list(channel_range(config, num_channels))}
    if config.p_sensor_map > 0:
        applied["sensor_map"] = {
            "p": config.p_sensor_map,
            "strength": list(config.sensor_strength),
            "sharpness": list(config.sensor_sharpness),
        }
    if config.p_resample > 0:
        applied["resample"] = {"p": config.p_resample, "points_per_period": list(config.points_per_period)}
    if config.p_context_length > 0:
        steps = list(context_range(config, context_length))
        applied["context_length"] = {"p": config.p_context_length, "steps": steps}
    return applied


def describe(applied: dict) -> str:
    """One sentence for the model card from `settings`."""
    if not applied:
        return "Observation models: none."
    text = "; ".join(PHRASES[name].format(**values) for name, values in applied.items())
    return f"Observation models (training windows only; validation windows are clean): {text}."
