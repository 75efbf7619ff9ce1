"""Context parroting (Zhang & Gilpin, arXiv 2505.11349): forecast by copying what followed
the closest earlier match of the context's last steps.

One implementation serves the model's retrieval tokens (`parrot_continuations`, torch,
batched, mask-aware) and the `ContextParroting` forecaster (numpy in and out), which the
evaluation scores as a baseline.
"""

from __future__ import annotations

import numpy as np
import torch

from .inputs import check_batch
from .metrics import standardize


def parrot_indices(
    normalised: torch.Tensor, observed: torch.Tensor, motif_length: int, horizon: int, num_matches: int = 1
) -> torch.Tensor:
    """Context parroting (Zhang & Gilpin, arXiv 2505.11349): which context step to copy for
    each forecast step, for the best `num_matches` = K matches.

    normalised, observed: (B, L, C) -> index (B, K, H) into the time axis. The query is the
    last `motif_length` = D steps; a match is an earlier length-D window (ending at s in
    [D, L - D], Euclidean over all channels: the channels are one state), and its copy tiles
    steps s..L-1 with period L - s, so a signal of period P is continued exactly. Match k is
    the nearest window ending at least D steps from every better match's end, so the K
    copies come from different passes (e.g. earlier cycles), not from shifts of one. Windows
    touching an unobserved step (left padding, gaps) are never matched; with no valid window
    left, the copy starts at step D. Shared by the model's retrieval tokens and the
    forecaster `ContextParroting` (its match 0).
    """
    steps = normalised.shape[1]
    num_windows = steps - 2 * motif_length + 1
    windows = normalised.unfold(1, motif_length, 1)  # (B, L-D+1, C, D)
    query, candidates = windows[:, -1:], windows[:, :num_windows]
    distances = (candidates - query).square().sum(dim=(2, 3))  # (B, L-2D+1)
    window_observed = observed.all(dim=2).unfold(1, motif_length, 1).all(dim=-1)[:, :num_windows]
    distances = distances.masked_fill(~window_observed, float("inf"))
    window_end = torch.arange(num_windows, device=normalised.device)
    starts = []
    for _ in range(num_matches):
        best = distances.argmin(dim=1)  # (B,)
        starts.append(best + motif_length)  # first copied step (0-indexed)
        too_close = (window_end[None, :] - best[:, None]).abs() < motif_length  # (B, L-2D+1)
        distances = distances.masked_fill(too_close, float("inf"))
    start = torch.stack(starts, dim=1)[:, :, None]  # (B, K, 1)
    offsets = torch.arange(horizon, device=normalised.device)
    return start + offsets % (steps - start)  # (B, K, H)


def parrot_continuations(
    normalised: torch.Tensor, observed: torch.Tensor, motif_length: int, horizon: int, num_matches: int = 1
) -> torch.Tensor:
    """The parroted continuations (B, K, H, C) of a normalised context (B, L, C) for its K
    best matches, best first, on its scale (see `parrot_indices`)."""
    index = parrot_indices(normalised, observed, motif_length, horizon, num_matches)  # (B, K, H)
    batch_index = torch.arange(normalised.shape[0], device=normalised.device)[:, None, None]
    return normalised[batch_index, index]  # (B, K, H, C)


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
        context = check_batch(context, horizon, min_length=2 * d)
        # Matching on the z-scored context (float64 here); the copy is of the raw values.
        z = torch.from_numpy(standardize(context, context))
        index = parrot_indices(z, torch.ones_like(z, dtype=torch.bool), d, horizon)[:, 0].numpy()  # (B, H)
        return np.take_along_axis(context, index[:, :, None], axis=1)
