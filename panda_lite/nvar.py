"""Next-generation reservoir computing (NVAR) fitted in context: the pipeline's expert and an
evaluation baseline."""

from __future__ import annotations

import functools
from itertools import combinations_with_replacement

import numpy as np

from .inputs import check_batch
from .metrics import context_scale

MAX_FEATURES = 4096  # a 4096 x 4096 Gram matrix per series (134 MB): about 44 channels at 2 delays


@functools.cache
def _quadratic_pairs(width: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i <= j) of the unique quadratic monomials of `width` linear features."""
    i, j = np.array(list(combinations_with_replacement(range(width), 2))).T
    return i, j


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

    def _features(self, lagged: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """(..., k C) linear part -> (..., 1 + kC + kC(kC+1)/2) NVAR features (into `out`, if given)."""
        width = lagged.shape[-1]
        i, j = _quadratic_pairs(width)
        if out is None:
            out = np.empty(lagged.shape[:-1] + (1 + width + len(i),))
        out[..., 0] = 1.0
        out[..., 1 : 1 + width] = lagged
        np.multiply(lagged[..., i], lagged[..., j], out=out[..., 1 + width :])
        return out

    def _lagged(self, u: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Linear parts ending at each index of `ends` (inclusive): u_end, u_{end-s}, ... ->
        (B, len(ends), k C)."""
        index = ends[:, None] - self.stride * np.arange(self.delays)  # (N, k)
        return u[:, index].reshape(u.shape[0], len(ends), -1)

    def num_features(self, channels: int) -> int:
        """Features per step: 1 + kC linear + kC(kC+1)/2 quadratic."""
        linear = self.delays * channels
        return 1 + linear + linear * (linear + 1) // 2

    def __call__(self, context: np.ndarray, horizon: int) -> np.ndarray:
        span = (self.delays - 1) * self.stride
        context = check_batch(context, horizon, min_length=span + 3)
        features = self.num_features(context.shape[2])
        if features > MAX_FEATURES:
            raise ValueError(
                f"NVAR with {self.delays} delays on {context.shape[2]} channels would fit {features} features per "
                f"series (at most {MAX_FEATURES}: its Gram matrix grows as their square); use fewer channels or delays"
            )
        mean, std = context_scale(context)
        u = (context - mean) / std
        batch, length, _ = u.shape

        # Training pairs: features at t = span .. L-2, targets u_{t+1} - u_t.
        feats = self._features(self._lagged(u, np.arange(span, length - 1)))  # (B, N, F)
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
        taps = span - self.stride * np.arange(self.delays)  # the linear part's steps, relative to h
        step_features = np.empty((batch, feats.shape[-1]))
        for h in range(horizon):
            lagged = history[:, h + taps].reshape(batch, -1)
            step = np.einsum("bf,bfc->bc", self._features(lagged, out=step_features), weights)
            history[:, span + h + 1] = np.clip(history[:, span + h] + step, lo, hi)
        return history[:, span + 1 :] * std + mean
