"""In-context experts: methods fitted on each context that may forecast a series instead of
the network, chosen per series by a backtest on the context itself.

"nvar": a quadratic NVAR (`panda_lite.nvar.NVAR`). Per series, the network and NVAR each
forecast the context's own last `backtest` steps from the steps before them; NVAR makes the
whole forecast where its sMAPE there (on the z-scores of the steps before them) is lower.
It is exact on quadratic flows (Lorenz, Rossler, ...), which the network only approximates.
Contexts with gaps, or shorter than two backtests, always get the network.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .metrics import smape, standardize
from .nvar import NVAR

EXPERTS = ("off", "nvar")


def gap_free_steps(observed: torch.Tensor) -> torch.Tensor:
    """(B, L, C) observed mask -> (B,) length of each series' trailing fully observed run, or
    0 where an earlier step is observed too (a gap: no clean context to fit)."""
    complete = observed.all(dim=2)  # (B, L)
    run = complete.flip(1).cumprod(dim=1).sum(dim=1)
    return torch.where(run == observed.any(dim=2).sum(dim=1), run, torch.zeros_like(run)).cpu()


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
    ) -> dict[int, np.ndarray]:
        """The series the expert forecasts: {row: its gap-free context (T, C) float64}.

        values, observed: the padded (B, L, C) batch; `network(values, observed, horizon)`
        is the network's rollout (B, horizon, C), run here on the context without its last
        `backtest` steps (left-padded as missing, like any shorter context).
        """
        backtest = self.backtest
        steps = gap_free_steps(observed)
        eligible = (steps >= 2 * backtest).nonzero().flatten().tolist()
        if not eligible:
            return {}
        held_back = (
            network(
                F.pad(values[:, :-backtest], (0, 0, backtest, 0)),
                F.pad(observed[:, :-backtest], (0, 0, backtest, 0), value=False),
                backtest,
            )
            .cpu()
            .double()
            .numpy()
        )  # (B, backtest, C)
        chosen = {}
        for row in eligible:
            context = values[row, -int(steps[row]) :].cpu().double().numpy()  # (T, C)
            past, truth = context[:-backtest], context[-backtest:]
            expert_error, network_error = (
                smape(standardize(guess, past), standardize(truth, past))
                for guess in (self.nvar(past[None], backtest)[0], held_back[row])
            )
            if expert_error < network_error:
                chosen[row] = context
        return chosen

    def forecast(self, context: np.ndarray, horizon: int) -> torch.Tensor:
        """The expert's (horizon, C) float32 forecast after a (T, C) context."""
        return torch.from_numpy(self.nvar(context[None], horizon)[0]).float()
