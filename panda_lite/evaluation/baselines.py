"""Baseline forecasters sharing one interface with the model.

Every method is a callable `forecast(context, horizon) -> prediction` with context of shape
(B, T, C) and prediction (B, H, C), both float arrays in the context's units, so the harness
scores every method alike. `ModelForecaster` wraps a `PandaLitePipeline`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..inputs import check_batch
from ..nvar import NVAR
from ..parroting import ContextParroting
from .harness import EvalConfig, Forecaster


def last_value(context: np.ndarray, horizon: int) -> np.ndarray:
    """Persistence: repeat the last observed state. (B, T, C) -> (B, H, C)."""
    context = check_batch(context, horizon)
    return np.repeat(context[:, -1:], horizon, axis=1)


def context_mean(context: np.ndarray, horizon: int) -> np.ndarray:
    """Climatology: repeat each channel's context mean. (B, T, C) -> (B, H, C)."""
    context = check_batch(context, horizon)
    return np.repeat(context.mean(axis=1, keepdims=True), horizon, axis=1)


class ModelForecaster:
    """Adapts a `PandaLitePipeline` to the forecaster interface (rollout beyond the native
    prediction length is the pipeline's job) and counts the forecasts its expert made.

    Args:
        pipeline: the pipeline.
        batch_size: series per forward pass.
        expert: the pipeline's in-context expert for these forecasts ("auto", "off", "nvar").
    """

    def __init__(self, pipeline: Any, batch_size: int = 32, expert: str = "auto"):
        self.pipeline, self.batch_size, self.expert = pipeline, batch_size, expert
        self.forecasts = self.expert_forecasts = 0

    def __call__(self, context: np.ndarray, horizon: int) -> np.ndarray:
        context = check_batch(context, horizon)
        pred, used = self.pipeline.predict(
            context.astype(np.float32), horizon, batch_size=self.batch_size, expert=self.expert, return_expert=True
        )
        self.forecasts += len(context)
        self.expert_forecasts += int(used.sum())
        return np.asarray(pred, dtype=np.float64).reshape(context.shape[0], horizon, context.shape[2])


def default_baselines(config: EvalConfig | None = None) -> dict[str, Forecaster]:
    """The baselines `config.baselines` (default: all of them), by display name."""
    config = config or EvalConfig()
    every: dict[str, tuple[str, Forecaster]] = {
        "last_value": ("last_value", last_value),
        "mean": ("mean", context_mean),
        "parrot": (config.parrot_name, ContextParroting(config.parrot_motif_length)),
        "nvar": ("nvar", NVAR(delays=config.nvar_delays)),
    }
    return dict(every[name] for name in config.baselines)
