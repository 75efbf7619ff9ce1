"""Training losses: one-shot forecast, multi-step rollout, masked-patch reconstruction."""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..modeling_panda_lite import PandaLiteModel

SDPA_KERNELS = {
    "math": SDPBackend.MATH,
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
}


def attention_kernel(name: str | None):
    """Context that forces one scaled-dot-product-attention kernel (None: torch's choice).

    Why: on CPU with bf16, torch's default flash kernel is slow for the very short channel
    attention sequences (a few channels); the math kernel is faster there."""
    return nullcontext() if name is None else sdpa_kernel(SDPA_KERNELS[name])


def rollout_loss(
    model: PandaLiteModel, past_values: torch.Tensor, future_values: torch.Tensor, steps: int, forward=None
) -> torch.Tensor:
    """Loss of a `steps`-chunk autoregressive rollout, the model fed its own forecasts.

    Chunk j is forecast from the context slid forward by the j earlier forecasts (as the
    pipeline does beyond the native horizon), and gradients flow through the fed-back
    forecasts, so the model learns to keep its own continuation on the attractor. All chunks
    are scored on the scale of the *original* context's normalisation, so every horizon
    weighs alike; `steps=1` is the ordinary one-shot forecast loss.

    Args:
        model: the forecaster (unwrapped; supplies config and `compute_loss`).
        past_values: (B, T, C) context.
        future_values: (B, steps * prediction_length, C) true continuation.
        steps: number of native-horizon chunks.
        forward: the callable to run (e.g. a DDP-wrapped or compiled model); default `model`.
    Returns:
        scalar loss (config.loss: mse, mae, huber or smape).
    """
    horizon = model.config.prediction_length
    expected = (past_values.shape[0], steps * horizon, past_values.shape[2])
    if tuple(future_values.shape) != expected:
        raise ValueError(
            f"future_values must have shape {expected} for {steps} rollout steps, got {tuple(future_values.shape)}"
        )
    output = model.rollout(past_values, steps * horizon, forward=forward)
    loc, scale = output.loc, output.scale
    assert output.prediction is not None and loc is not None and scale is not None
    return model.compute_loss((output.prediction - loc) / scale, (future_values.float() - loc) / scale)


def objective_loss(
    objective: str, model, forward, batch: dict, rollout_steps: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The configured training loss of one batch.

    objective "forecast": `rollout_loss` over `rollout_steps` chunks; "mlm": masked-patch
    reconstruction of the context, the mask drawn with `generator`.
    """
    if objective == "mlm":
        return forward(past_values=batch["past_values"], generator=generator).loss
    return rollout_loss(model, batch["past_values"], batch["future_values"], rollout_steps, forward)
