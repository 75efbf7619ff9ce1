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

from dataclasses import dataclass, field

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


@dataclass
class Candidates:
    """The rows of a batch whose NVAR backtest stays in range over the whole horizon.

    Attributes:
        rows: their indices in the batch.
        contexts: their gap-free contexts, (T_i, C) float64 each.
        guesses: NVAR's forecasts of each context's last `backtest` steps, (backtest, C) each.
    """

    rows: list[int] = field(default_factory=list)
    contexts: list[np.ndarray] = field(default_factory=list)
    guesses: list[np.ndarray] = field(default_factory=list)


class NVARExpert:
    """The "nvar" expert with `delays` delay taps, backtested over `backtest` steps.

    A batch goes through it in three steps, so that the network's backtest can share the
    forecast's first network pass: `candidates` (NVAR backtests, all rows of one length in one
    batched fit), `held_back` (the network's backtest inputs for them), `choose` (which
    candidates NVAR beats the network on), then `forecast`. A row's outcome never depends on
    the rest of its batch.
    """

    def __init__(self, delays: int, backtest: int):
        self.nvar = NVAR(delays=delays)
        self.backtest = backtest

    def _by_length(self, contexts: list[np.ndarray], horizon: int) -> list[np.ndarray]:
        """NVAR forecasts (horizon, C) of each (T_i, C) context, one batched fit and rollout
        per distinct length."""
        forecasts: list[np.ndarray] = [np.empty(0)] * len(contexts)
        for length in sorted({len(c) for c in contexts}):
            group = [i for i, c in enumerate(contexts) if len(c) == length]
            for i, forecast in zip(group, self.nvar(np.stack([contexts[i] for i in group]), horizon)):
                forecasts[i] = forecast
        return forecasts

    def candidates(self, values: torch.Tensor, observed: torch.Tensor, horizon: int) -> Candidates:
        """values, observed: the padded (B, L, C) batch -> the rows whose gap-free context holds
        two backtests and whose NVAR backtest rollout, run over max(backtest, horizon) steps,
        stays in range."""
        backtest = self.backtest
        steps = gap_free_steps(observed)
        eligible = (steps >= 2 * backtest).nonzero().flatten().tolist()
        found = Candidates()
        if not eligible or values.shape[2] > MAX_CHANNELS:
            return found
        contexts = [values[row, -int(steps[row]) :].cpu().double().numpy() for row in eligible]  # (T, C) each
        guesses = self._by_length([c[:-backtest] for c in contexts], max(backtest, horizon))
        for row, context, guess in zip(eligible, contexts, guesses):
            if not leaves_range(guess, context[:-backtest]):
                found.rows.append(row)
                found.contexts.append(context)
                found.guesses.append(guess[:backtest])
        return found

    def held_back(
        self, values: torch.Tensor, observed: torch.Tensor, candidates: Candidates
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's backtest inputs (rows, L, C): each candidate's context without its last
        `backtest` steps, left-padded as missing (like any shorter context)."""
        rows, backtest = candidates.rows, self.backtest
        return (
            F.pad(values[rows, :-backtest], (0, 0, backtest, 0)),
            F.pad(observed[rows, :-backtest], (0, 0, backtest, 0), value=False),
        )

    def choose(self, candidates: Candidates, by_network: np.ndarray) -> list[int]:
        """Indices into `candidates` where NVAR's backtest sMAPE (on the z-scores of the steps
        before the backtest) is below the network's; by_network: the network's backtest
        forecasts (rows, >= backtest, C)."""
        backtest = self.backtest
        chosen = []
        for i, (context, guess, network) in enumerate(zip(candidates.contexts, candidates.guesses, by_network)):
            past, truth = context[:-backtest], context[-backtest:]
            expert_error, network_error = (
                smape(standardize(forecast, past), standardize(truth, past))
                for forecast in (guess, network[:backtest])
            )
            if expert_error < network_error:
                chosen.append(i)
        return chosen

    def forecast(self, contexts: list[np.ndarray], horizon: int) -> list[torch.Tensor | None]:
        """The expert's (horizon, C) float64 forecast after each (T_i, C) context, or None where
        it leaves the context's range (the network forecasts instead)."""
        return [
            None if leaves_range(forecast, context) else torch.from_numpy(forecast)
            for context, forecast in zip(contexts, self._by_length(contexts, horizon))
        ]
