"""Baseline forecasters sharing one interface with the model.

Every method is a callable `forecast(context, horizon) -> prediction` with context of shape
(B, T, C) and prediction (B, H, C), both float arrays in the context's units, so the harness
scores every method alike. `ModelForecaster` wraps a `PandaLitePipeline`. The ensembles
(`ModelSampler`, `AnalogEnsemble`, `ClimatologicalEnsemble`) map the same context to members
(B, S, H, C) for `evaluate_probabilistic`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ensemble import analog_ensemble, climatological_ensemble
from ..inputs import check_batch, check_positive_int
from ..nvar import NVAR
from ..parroting import ContextParroting
from .harness import EvalConfig, Forecaster
from .probabilistic import Sampler


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


class ModelSampler:
    """Adapts `PandaLitePipeline.sample` to the sampler interface: (B, T, C), H -> (B, S, H, C).

    Args:
        pipeline: the pipeline.
        num_samples: members S per forecast.
        seed: the ensemble's seed (`PandaLitePipeline.sample`).
        batch_size: member series per forward pass.
        expert: the pipeline's in-context expert ("auto", "off", "nvar").
    """

    def __init__(self, pipeline: Any, num_samples: int, seed: int = 0, batch_size: int = 32, expert: str = "auto"):
        self.pipeline, self.num_samples, self.seed = pipeline, check_positive_int("num_samples", num_samples), seed
        self.batch_size, self.expert = batch_size, expert

    def __call__(self, context: np.ndarray, horizon: int) -> np.ndarray:
        context = check_batch(context, horizon)
        samples = self.pipeline.sample(
            context, horizon, self.num_samples, seed=self.seed, batch_size=self.batch_size, expert=self.expert
        )
        return samples.numpy().reshape(context.shape[0], self.num_samples, horizon, context.shape[2])


class AnalogEnsemble:
    """The continuations of context parroting's `num_members` nearest matches
    (`panda_lite.ensemble.analog_ensemble`, motif length `motif_length`)."""

    def __init__(self, num_members: int, motif_length: int = 10):
        self.num_members, self.motif_length = check_positive_int("num_members", num_members), motif_length

    def __call__(self, context: np.ndarray, horizon: int) -> np.ndarray:
        return analog_ensemble(context, horizon, self.num_members, self.motif_length)


class ClimatologicalEnsemble:
    """Stretches of the context itself from uniformly drawn starts
    (`panda_lite.ensemble.climatological_ensemble`)."""

    def __init__(self, num_members: int, seed: int = 0):
        self.num_members, self.seed = check_positive_int("num_members", num_members), seed

    def __call__(self, context: np.ndarray, horizon: int) -> np.ndarray:
        return climatological_ensemble(context, horizon, self.num_members, self.seed)


def default_samplers(num_members: int, config: EvalConfig | None = None, seed: int = 0) -> dict[str, Sampler]:
    """The baseline ensembles, by display name: the analog ensemble of the parroting
    baseline's motif length ("analog_D{D}") and the climatological one ("climatology")."""
    config = config or EvalConfig()
    return {
        f"analog_D{config.parrot_motif_length}": AnalogEnsemble(num_members, config.parrot_motif_length),
        "climatology": ClimatologicalEnsemble(num_members, seed),
    }
