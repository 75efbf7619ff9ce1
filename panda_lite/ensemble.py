"""Forecast ensembles: the perturbed contexts behind `PandaLitePipeline.sample`, and the
analog and climatological ensembles that the evaluation scores as baselines.

A member of the pipeline's ensemble is the pipeline's own forecast of a perturbed context:
the observed steps get Gaussian noise at the context's estimated observation-noise level
(`noise_scale`), and the state at the end of the context is displaced by a Gaussian offset,
ramped in over the last `ramp_length` steps, whose per-channel scale is the forecaster's own
error over those steps when it forecast them from the steps before (a backtest, run by the
pipeline). A forecaster that knows the state well (NVAR on a clean quadratic flow) gets a
sharp ensemble, one that errs early a wide one; the chaos of the forecast map does the rest.
Members are whole forecasts, so they keep the attractor's amplitude (no averaging).

Every member draws from its own generator, seeded by (seed, a digest of its series' values,
member index): the same series gives the same members whatever else is in the batch, and
the first S members of a larger ensemble are the S-member ensemble.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from .inputs import check_batch
from .metrics import standardize
from .parroting import parrot_indices

DEFAULT_QUANTILE_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
DEFAULT_NUM_SAMPLES = 32
# End-state offsets of std SPREAD x the backtest error (chosen on held-out systems, BENCHMARKS.md).
DEFAULT_SPREAD = 2.0
MAD_TO_STD = 1.0 / 0.6744897501960817  # std of a Gaussian / its median absolute deviation


def check_levels(levels: tuple[float, ...] | list[float] | np.ndarray) -> np.ndarray:
    """Quantile levels as a (Q,) float64 array, each in (0, 1), or a ValueError."""
    array = np.asarray(levels, dtype=np.float64).reshape(-1)
    if array.size == 0 or not np.all((array > 0.0) & (array < 1.0)):
        raise ValueError(f"quantile levels must be a non-empty list of numbers in (0, 1), got {list(levels)}")
    return array


def check_seed(seed: int) -> int:
    """`seed` as an int, or a ValueError when it is not a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def noise_scale(context: np.ndarray) -> np.ndarray:
    """Observation-noise std of each channel of a (T, C) context (NaN = missing) -> (C,).

    For white noise of std s, the third difference x_{t+3} - 3 x_{t+2} + 3 x_{t+1} - x_t has
    std s sqrt(20), while a smooth signal sampled finely contributes little (h^3 x''');
    s = 1.4826 MAD(third differences) / sqrt(20), robust to the signal's rare fast stretches.
    0 for a channel with fewer than 4 consecutive observed steps.
    """
    third = np.diff(context, n=3, axis=0)
    scale = np.zeros(context.shape[1])
    for c in range(context.shape[1]):
        values = third[:, c][~np.isnan(third[:, c])]
        if values.size:
            scale[c] = MAD_TO_STD * np.median(np.abs(values - np.median(values))) / np.sqrt(20.0)
    return scale


def member_generators(seed: int, context: np.ndarray, num_members: int) -> list[np.random.Generator]:
    """One generator per member of the ensemble of a (T, C) context, from (seed, a digest of
    the context's values and missing steps, member index)."""
    digest = hashlib.blake2b(np.ascontiguousarray(context, dtype=np.float64).tobytes(), digest_size=16)
    digest.update(np.isnan(context).tobytes())
    digest.update(np.asarray(context.shape, dtype=np.int64).tobytes())
    words = np.frombuffer(digest.digest(), dtype=np.uint32).tolist()
    return [np.random.default_rng([check_seed(seed), *words, member]) for member in range(num_members)]


def perturb_context(
    context: np.ndarray,
    state_scale: np.ndarray,
    num_members: int,
    seed: int,
    ramp_length: int = 16,
) -> np.ndarray:
    """The perturbed contexts of an ensemble.

    Member m = context + e_m + w delta_m: e_m (T, C) Gaussian with each channel's
    `noise_scale`, on the observed steps; delta_m (C,) Gaussian with std `state_scale`; w a
    raised-cosine ramp from 0 to 1 over the last `ramp_length` steps (0 before them), so the
    end state moves and the earlier history does not. Missing steps stay missing.

    Args:
        context: (T, C) float64, NaN = missing.
        state_scale: (C,) std of the end-state offset, in the context's units.
        num_members: S.
        seed: non-negative int; with the context it fixes every draw (`member_generators`).
        ramp_length: steps over which the offset is ramped in.
    Returns:
        (S, T, C) float64.
    """
    steps, channels = context.shape
    state_scale = np.asarray(state_scale, dtype=np.float64)
    if state_scale.shape != (channels,) or not np.all(np.isfinite(state_scale) & (state_scale >= 0)):
        raise ValueError(f"state_scale must be {channels} finite values >= 0, got {state_scale!r}")
    ramp_steps = min(ramp_length, steps)
    ramp = np.zeros(steps)
    ramp[steps - ramp_steps :] = 0.5 - 0.5 * np.cos(np.pi * np.arange(1, ramp_steps + 1) / ramp_steps)
    noise = noise_scale(context)
    members = np.empty((num_members, steps, channels))
    for m, rng in enumerate(member_generators(seed, context, num_members)):
        members[m] = context + rng.standard_normal((steps, channels)) * noise
        members[m] += ramp[:, None] * (rng.standard_normal(channels) * state_scale)
    return members


def backtest_error(forecast: np.ndarray, truth: np.ndarray, context: np.ndarray) -> np.ndarray:
    """Per-channel RMS error (C,) of a (h, C) backtest forecast of a context's last h steps
    `truth`, over its observed steps; where a channel has none in them, the std of the whole
    (T, C) `context` (nothing was checked: the state is only known to the attractor's spread)."""
    error = (forecast - truth) ** 2
    counts = (~np.isnan(error)).sum(axis=0)
    rms = np.sqrt(np.nansum(error, axis=0) / np.maximum(counts, 1))
    return np.where(counts > 0, rms, np.nanstd(context, axis=0))


def ensemble_quantiles(samples: np.ndarray | torch.Tensor, levels: tuple[float, ...] | np.ndarray) -> np.ndarray:
    """Empirical quantiles of an ensemble (linear interpolation between order statistics, so
    they are monotone in the level): (..., S, H, C) -> (..., H, C, Q)."""
    values = np.quantile(np.asarray(samples, dtype=np.float64), check_levels(levels), axis=-3)  # (Q, ..., H, C)
    return np.moveaxis(values, 0, -1)


def analog_ensemble(context: np.ndarray, horizon: int, num_members: int, motif_length: int = 10) -> np.ndarray:
    """Analog ensemble: the continuations of context parroting's `num_members` best matches
    (`parrot_indices`: match k ends at least `motif_length` steps from every better one).

    (B, T, C) -> (B, S, H, C), in the context's units. A context with fewer distinct earlier
    windows than members repeats its first copy for the rest.
    """
    context = check_batch(context, horizon, min_length=2 * motif_length)
    z = torch.from_numpy(standardize(context, context))
    index = parrot_indices(z, torch.ones_like(z, dtype=torch.bool), motif_length, horizon, num_members).numpy()
    return np.stack([series[rows] for series, rows in zip(context, index)])  # (B, S, H, C)


def climatological_ensemble(context: np.ndarray, horizon: int, num_members: int, seed: int = 0) -> np.ndarray:
    """Climatological ensemble: members are stretches of the context itself, each starting at
    a uniformly drawn step s and continuing periodically (s, ..., T - 1, 0, 1, ...), so each
    forecast step is marginally a uniform draw of the context's states.

    (B, T, C) -> (B, S, H, C), in the context's units; draws from `member_generators`.
    """
    context = check_batch(context, horizon)
    steps = context.shape[1]
    out = np.empty((context.shape[0], num_members, horizon, context.shape[2]))
    for b, series in enumerate(context):
        starts = [rng.integers(steps) for rng in member_generators(seed, series, num_members)]
        out[b] = series[(np.array(starts)[:, None] + np.arange(horizon)) % steps]
    return out
