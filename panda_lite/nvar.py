"""Next-generation reservoir computing (NVAR) fitted in context: the pipeline's expert and an
evaluation baseline."""

from __future__ import annotations

import functools
from itertools import combinations_with_replacement

import numpy as np
import torch
from einops import rearrange
from numpy.lib.stride_tricks import sliding_window_view

from .inputs import check_batch
from .metrics import context_scale

MAX_FEATURES = 4096  # a 4096 x 4096 Gram matrix per series (134 MB): about 44 channels at 2 delays


@functools.cache
def _blas_threads():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread(fit):
    """Runs `fit` with numpy's BLAS on one thread. The fits' products and solves are small and
    per row; OpenBLAS would spread each over every core, which costs more than it gains and,
    with the other cores busy, doubled a one-series forecast's time (BENCHMARKS.md)."""

    @functools.wraps(fit)
    def wrapper(*args, **kwargs):
        with _blas_threads().limit(limits=1, user_api="blas"):
            return fit(*args, **kwargs)

    return wrapper


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

    @_one_blas_thread
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


def nvar_tokens_forecast(
    normalised: torch.Tensor,
    observed: torch.Tensor,
    delays: int,
    horizon: int,
    ridge: float = 1e-4,
    clip_margin: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The NVAR forecast and backtest the forecaster reads as tokens (batched, mask-aware).

    The quadratic NVAR of `NVAR` (delay taps 1 step apart, on the model's normalised scale),
    fitted by weighted ridge regression on every step whose taps and successor are observed in all channels, then
    rolled out, each step clipped to the fitted context's per-channel range widened by
    `clip_margin` of it. It runs twice per row: on the whole context (the forecast) and on the
    context without its last `horizon` steps (the backtest, scored on those steps).

    Args:
        normalised, observed: (B, L, C) normalised context (left-padded) and observed mask.

    Returns:
        forecast (B, horizon, C) in `normalised`'s dtype; backtest mean absolute error
        (B, C), on the normalised scale; available (B,) bool: both fits had at least twice as
        many observed rows as features, and the last steps were observed (elsewhere the
        forecast is not meaningful and the caller must not use it).
    """
    batch, length, _ = normalised.shape
    # Each row is fitted on its span after its left padding (leading steps with a gap), in
    # groups of equal span: the regression's sums then never include a batch's padding, whose
    # extra zero terms would change their rounding, so a series' tokens are the same bits alone
    # and in any batch. A row with too little data keeps a minimal span (it is unavailable).
    lead = (~observed.all(dim=2)).to(torch.int64).cumprod(dim=1).sum(dim=1)  # (B,)
    start = lead.clamp(max=max(0, length - (horizon + delays + 2)))
    forecast = torch.empty(batch, horizon, normalised.shape[2], dtype=normalised.dtype, device=normalised.device)
    error = torch.empty(batch, normalised.shape[2], dtype=normalised.dtype, device=normalised.device)
    available = torch.empty(batch, dtype=torch.bool, device=normalised.device)
    for s in torch.unique(start).tolist():
        rows = torch.nonzero(start == s)[:, 0]
        forecast[rows], error[rows], available[rows] = _nvar_tokens_fit(
            normalised[rows, s:], observed[rows, s:], delays, horizon, ridge, clip_margin
        )
    return forecast, error, available


def _features(lagged: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """(..., k C) linear part -> (..., 1 + kC + (kC)^2) features of the NVAR tokens: every
    product u_a u_b, both orders (no gather: 3x faster per rollout step than the unique
    monomials; ridge splits a weight evenly between the two copies). Into `out`, if given."""
    width = lagged.shape[-1]
    if out is None:
        out = np.empty(lagged.shape[:-1] + (1 + width + width * width,))
    out[..., 0] = 1.0
    out[..., 1 : 1 + width] = lagged
    np.multiply(lagged[..., :, None], lagged[..., None, :], out=out[..., 1 + width :].reshape(lagged.shape + (width,)))
    return out


def _solve_rows(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """(B, F, F), (B, F, C) -> (B, F, C): one LAPACK solve per row (numpy loops over the
    stack, so a row's bits do not depend on its batch); NaN for a row that is singular."""
    try:
        return np.linalg.solve(gram, rhs)
    except np.linalg.LinAlgError:  # one bad row fails the stack: solve them one by one
        out = np.full(rhs.shape, np.nan)
        for i, (g, r) in enumerate(zip(gram, rhs)):
            try:
                out[i] = np.linalg.solve(g, r)
            except np.linalg.LinAlgError:
                pass
        return out


@_one_blas_thread
def _nvar_tokens_fit(
    normalised: torch.Tensor, observed: torch.Tensor, delays: int, horizon: int, ridge: float, clip_margin: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`nvar_tokens_forecast` for rows of one span (B, L, C), as it documents. It runs in
    float64 numpy on the host whatever the device: small per-row products and solves, and a
    sequential rollout whose per-step cost is the framework's call overhead (numpy's is a
    fraction of torch's on CPU)."""
    batch, length, channels = normalised.shape
    span = delays - 1
    complete = observed.all(dim=2).cpu().numpy()  # (B, L)
    u = np.where(complete[..., None], normalised.detach().to("cpu", torch.float64).numpy(), 0.0)
    # Rows 0..B-1 fit the whole context; rows B..2B-1 the context without its last `horizon` steps.
    values = np.concatenate([u, np.pad(u[:, :-horizon], ((0, 0), (horizon, 0), (0, 0)))])  # (2B, L, C)
    valid = np.concatenate([complete, np.pad(complete[:, :-horizon], ((0, 0), (horizon, 0)))])  # (2B, L)

    windows = sliding_window_view(values, delays, axis=1)[..., ::-1]  # (2B, L - span, C, k): u_t, u_{t-1}, ...
    lagged = rearrange(windows, "b t c k -> b t (k c)")
    feats = _features(lagged[:, :-1])  # (2B, L - span - 1, F): steps t = span .. L-2
    targets = values[:, span + 1 :] - values[:, span:-1]  # (2B, L - span - 1, C)
    row_ok = np.asarray(sliding_window_view(valid, delays + 1, axis=1).all(axis=-1))  # taps and successor observed
    feats *= row_ok[..., None]  # unobserved steps drop out of the regression
    weighted = feats.transpose(0, 2, 1)  # (2B, F, L - span - 1)
    num_features = feats.shape[-1]
    # numpy's stacked matmul and solve run one BLAS/LAPACK call per row: a series' tokens are
    # the same bits alone and in any batch (torch's batched kernels round by batch size).
    weights = _solve_rows(weighted @ feats + ridge * np.eye(num_features), weighted @ targets)  # (2B, F, C)
    rows = row_ok.sum(axis=1)
    available = (rows >= 2 * num_features) & valid[:, -delays:].all(axis=1)
    weights[~(available & np.isfinite(weights).all(axis=(1, 2)))] = 0.0

    low = np.where(valid[..., None], values, np.inf).min(axis=1)  # (2B, C)
    high = np.where(valid[..., None], values, -np.inf).max(axis=1)
    low, high = np.where(available[:, None], low, 0.0), np.where(available[:, None], high, 0.0)
    slack = clip_margin * (high - low)
    low, high = low - slack, high + slack
    state = lagged[:, -1].copy()  # (2B, k C): the last taps
    step_features = np.empty((2 * batch, 1, num_features))
    rollout = np.empty((2 * batch, horizon, channels))
    for h in range(horizon):
        step = (_features(state[:, None], out=step_features) @ weights)[:, 0]  # (2B, C), one product per row
        np.clip(state[:, :channels] + step, low, high, out=rollout[:, h])
        state = np.concatenate([rollout[:, h], state[:, :-channels]], axis=1)
    forecast, backtest = rollout[:batch], rollout[batch:]
    truth, truth_ok = u[:, -horizon:], complete[:, -horizon:, None]
    error = (np.abs(backtest - truth) * truth_ok).sum(axis=1) / np.maximum(truth_ok.sum(axis=1), 1)

    def back(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x).to(normalised.device, normalised.dtype)

    return back(forecast), back(error), torch.from_numpy(available[:batch] & available[batch:]).to(normalised.device)
