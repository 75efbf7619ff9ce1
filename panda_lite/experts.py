"""In-context experts: methods fitted on each context that may forecast a series instead of
the network, chosen per series by a backtest on the context itself.

"nvar": a quadratic NVAR (`panda_lite.nvar.NVAR`). Per series, the network and NVAR each
forecast the context's own last `backtest` steps from the steps before them; NVAR makes the
whole forecast where its sMAPE there (on the z-scores of the steps before them) is lower.
It is exact on quadratic flows (Lorenz, Rossler, ...), which the network only approximates,
and it can diverge elsewhere, so two guards keep it from ever making a diverging forecast:
its backtest rollout is run over the whole requested horizon and must stay in range, and a
forecast that leaves the context's range by more than `RANGE_MARGIN` of it falls back to the
network. Contexts with gaps, shorter than two backtests, or with more than
`MAX_CHANNELS` channels (its quadratic features grow as the square of the channels) always
get the network.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .metrics import smape, standardize
from .nvar import NVAR

EXPERTS = ("off", "nvar")
MAX_CHANNELS = 8  # 2 delays x 8 channels: 153 features, well below a 512-step context
RANGE_MARGIN = 0.25  # a forecast may pass the context's per-channel range by a quarter of it


def gap_free_steps(observed: torch.Tensor) -> torch.Tensor:
    """(B, L, C) observed mask -> (B,) length of each series' trailing fully observed run, or
    0 where an earlier step is observed too (a gap: no clean context to fit)."""
    complete = observed.all(dim=2)  # (B, L)
    run = complete.flip(1).cumprod(dim=1).sum(dim=1)
    return torch.where(run == observed.any(dim=2).sum(dim=1), run, torch.zeros_like(run)).cpu()


def leaves_range(forecast: np.ndarray, context: np.ndarray, margin: float = RANGE_MARGIN) -> bool:
    """Whether a (H, C) forecast passes its (T, C) context's per-channel [min, max] by more
    than `margin` times the channel's range at any step."""
    low, high = context.min(axis=0), context.max(axis=0)
    slack = margin * (high - low)
    return bool(((forecast < low - slack) | (forecast > high + slack)).any())


class NVARExpert:
    """The "nvar" expert with `delays` delay taps, backtested over `backtest` steps."""

    def __init__(self, delays: int, backtest: int):
        self.nvar = NVAR(delays=delays)
        self.backtest = backtest

    def choose(
        self,
        values: torch.Tensor,
        observed: torch.Tensor,
        network: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor],
        horizon: int,
    ) -> dict[int, np.ndarray]:
        """The series the expert forecasts `horizon` steps for: {row: its gap-free context
        (T, C) float64}.

        values, observed: the padded (B, L, C) batch; `network(values, observed, steps)` is
        the network's rollout (rows, steps, C), run here only on the rows whose NVAR backtest
        stays in range, on the context without its last `backtest` steps (left-padded as
        missing, like any shorter context). A row's forecast does not depend on its batch.
        """
        backtest = self.backtest
        steps = gap_free_steps(observed)
        eligible = (steps >= 2 * backtest).nonzero().flatten().tolist()
        if not eligible or values.shape[2] > MAX_CHANNELS:
            return {}
        candidates = {}  # row -> (gap-free context, NVAR's backtest), for backtests stable over the horizon
        for row in eligible:
            context = values[row, -int(steps[row]) :].cpu().double().numpy()  # (T, C)
            guess = self.nvar(context[None, :-backtest], max(backtest, horizon))[0]
            if not leaves_range(guess, context[:-backtest]):
                candidates[row] = (context, guess[:backtest])
        if not candidates:
            return {}
        rows = list(candidates)
        held_back = network(
            F.pad(values[rows, :-backtest], (0, 0, backtest, 0)),
            F.pad(observed[rows, :-backtest], (0, 0, backtest, 0), value=False),
            backtest,
        )  # (rows, backtest, C)
        chosen = {}
        for (row, (context, guess)), by_network in zip(candidates.items(), held_back.cpu().double().numpy()):
            past, truth = context[:-backtest], context[-backtest:]
            expert_error, network_error = (
                smape(standardize(forecast, past), standardize(truth, past)) for forecast in (guess, by_network)
            )
            if expert_error < network_error:
                chosen[row] = context
        return chosen

    def forecast(self, context: np.ndarray, horizon: int) -> torch.Tensor | None:
        """The expert's (horizon, C) float64 forecast after a (T, C) context, or None where it
        leaves the context's range (the network forecasts instead)."""
        forecast = self.nvar(context[None], horizon)[0]
        return None if leaves_range(forecast, context) else torch.from_numpy(forecast)
