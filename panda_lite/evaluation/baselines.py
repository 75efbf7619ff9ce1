"""Baseline forecasters sharing one interface with the model.

Every method is a callable `forecast(context, horizon) -> prediction` with context of shape
(B, T, C) and prediction (B, H, C), both float arrays in the context's units, so the harness
scores every method alike. `ModelForecaster` wraps a `PandaLitePipeline`.
"""

from __future__ import annotations

from itertools import combinations_with_replacement
from typing import Any, Callable

import numpy as np
import torch

from ..modeling_panda_lite import parrot_indices
from .data import standardize

Forecaster = Callable[[np.ndarray, int], np.ndarray]


def _check_context(context: np.ndarray, horizon: int, min_length: int = 1) -> np.ndarray:
    context = np.asarray(context, dtype=np.float64)
    if context.ndim != 3:
        raise ValueError(f"context must have shape (B, T, C), got {context.shape}")
    if context.shape[1] < min_length:
        raise ValueError(f"context needs at least {min_length} time steps, got {context.shape[1]}")
    if not np.all(np.isfinite(context)):
        raise ValueError("context contains NaN or inf")
    if int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    return context


def last_value(context: np.ndarray, horizon: int) -> np.ndarray:
    """Persistence: repeat the last observed state. (B, T, C) -> (B, H, C)."""
    context = _check_context(context, horizon)
    return np.repeat(context[:, -1:], horizon, axis=1)


def context_mean(context: np.ndarray, horizon: int) -> np.ndarray:
    """Climatology: repeat each channel's context mean. (B, T, C) -> (B, H, C)."""
    context = _check_context(context, horizon)
    return np.repeat(context.mean(axis=1, keepdims=True), horizon, axis=1)


class ContextParroting:
    """Context parroting (Zhang & Gilpin, arXiv 2505.11349): copy what followed the best
    earlier match of the last D points, tiled to the horizon.

    With context x_1..x_L (1-indexed), the query is x_{L-D+1:L}; candidates are all length-D
    windows ending at s in [D, L-D] (so none overlaps the query); s* is the single nearest
    neighbour in Euclidean distance over all channels of the z-scored context (the channels
    are one state, so the match is on the state, not per channel). The continuation
    x_{s*+1:L} (length L - s*, including the last context point) is tiled periodically:
    forecast_h = x_{s*+1+((h-1) mod (L-s*))}, h = 1..H. For a signal of period P this is
    exact: s* = L - P and the copy is the last period.

    The reference code copies `data[best:-1]`, which drops the last context point and so
    shifts the period by one; we follow the paper's algorithm instead.

    D = 10 follows the paper's scaling experiments (their dysts benchmark uses 5 at 30
    points per Lyapunov time; we sample 128 points per period, finer, which favours the
    larger motif).
    """

    def __init__(self, motif_length: int = 10):
        if motif_length < 1:
            raise ValueError(f"motif_length must be >= 1, got {motif_length}")
        self.motif_length = motif_length

    def __call__(self, context: np.ndarray, horizon: int) -> np.ndarray:
        d = self.motif_length
        context = _check_context(context, horizon, min_length=2 * d)
        # Matching on the z-scored context (float64 here); the copy is of the raw values.
        z = torch.from_numpy(standardize(context, context))
        index = parrot_indices(z, torch.ones_like(z, dtype=torch.bool), d, horizon)[:, 0].numpy()  # (B, H)
        return np.take_along_axis(context, index[:, :, None], axis=1)


class NVAR:
    """Next-generation reservoir computer (Gauthier et al. 2021), fitted on the context.

    Features at time t: [1, u_t, u_{t-s}, ..., u_{t-(k-1)s}, all unique quadratic
    monomials of that linear part], u the z-scored state. A ridge regression
    W = argmin ||F W - (u_{t+1} - u_t)||^2 + ridge ||W||^2 is fitted per series on its own
    context, then rolled out autoregressively: u_{t+1} = u_t + f_t W.

    A fitted map can diverge; each rolled-out state is clipped to the context's z-range
    widened by `clip_margin` ranges on each side, so a diverging NVAR yields a finite, bad
    forecast rather than inf/NaN. If the fit itself is singular or non-finite the series
    falls back to persistence (`last_value`).
    """

    def __init__(self, delays: int = 2, stride: int = 1, ridge: float = 1e-4, clip_margin: float = 1.0):
        if delays < 1 or stride < 1 or ridge < 0 or clip_margin < 0:
            raise ValueError(
                f"need delays >= 1, stride >= 1, ridge >= 0, clip_margin >= 0; "
                f"got {delays}, {stride}, {ridge}, {clip_margin}"
            )
        self.delays, self.stride, self.ridge, self.clip_margin = delays, stride, ridge, clip_margin

    def _features(self, lagged: np.ndarray) -> np.ndarray:
        """(..., k C) linear part -> (..., 1 + kC + kC(kC+1)/2) NVAR features."""
        pairs = list(combinations_with_replacement(range(lagged.shape[-1]), 2))
        i, j = np.array(pairs).T
        const = np.ones(lagged.shape[:-1] + (1,))
        return np.concatenate([const, lagged, lagged[..., i] * lagged[..., j]], axis=-1)

    def _lagged(self, u: np.ndarray, end: int) -> np.ndarray:
        """Linear part ending at index `end` (inclusive): u_end, u_{end-s}, ... -> (B, k C)."""
        idx = end - self.stride * np.arange(self.delays)
        return u[:, idx].reshape(u.shape[0], -1)

    def __call__(self, context: np.ndarray, horizon: int) -> np.ndarray:
        span = (self.delays - 1) * self.stride
        context = _check_context(context, horizon, min_length=span + 3)
        mean = context.mean(axis=1, keepdims=True)
        std = context.std(axis=1, keepdims=True)
        std = np.where(std > 0, std, 1.0)
        u = (context - mean) / std
        batch, length, _ = u.shape

        # Training pairs: features at t = span .. L-2, targets u_{t+1} - u_t.
        lagged = np.stack([self._lagged(u, t) for t in range(span, length - 1)], axis=1)
        feats = self._features(lagged)  # (B, N, F)
        targets = u[:, span + 1 :] - u[:, span:-1]  # (B, N, C)
        gram = feats.transpose(0, 2, 1) @ feats + self.ridge * np.eye(feats.shape[-1])
        rhs = feats.transpose(0, 2, 1) @ targets
        try:
            weights = np.linalg.solve(gram, rhs)  # (B, F, C)
        except np.linalg.LinAlgError:
            weights = np.full(rhs.shape, np.nan)
        ok = np.all(np.isfinite(weights), axis=(1, 2))
        weights[~ok] = 0.0  # zero update == persistence

        lo, hi = u.min(axis=1), u.max(axis=1)
        margin = self.clip_margin * (hi - lo)
        lo, hi = lo - margin, hi + margin
        history = np.concatenate([u[:, -(span + 1) :], np.empty((batch, horizon, u.shape[2]))], axis=1)
        for h in range(horizon):
            t = span + h
            step = np.einsum("bf,bfc->bc", self._features(self._lagged(history, t)), weights)
            history[:, t + 1] = np.clip(history[:, t] + step, lo, hi)
        return history[:, span + 1 :] * std + mean


class ModelForecaster:
    """Adapts a `PandaLitePipeline` to the forecaster interface (rollout beyond the native
    prediction length is the pipeline's job)."""

    def __init__(self, pipeline: Any, batch_size: int = 32):
        self.pipeline = pipeline
        self.batch_size = batch_size

    def __call__(self, context: np.ndarray, horizon: int) -> np.ndarray:
        context = _check_context(context, horizon)
        pred = self.pipeline.predict(context.astype(np.float32), horizon, batch_size=self.batch_size)
        return np.asarray(pred, dtype=np.float64).reshape(context.shape[0], horizon, context.shape[2])


def default_baselines(motif_length: int = 10, nvar_delays: int = 2) -> dict[str, Forecaster]:
    """The baselines every evaluation scores, by display name."""
    return {
        "last_value": last_value,
        "mean": context_mean,
        f"parrot_D{motif_length}": ContextParroting(motif_length),
        "nvar": NVAR(delays=nvar_delays),
    }
