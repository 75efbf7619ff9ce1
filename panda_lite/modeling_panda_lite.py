"""PandaLite: a patched-attention forecaster for chaotic dynamical systems.

Data path of one forward pass (B = batch, T = context steps, C = channels, N = patches,
P = patch length, D = d_model, H = prediction length):

    past_values (B, T, C)
      -> instance norm per channel over observed steps       (B, T, C), loc/scale (B, 1, C)
      -> left-pad to context_length, cut into patches         (B, C, N, P)
      (+ parroted continuations, K x F more patches           (B, C, N + K F, P))
      (+ the in-context NVAR forecast, F more patches         (B, C, N + (K + 1) F, P))
      -> dynamics embedding [patch | monomials | sin, cos]    (B, C, N, D)
      -> L x [temporal attention (RoPE) -> channel attention -> MLP], pre-norm RMSNorm
      -> forecast head (+ the best parroted copy, + gate x (NVAR - copy))  (B, C, H)
      -> back to input units                                  (B, H, C)

Horizons beyond H are `PandaLiteModel.rollout`: chunks of H fed back on a sliding context.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from einops import rearrange
from safetensors import SafetensorError
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.utils import CONFIG_NAME, ModelOutput

from .checkpoint_checks import (
    WEIGHTS_FILES,
    check_config_file,
    checkpoint_file,
    non_finite_tensors,
    quiet_loading,
    unfit_tensors,
    unreadable_file,
)
from .configuration_panda_lite import PandaLiteConfig
from .experts import MAX_CHANNELS
from .nvar import nvar_tokens_forecast
from .parroting import parrot_continuations


@dataclass
class PandaLitePretrainingOutput(ModelOutput):
    """Output of [`PandaLiteForPretraining`].

    Attributes:
        loss: MSE over the observed steps of the masked patches, on the normalised scale.
        reconstruction: `(B, C, N, P)` reconstructed patches on the normalised scale.
        patch_mask: `(B, C, N)` bool, True where a patch was hidden from the encoder.
        patches: `(B, C, N, P)` the normalised input patches (the targets).
    """

    loss: torch.Tensor | None = None
    reconstruction: torch.Tensor | None = None
    patch_mask: torch.Tensor | None = None
    patches: torch.Tensor | None = None


@dataclass
class PandaLiteOutput(ModelOutput):
    """Output of [`PandaLiteModel`].

    Attributes:
        loss: Scalar training loss on the normalised scale, present when `future_values` is given.
        prediction: `(B, prediction_length, C)` forecast in the input's units.
        last_hidden_state: `(B, C, N, D)` encoder tokens, one per channel and patch.
        loc: `(B, 1, C)` per-channel mean of the observed context.
        scale: `(B, 1, C)` per-channel standard deviation of the observed context.
    """

    loss: torch.Tensor | None = None
    prediction: torch.Tensor | None = None
    last_hidden_state: torch.Tensor | None = None
    loc: torch.Tensor | None = None
    scale: torch.Tensor | None = None


def instance_normalise(values: torch.Tensor, observed: torch.Tensor, eps: float):
    """Per-sample, per-channel standardisation over the observed time steps.

    values, observed: (B, T, C) -> normalised (B, T, C), loc (B, 1, C), scale (B, 1, C), in
    values' dtype. scale = std * sqrt(1 + eps): relative, so x -> a x + b maps the normalised
    context to itself for any a > 0 and b; a channel whose spread is within a few float ulps
    of its level (constant) gets scale 1. The mean is taken in two passes, so a large offset
    costs no precision. Missing steps do not enter the statistics and become 0 (the channel
    mean), so they carry no spurious signal.
    """
    weight = observed.to(values.dtype)
    count = weight.sum(dim=1, keepdim=True).clamp_min(1.0)
    values = torch.where(observed, values, torch.zeros_like(values))
    rough = (values * weight).sum(dim=1, keepdim=True) / count
    loc = rough + ((values - rough) * weight).sum(dim=1, keepdim=True) / count
    variance = (((values - loc) * weight) ** 2).sum(dim=1, keepdim=True) / count
    constant = variance.sqrt() <= 16 * torch.finfo(values.dtype).eps * loc.abs()
    scale = torch.where(constant, torch.ones_like(variance), torch.sqrt(variance * (1 + eps)))
    normalised = torch.where(observed, (values - loc) / scale, torch.zeros_like(values))
    return normalised, loc, scale


def left_pad(values: torch.Tensor, observed: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pads (B, T, C) values with 0 and their observed mask with False to (B, length, C),
    so that the last patch always ends at the last step and positions mean the same in every
    call. The one padding rule of the model and the pipeline."""
    pad = length - values.shape[1]
    if pad <= 0:
        return values, observed
    return F.pad(values, (0, 0, pad, 0)), F.pad(observed, (0, 0, pad, 0), value=False)


def roll_out(
    forecast_chunk: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
    past_values: torch.Tensor,
    horizon: int,
    past_observed_mask: torch.Tensor | None = None,
    first_chunk: torch.Tensor | None = None,
) -> torch.Tensor:
    """Feeds a fixed-horizon forecaster its own forecasts until `horizon` steps exist.

    `forecast_chunk(values, observed)` maps a (B, T, C) context (and its observed mask, or
    None) to the next (B, h, C) steps; each chunk is appended to the context, which slides to
    keep its latest T steps (appended steps count as observed). `first_chunk`: the first
    chunk (B, h, C) where the caller already has it. -> (B, horizon, C).
    """
    window = past_values.shape[1]
    values, observed = past_values, past_observed_mask
    chunks: list[torch.Tensor] = []
    while True:
        chunk = forecast_chunk(values, observed) if chunks or first_chunk is None else first_chunk
        chunks.append(chunk)
        if sum(c.shape[1] for c in chunks) >= horizon:
            return torch.cat(chunks, dim=1)[:, :horizon]
        values = torch.cat([values, chunk.to(values.dtype)], dim=1)[:, -window:]
        if observed is not None:
            observed = torch.cat([observed, torch.ones_like(chunk, dtype=torch.bool)], dim=1)[:, -window:]


class PandaLiteDynamicsEmbedding(nn.Module):
    """Lifts each patch into a feature space suited to polynomial and oscillatory vector fields.

    Features of a patch p (P values): [p | prod_j p[i_kj] for random index tuples of each
    degree | sin(p W + b) | cos(p W + b)], then a linear map to d_model. The index tuples
    and (W, b) are fixed random draws held in persistent buffers, so they are saved with
    the weights and a reloaded model uses exactly the draws it was trained with.
    """

    rff_weight: torch.Tensor
    rff_bias: torch.Tensor

    def __init__(self, config: PandaLiteConfig):
        super().__init__()
        self.config = config
        patch, degrees = config.patch_length, config.poly_degrees
        use_lift = config.use_dynamics_embedding
        num_poly = config.num_poly_features if use_lift else 0
        num_rff = config.num_rff if use_lift else 0
        for degree in degrees:
            self.register_buffer(f"monomial_index_{degree}", torch.zeros(num_poly, degree, dtype=torch.long))
        self.register_buffer("rff_weight", torch.zeros(patch, num_rff // 2))
        self.register_buffer("rff_bias", torch.zeros(num_rff // 2))
        self.num_features = patch + num_poly * len(degrees) + num_rff
        self.projection = nn.Linear(self.num_features, config.d_model)
        # Marks patches that hold no observed step (left padding, long gaps).
        self.missing_embedding = nn.Parameter(torch.zeros(config.d_model))
        self.draw_random_features()

    @torch.no_grad()
    def draw_random_features(self) -> None:
        """(Re)draws the random monomial indices and Fourier projection from `embedding_seed`.

        A private generator keeps the draw independent of the global RNG state.
        """
        generator = torch.Generator().manual_seed(self.config.embedding_seed)
        patch = self.config.patch_length
        for degree in self.config.poly_degrees:
            buffer: torch.Tensor = getattr(self, f"monomial_index_{degree}")
            init.copy_(buffer, torch.randint(0, patch, tuple(buffer.shape), generator=generator))
        init.copy_(
            self.rff_weight, torch.randn(tuple(self.rff_weight.shape), generator=generator) * self.config.rff_scale
        )
        init.copy_(self.rff_bias, torch.rand(tuple(self.rff_bias.shape), generator=generator) * 2 * math.pi)

    def forward(self, patches: torch.Tensor, patch_missing: torch.Tensor) -> torch.Tensor:
        """patches: (B, C, N, P) normalised; patch_missing: (B, C, N) bool -> (B, C, N, D)."""
        features = [patches]
        for degree in self.config.poly_degrees:
            index: torch.Tensor = getattr(self, f"monomial_index_{degree}")  # (K, degree)
            if index.numel():
                features.append(patches[..., index].prod(dim=-1))  # (B, C, N, K)
        if self.rff_weight.numel():
            phase = patches @ self.rff_weight.to(patches.dtype) + self.rff_bias.to(patches.dtype)  # (B, C, N, R/2)
            features += [torch.sin(phase), torch.cos(phase)]
        tokens = self.projection(torch.cat(features, dim=-1))
        return tokens + patch_missing.unsqueeze(-1).to(tokens.dtype) * self.missing_embedding


def rotary_tables(
    head_dim: int,
    rope_fraction: float,
    rope_theta: float,
    num_positions: int,
    device: torch.device,
    dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Partial rotary (p-RoPE) tables: cos and signed sin, each (num_positions, head_dim), so
    that rotating x = [x1 | x2] (halves) is x * cos + [x2 | x1] * sin (`apply_rotary`).

    Only the first `rope_fraction` of the frequency pairs rotate; the remaining pairs get
    frequency 0 (cos = 1, sin = 0), i.e. they pass through unrotated.
    """
    half = head_dim // 2
    rotating = int(rope_fraction * half)
    exponents = torch.arange(half, device=device, dtype=torch.float32) * 2 / head_dim
    inv_freq = rope_theta**-exponents
    inv_freq = torch.where(torch.arange(half, device=device) < rotating, inv_freq, torch.zeros_like(inv_freq))
    angles = torch.arange(num_positions, device=device, dtype=torch.float32)[:, None] * inv_freq  # (N, half)
    cos, sin = angles.cos().to(dtype), angles.sin().to(dtype)
    return torch.cat([cos, cos], dim=-1), torch.cat([-sin, sin], dim=-1)


@functools.lru_cache(maxsize=32)
def _cached_rotary_tables(*key: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """`rotary_tables(*key)`, once per key (length, device, dtype, ...); built outside inference
    mode, so that tables first made by the pipeline can be used by a training step too."""
    with torch.inference_mode(False):
        return rotary_tables(*key)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotates pairs (x[j], x[j + E/2]) of x (..., L, E) by the angles of position l, with
    `rotary_tables` cos, sin (L, E); -> a new tensor of x's shape."""
    first, second = x.chunk(2, dim=-1)
    swapped = torch.cat([second, first], dim=-1).mul_(sin)
    return torch.mul(x, cos).add_(swapped)  # in place: one fewer temporary of x's size


class PandaLiteAttention(nn.Module):
    """Multi-head self-attention over the second-to-last token axis, optionally rotary."""

    def __init__(self, config: PandaLiteConfig):
        super().__init__()
        self.config = config
        self.num_heads = config.num_attention_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)

    def forward(
        self,
        tokens: torch.Tensor,
        rotary: tuple[torch.Tensor, torch.Tensor] | None = None,
        key_padding: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """tokens: (S, L, D) sequences of L tokens; rotary: `rotary_tables` (L, E) to rotate
        queries and keys by position, or None; key_padding: (S, L) True = ignore -> (S, L, D)."""
        qkv = rearrange(self.qkv(tokens), "s l (three h e) -> three s h l e", three=3, h=self.num_heads)
        if rotary is not None:
            # One copy to head-major order makes the rotation (elementwise, memory-bound) run on
            # contiguous rows: measured faster than rotating the strided views.
            qkv = qkv.contiguous()
            q, k = apply_rotary(qkv[:2], *rotary)  # (S, H, L, E) each
            v = qkv[2]
        else:
            q, k, v = qkv
        mask = None
        # An all-True mask gives the same bits as none, and none is faster; traced, the mask stays.
        if key_padding is not None and (torch.compiler.is_compiling() or key_padding.any()):
            mask = ~key_padding[:, None, None, :]  # (S, 1, 1, L), True = attend
        dropout = self.config.attention_dropout if self.training else 0.0
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)  # (S, H, L, E)
        return self.out(rearrange(attended, "s h l e -> s l (h e)"))


class PandaLiteMLP(nn.Module):
    def __init__(self, config: PandaLiteConfig):
        super().__init__()
        self.up = nn.Linear(config.d_model, config.ffn_dim)
        self.down = nn.Linear(config.ffn_dim, config.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(x)))


class PandaLiteLayer(nn.Module):
    """Temporal attention (per channel, over patches, rotary) -> channel attention (per patch,
    over channels, no positional code: any number and order of channels) -> MLP, each
    pre-norm with a residual connection."""

    def __init__(self, config: PandaLiteConfig):
        super().__init__()
        eps = config.rms_norm_eps
        self.temporal_norm = nn.RMSNorm(config.d_model, eps=eps)
        self.temporal_attention = PandaLiteAttention(config)
        self.channel_attention = None
        if config.channel_attention:
            self.channel_norm = nn.RMSNorm(config.d_model, eps=eps)
            self.channel_attention = PandaLiteAttention(config)
        self.mlp_norm = nn.RMSNorm(config.d_model, eps=eps)
        self.mlp = PandaLiteMLP(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self, hidden: torch.Tensor, rotary: tuple[torch.Tensor, torch.Tensor], key_padding: torch.Tensor | None
    ) -> torch.Tensor:
        """hidden: (B, C, N, D); rotary: `rotary_tables` (N, E); key_padding: (B C, N) True =
        no key there, or None -> (B, C, N, D)."""
        batch, channels = hidden.shape[:2]
        tokens = rearrange(self.temporal_norm(hidden), "b c n d -> (b c) n d")
        temporal = self.temporal_attention(tokens, rotary, key_padding)
        hidden = hidden + self.dropout(rearrange(temporal, "(b c) n d -> b c n d", b=batch))
        if self.channel_attention is not None:
            tokens = rearrange(self.channel_norm(hidden), "b c n d -> (b n) c d")
            across = self.channel_attention(tokens)
            hidden = hidden + self.dropout(rearrange(across, "(b n) c d -> b c n d", b=batch, c=channels))
        return hidden + self.dropout(self.mlp(self.mlp_norm(hidden)))


class PandaLiteEncoder(nn.Module):
    """Normalised patches (B, C, N, P) -> contextual patch tokens (B, C, N, D)."""

    def __init__(self, config: PandaLiteConfig):
        super().__init__()
        self.config = config
        self.embedding = PandaLiteDynamicsEmbedding(config)
        self.layers = nn.ModuleList(PandaLiteLayer(config) for _ in range(config.num_hidden_layers))
        self.norm = nn.RMSNorm(config.d_model, eps=config.rms_norm_eps)

    def forward(
        self, patches: torch.Tensor, patch_missing: torch.Tensor, tail_bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        """patches: (B, C, N, P) normalised; patch_missing: (B, C, N) bool; tail_bias: (B, C, 1, D)
        added to the embeddings of the last `num_parrot_patches` tokens (the NVAR expert's) ->
        (B, C, N, D)."""
        config = self.config
        hidden = self.embedding(patches, patch_missing)
        if tail_bias is not None:
            tail = config.num_parrot_patches
            hidden = torch.cat([hidden[:, :, :-tail], hidden[:, :, -tail:] + tail_bias.to(hidden.dtype)], dim=2)
        # Traced (torch.compile, ONNX export), the tables are built in the graph: a cache would
        # keep the tracer's tensors.
        tables = rotary_tables if torch.compiler.is_compiling() else _cached_rotary_tables
        rotary = tables(
            config.head_dim, config.rope_fraction, config.rope_theta, hidden.shape[2], hidden.device, hidden.dtype
        )
        # A channel with no observed patch at all would mask every key (NaN softmax): let it
        # attend to its (uninformative) padding instead.
        key_padding = rearrange(patch_missing & ~patch_missing.all(dim=-1, keepdim=True), "b c n -> (b c) n")
        for layer in self.layers:
            hidden = layer(hidden, rotary, key_padding)
        return self.norm(hidden)


HEAD_MIN_ROWS = 8  # measured: 1-3 rows differ from 4+ (MKL, AVX-512); 8 leaves a margin


class PandaLiteResidualLinear(nn.Linear):
    """A linear map that `_init_weights` initialises to zero: the head of a forecaster whose
    forecast is a residual on the parroted continuation, so that it starts as exact parroting."""


class PandaLiteExpertGate(nn.Linear):
    """The NVAR expert's gate logit per channel from [its tokens' mean | its backtest-error
    feature] (B, C, D + 1) -> (B, C, 1). `_init_weights` starts it as a prior on the backtest
    alone: logit = EXPERT_GATE_ERROR_WEIGHT x feature + EXPERT_GATE_BIAS, open (0.88) where the
    backtest error is ~0 (feature -1), 0.34 at error 0.01, closed (< 0.04) from error 0.1 up."""


EXPERT_GATE_BIAS = -6.0
EXPERT_GATE_ERROR_WEIGHT = -8.0
# The pipeline expert's limit, for the same reason (quadratic features); wider contexts get the parroted copy.
NVAR_TOKEN_MAX_CHANNELS = MAX_CHANNELS


class PandaLiteHead(nn.Module):
    """Patch tokens (B, C, N, D) -> normalised forecast (B, C, H), shared by all channels; with
    `parrot_motif_length`, a residual on the parroted continuation."""

    def __init__(self, config: PandaLiteConfig):
        super().__init__()
        self.pooling = config.pooling
        width = config.num_tokens * config.d_model if config.pooling == "flatten" else config.d_model
        linear = PandaLiteResidualLinear if config.parrot_motif_length else nn.Linear
        self.projection = linear(width, config.prediction_length)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.pooling == "flatten":
            pooled = rearrange(hidden, "b c n d -> b c (n d)")
        elif self.pooling == "mean":
            pooled = hidden.mean(dim=2)
        elif self.pooling == "max":
            pooled = hidden.amax(dim=2)
        else:  # "last": the most recent patch, which always holds observed data
            pooled = hidden[:, :, -1]
        return batch_independent_linear(self.projection, pooled)  # (B, C, H)


def batch_independent_linear(linear: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """`linear(x)` for x (..., W), with each row's bits independent of the other rows: CPU BLAS
    multiplies fewer than a few rows on another path, and a one-column product rounds a row by
    its position in the batch, so a one-column map is a per-row dot product, a one-input map a
    per-element product, and other maps run on at least HEAD_MIN_ROWS (padded) rows."""
    bias = 0 if linear.bias is None else linear.bias
    if linear.out_features == 1:
        return (x * linear.weight[0]).sum(dim=-1, keepdim=True) + bias
    if linear.in_features == 1:
        return x * linear.weight[:, 0] + bias
    rows = x.reshape(-1, x.shape[-1])
    padded = F.pad(rows, (0, 0, 0, max(0, HEAD_MIN_ROWS - rows.shape[0])))
    return linear(padded)[: rows.shape[0]].reshape(*x.shape[:-1], -1)


_Model = TypeVar("_Model", bound="PandaLitePreTrainedModel")


class PandaLitePreTrainedModel(PreTrainedModel):
    config_class = PandaLiteConfig
    base_model_prefix = "panda_lite"
    main_input_name = "past_values"
    _supports_sdpa = True

    @classmethod
    def from_pretrained(
        cls: type[_Model],
        pretrained_model_name_or_path: str | os.PathLike | None,
        *model_args: Any,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> _Model:
        """transformers' `from_pretrained`, validated. transformers loads a checkpoint of
        another model type, initialises missing tensors (a zero head changes the forecast),
        drops unexpected ones and takes NaN weights, with at most a logged report; here each is
        an error naming the file and the tensors: a ValueError, or an OSError for a truncated
        or corrupt weights file. Loading is quiet (no progress bar, no load report) unless
        transformers' verbosity is INFO or lower (`transformers.logging.set_verbosity_info()`).

        Args:
            strict: True: the file must hold exactly this model's tensors, in its shapes (the
                pipeline's load). False: a partial load, as transformers does it. Default: strict,
                unless `ignore_mismatched_sizes=True` (a partial load: training's warm start,
                e.g. a new head) or the checkpoint is of the other PandaLite class (a
                masked-pretraining encoder starting a forecaster), where only the tensors outside
                the shared encoder may be missing, unexpected or of another shape.
            kwargs: as for transformers' `from_pretrained`. A local folder's config.json (a JSON
                object of valid settings), the model type, the weights file's integrity and their
                finiteness are checked whatever `strict` is.
        """
        if pretrained_model_name_or_path is not None and os.path.isdir(pretrained_model_name_or_path):
            check_config_file(Path(pretrained_model_name_or_path) / CONFIG_NAME, cls.config_class)
        partial = kwargs.get("ignore_mismatched_sizes", False) if strict is None else not strict
        if not partial:
            kwargs["ignore_mismatched_sizes"] = True  # mismatched shapes come back in the loading info
        return_info = kwargs.pop("output_loading_info", False)
        hub_kwargs: dict[str, Any] = {
            key: kwargs[key] for key in ("cache_dir", "revision", "subfolder", "token") if key in kwargs
        }
        try:
            with quiet_loading():
                loaded: Any = super().from_pretrained(
                    pretrained_model_name_or_path, *model_args, output_loading_info=True, **kwargs
                )
        except SafetensorError as error:
            weights = unreadable_file(checkpoint_file(pretrained_model_name_or_path, WEIGHTS_FILES, hub_kwargs))
            raise OSError(
                f"{weights}: not a readable safetensors file ({error}); it is truncated or corrupt: "
                "copy, download or save it again"
            ) from None
        model, info = loaded
        expected_type = cls.config_class.model_type
        if model.config.model_type != expected_type:
            config_file = checkpoint_file(pretrained_model_name_or_path, (CONFIG_NAME,), hub_kwargs)
            raise ValueError(
                f"{config_file}: model_type {model.config.model_type!r}; expected {expected_type!r} "
                "(a checkpoint saved by a PandaLite model)"
            )
        problems = [] if partial else unfit_tensors(model, info, strict)
        problems += non_finite_tensors(model)
        if problems:
            weights = checkpoint_file(pretrained_model_name_or_path, WEIGHTS_FILES, hub_kwargs)
            raise ValueError(f"{weights}: " + "; ".join(problems))
        if return_info:  # transformers' (model, loading info) pair, which its annotation leaves out too
            return model, info  # type: ignore[return-value]
        return model

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, PandaLiteDynamicsEmbedding):
            module.draw_random_features()
            init.zeros_(module.missing_embedding)
        if isinstance(module, PandaLiteExpertGate):
            prior = torch.zeros_like(module.weight)
            prior[0, -1] = EXPERT_GATE_ERROR_WEIGHT
            init.copy_(module.weight, prior)  # init.* leave loaded weights alone
            init.constant_(module.bias, EXPERT_GATE_BIAS)
        if isinstance(module, PandaLiteResidualLinear):
            # An untrained (or newly headed) parroting forecaster is exact context parroting.
            init.zeros_(module.weight)
            init.zeros_(module.bias)

    def normalise(self, past_values: torch.Tensor, past_observed_mask: torch.Tensor | None):
        """Validates a context (B, T, C) and returns it normalised and left-padded to
        context_length (B, L, C), its observed mask (B, L, C), loc and scale (B, 1, C), all
        float64 for float64 input, else float32.

        Shorter contexts are left-padded (as missing) so that the last patch always ends at
        the last observed step and positions mean the same in every call.
        """
        config = self.config
        if past_values.dim() != 3:
            raise ValueError(f"past_values must be (batch, time, channels), got shape {tuple(past_values.shape)}")
        steps = past_values.shape[1]
        if not config.patch_length <= steps <= config.context_length:
            raise ValueError(
                f"past_values has {steps} time steps; expected between patch_length={config.patch_length} "
                f"and context_length={config.context_length}"
            )
        if past_observed_mask is None:
            past_observed_mask = torch.ones_like(past_values, dtype=torch.bool)
        elif past_observed_mask.shape != past_values.shape:
            raise ValueError(
                f"past_observed_mask shape {tuple(past_observed_mask.shape)} != "
                f"past_values shape {tuple(past_values.shape)}"
            )
        observed = past_observed_mask.bool()
        # Statistics in float32 at least whatever the weights' dtype (bf16 loses the mean of offset
        # series), in float64 for float64 input (the pipeline's), where 1e18-scale values still fit.
        stats_dtype = torch.float64 if past_values.dtype == torch.float64 else torch.float32
        normalised, loc, scale = instance_normalise(past_values.to(stats_dtype), observed, config.scaling_eps)
        normalised, observed = left_pad(normalised, observed, config.context_length)
        return normalised, observed, loc, scale

    def patchify(self, series: torch.Tensor, observed: torch.Tensor):
        """Series and observed mask (B, T, C) -> patches and their observed mask (B, C, n, P),
        n = (T - patch_length) // patch_stride + 1; patches are cast to the weights' dtype."""
        unfold = dict(dimension=1, size=self.config.patch_length, step=self.config.patch_stride)
        patches = rearrange(series.unfold(**unfold), "b n c p -> b c n p")
        patch_observed = rearrange(observed.unfold(**unfold), "b n c p -> b c n p")
        return patches.to(self.dtype), patch_observed


class PandaLiteModel(PandaLitePreTrainedModel):
    """The panda_lite forecaster: a context `(B, T, C)` in, a forecast `(B, H, C)` out."""

    def __init__(self, config: PandaLiteConfig):
        super().__init__(config)
        self.encoder = PandaLiteEncoder(config)
        self.head = PandaLiteHead(config)
        if config.nvar_token_delays:
            self.expert_error = nn.Linear(1, config.d_model)  # backtest error feature -> its tokens
            self.expert_gate = PandaLiteExpertGate(config.d_model + 1, 1)
        self.post_init()

    def compute_loss(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean loss between two (B, H, C) tensors on the normalised scale."""
        if self.config.loss == "mse":
            return F.mse_loss(prediction, target)
        if self.config.loss == "mae":
            return F.l1_loss(prediction, target)
        if self.config.loss == "smape":
            error = (prediction - target).abs()
            return (2 * error / (prediction.abs() + target.abs() + self.config.smape_epsilon)).mean()
        return F.huber_loss(prediction, target, delta=self.config.huber_delta)

    def forward(
        self,
        past_values: torch.Tensor,
        past_observed_mask: torch.Tensor | None = None,
        future_values: torch.Tensor | None = None,
        return_dict: bool | None = None,
    ) -> PandaLiteOutput | tuple[torch.Tensor, ...]:
        """Forecast `prediction_length` steps after each context.

        Args:
            past_values: `(B, T, C)` context in any units, `patch_length <= T <= context_length`.
                Longer contexts must be cut by the caller ([`PandaLitePipeline`] does).
            past_observed_mask: `(B, T, C)` bool, True where `past_values` is observed. Default:
                all observed. Unobserved entries are ignored whatever their value.
            future_values: `(B, prediction_length, C)` targets; when given, `loss` is computed on
                the scale of the context's per-channel normalisation, so every series weighs alike.
            return_dict: False returns the output's non-None fields as a tuple (default:
                `config.return_dict`).

        Returns:
            [`PandaLiteOutput`] with `prediction` `(B, prediction_length, C)` in input units.
        """
        config = self.config
        normalised, observed, loc, scale = self.normalise(past_values, past_observed_mask)  # (B, L, C)
        patches, patch_observed = self.patchify(normalised, observed)  # (B, C, N, P)
        patch_missing = ~patch_observed.any(dim=-1)  # (B, C, N): patches with no observed step
        parroted = None
        if config.parrot_motif_length:
            # Each parroted continuation enters as F more tokens after the context's N, best
            # match first, in time order (rotary positions continue), and the head predicts a
            # residual on the best one.
            copies = parrot_continuations(
                normalised, observed, config.parrot_motif_length, config.prediction_length, config.parrot_candidates
            )  # (B, K, H, C)
            parroted = copies[:, 0]  # (B, H, C)
            copies = rearrange(copies, "b k h c -> (b k) h c")
            copy_patches, _ = self.patchify(copies, torch.ones_like(copies, dtype=torch.bool))  # (B K, C, F, P)
            copy_patches = rearrange(copy_patches, "(b k) c f p -> b c (k f) p", k=config.parrot_candidates)
            patches = torch.cat([patches, copy_patches], dim=2)  # (B, C, N + K F, P)
        nvar = tail_bias = None
        if config.nvar_token_delays and parroted is not None:  # the config requires parroting
            nvar = expert, error, usable = self.nvar_expert(normalised, observed, parroted)  # (B, H, C), (B, C), (B,)
            expert_patches, _ = self.patchify(expert, torch.ones_like(expert, dtype=torch.bool))  # (B, C, F, P)
            patches = torch.cat([patches, expert_patches], dim=2)  # (B, C, N + (K + 1) F, P)
            error_bias = batch_independent_linear(self.expert_error, error[..., None].to(self.dtype))  # (B, C, D)
            tail_bias = error_bias[:, :, None]  # (B, C, 1, D)
        patch_missing = F.pad(patch_missing, (0, patches.shape[2] - patch_missing.shape[2]), value=False)
        hidden = self.encoder(patches, patch_missing, tail_bias)  # (B, C, N (+ K F (+ F)), D)
        forecast = rearrange(self.head(hidden), "b c h -> b h c").float()  # normalised (B, H, C)
        if parroted is not None:
            forecast = forecast + parroted
        if nvar is not None and parroted is not None:
            expert, error, usable = nvar
            expert_tokens = hidden[:, :, -config.num_parrot_patches :].mean(dim=2)  # (B, C, D)
            gate_input = torch.cat([expert_tokens, error[..., None].to(expert_tokens.dtype)], dim=-1)  # (B, C, D + 1)
            gate_logit = batch_independent_linear(self.expert_gate, gate_input)  # (B, C, 1)
            gate = torch.sigmoid(gate_logit.float()) * usable[:, None, None]
            forecast = forecast + rearrange(gate, "b c 1 -> b 1 c") * (expert - parroted)

        loss = None
        if future_values is not None:
            expected = (past_values.shape[0], config.prediction_length, past_values.shape[2])
            if tuple(future_values.shape) != expected:
                raise ValueError(f"future_values must have shape {expected}, got {tuple(future_values.shape)}")
            loss = self.compute_loss(forecast, (future_values.float() - loc) / scale)

        output = PandaLiteOutput(
            loss=loss, prediction=forecast * scale + loc, last_hidden_state=hidden, loc=loc, scale=scale
        )
        return output if (self.config.return_dict if return_dict is None else return_dict) else output.to_tuple()

    def nvar_expert(
        self, normalised: torch.Tensor, observed: torch.Tensor, parroted: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The NVAR expert's tokens' inputs: its clipped forecast (B, H, C) (the parroted copy
        where it is not usable), its backtest-error feature (B, C) (log10 of the mean absolute
        error + 1e-3, over 3; 1 where not usable) and where it is usable (B,)."""
        config = self.config
        batch, _, channels = normalised.shape
        if channels > NVAR_TOKEN_MAX_CHANNELS:
            usable = torch.zeros(batch, dtype=torch.bool, device=normalised.device)
            return parroted, torch.ones(batch, channels, device=normalised.device), usable
        forecast, error, usable = nvar_tokens_forecast(
            normalised, observed, config.nvar_token_delays, config.prediction_length
        )
        forecast = torch.where(usable[:, None, None], forecast.to(parroted.dtype), parroted)
        feature = torch.where(usable[:, None], torch.log10(error.float() + 1e-3) / 3, 1.0)
        return forecast, feature, usable

    def rollout(
        self,
        past_values: torch.Tensor,
        prediction_length: int,
        past_observed_mask: torch.Tensor | None = None,
        forward: Callable[..., PandaLiteOutput] | None = None,
    ) -> PandaLiteOutput:
        """Forecast `prediction_length` steps, beyond the native horizon by feeding back the
        model's own forecasts (`roll_out`): the pipeline's forecasts and the rollout loss.

        Args:
            past_values, past_observed_mask: `(B, T, C)` context, as in `forward`.
            prediction_length: steps to forecast.
            forward: what runs each chunk (a DDP-wrapped or compiled copy of this model in
                training); default this model.

        Returns:
            [`PandaLiteOutput`] with `prediction` `(B, prediction_length, C)` and the first
            context's `loc` and `scale` `(B, 1, C)` (to score every chunk on one scale).
        """
        run = self if forward is None else forward
        outputs: list[PandaLiteOutput] = []

        def chunk(values: torch.Tensor, observed: torch.Tensor | None) -> torch.Tensor:
            outputs.append(run(past_values=values, past_observed_mask=observed, return_dict=True))
            prediction = outputs[-1].prediction
            assert prediction is not None
            return prediction

        prediction = roll_out(chunk, past_values, prediction_length, past_observed_mask)
        return PandaLiteOutput(prediction=prediction, loc=outputs[0].loc, scale=outputs[0].scale)

    @torch.no_grad()
    def keep_head_of(self, base: PandaLiteModel) -> bool:
        """Takes over the trained residual head of `base`, a forecaster reading fewer parroted
        candidates, or no NVAR tokens where this one does, but otherwise the same token layout;
        returns whether it did.

        The flattened tokens of base's layout (context, then its candidates) come first in
        this model's, so base's weights fill the leading columns and the new tokens' columns
        stay zero: the forecast changes at first only through the new tokens' effect on
        attention (and the NVAR gate, which starts as a prior on the backtest). A plain forecaster's head
        (a whole forecast, not a residual) is never taken over.
        """
        mine, theirs = self.config, base.config
        same_layout = all(
            getattr(mine, key) == getattr(theirs, key)
            for key in (
                "context_length",
                "prediction_length",
                "patch_length",
                "patch_stride",
                "d_model",
                "pooling",
                "parrot_motif_length",
            )
        )
        if not (
            same_layout
            and mine.parrot_motif_length
            and mine.pooling == "flatten"
            and theirs.parrot_candidates <= mine.parrot_candidates
            and not theirs.nvar_token_delays
            and theirs.num_tokens < mine.num_tokens
        ):
            return False
        old_weight = base.head.projection.weight  # (H, N_base D)
        self.head.projection.weight.zero_()
        self.head.projection.weight[:, : old_weight.shape[1]] = old_weight
        self.head.projection.bias.copy_(base.head.projection.bias)
        return True


class PandaLiteForPretraining(PandaLitePreTrainedModel):
    """Masked-patch pretraining: hide a random `mask_ratio` of each channel's patches and
    reconstruct them from the rest.

    Its encoder has the same parameter names as the forecaster's, so
    `PandaLiteModel.from_pretrained(pretraining_checkpoint)` starts a forecaster from it
    (only the forecast head is newly initialised).
    """

    def __init__(self, config: PandaLiteConfig):
        super().__init__(config)
        self.encoder = PandaLiteEncoder(config)
        self.reconstruction_head = nn.Linear(config.d_model, config.patch_length)
        self.post_init()

    def forward(
        self,
        past_values: torch.Tensor,
        past_observed_mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        return_dict: bool | None = None,
    ) -> PandaLitePretrainingOutput | tuple[torch.Tensor, ...]:
        """past_values, past_observed_mask: (B, T, C) context, as in [`PandaLiteModel`]; the
        mask is drawn with `generator` (on the input's device) so that a seeded run hides the
        same patches. return_dict False gives a tuple (default: `config.return_dict`)."""
        normalised, observed, _, _ = self.normalise(past_values, past_observed_mask)
        patches, patch_observed = self.patchify(normalised, observed)  # (B, C, N, P)
        patch_missing = ~patch_observed.any(dim=-1)  # (B, C, N)
        draw = torch.rand(patch_missing.shape, generator=generator, device=patches.device)
        # Only observed patches can be hidden: hiding padding would teach nothing.
        patch_mask = (draw < self.config.mask_ratio) & ~patch_missing
        visible = patches.masked_fill(patch_mask.unsqueeze(-1), 0.0)
        # Masked patches enter as "missing": the learned missing embedding is the mask token,
        # and no token attends to them as keys.
        hidden = self.encoder(visible, patch_missing | patch_mask)  # (B, C, N, D)
        reconstruction = self.reconstruction_head(hidden).float()  # (B, C, N, P)
        target = patches.float()
        # Score the observed steps of masked patches only (missing steps have no target).
        weight = (patch_mask.unsqueeze(-1) & patch_observed).float()
        loss = ((reconstruction - target) ** 2 * weight).sum() / weight.sum().clamp_min(1.0)
        output = PandaLitePretrainingOutput(
            loss=loss, reconstruction=reconstruction, patch_mask=patch_mask, patches=target
        )
        return output if (self.config.return_dict if return_dict is None else return_dict) else output.to_tuple()


AutoModel.register(PandaLiteConfig, PandaLiteModel, exist_ok=True)
