"""Per-sample transforms of trajectory windows (numpy, time-first (T, C)).

Every function draws from an explicit `numpy.random.Generator`, so a sample is a pure
function of the generator's seed. The mixes follow Panda's augmentations: they create new
observables of the same attractor, which teaches the model that channels are arbitrary
measurements rather than fixed state coordinates.
"""

from __future__ import annotations

import numpy as np


def choose_channels(rng: np.random.Generator, values: np.ndarray, k: int) -> np.ndarray:
    """A random subset of k of the C channels of (T, C), in random order -> (T, k)."""
    if values.shape[1] < k:
        raise ValueError(f"cannot choose {k} channels from a series with {values.shape[1]}")
    return values[:, rng.choice(values.shape[1], size=k, replace=False)]


def convex_mix(rng: np.random.Generator, values: np.ndarray, k: int) -> np.ndarray:
    """k random convex combinations of the C channels (mixing rows ~ Dirichlet(1)) -> (T, k)."""
    weights = rng.dirichlet(np.ones(values.shape[1]), size=k)  # (k, C), rows sum to 1
    return values @ weights.T


def affine_mix(rng: np.random.Generator, values: np.ndarray, k: int) -> np.ndarray:
    """y = A x + b with A (k, C), b (k,) ~ N(0, 1/C) -> (T, k)."""
    c = values.shape[1]
    matrix = rng.normal(0.0, 1.0 / np.sqrt(c), size=(k, c))
    offset = rng.normal(0.0, 1.0 / np.sqrt(c), size=k)
    return values @ matrix.T + offset


def delay_embedding(values: np.ndarray, start: int, length: int, coordinate: int, lag: int, k: int) -> np.ndarray:
    """Time-delay (Takens) embedding of one coordinate: columns x(t), x(t - lag), ...,
    x(t - (k-1) lag) for t in [start, start + length) -> (length, k).

    Needs `start >= (k - 1) * lag` so every delayed copy lies inside the trajectory.
    """
    if start < (k - 1) * lag or start + length > len(values):
        raise ValueError(
            f"delay window [{start - (k - 1) * lag}, {start + length}) leaves the trajectory of {len(values)} steps"
        )
    series = values[:, coordinate]
    return np.stack([series[start - j * lag : start - j * lag + length] for j in range(k)], axis=1)
