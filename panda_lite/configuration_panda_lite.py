"""Configuration of the panda_lite patched-attention forecaster."""

from __future__ import annotations

from transformers import AutoConfig, PretrainedConfig

POOLING_TYPES = ("flatten", "mean", "max", "last")
LOSS_TYPES = ("mse", "mae", "huber", "smape")


class PandaLiteConfig(PretrainedConfig):
    r"""Every architectural choice of a [`PandaLiteModel`].

    Series enter time-first, `(batch, time, channels)`. The context is cut into
    `num_patches = (context_length - patch_length) // patch_stride + 1` patches per channel,
    each patch is embedded, and the encoder alternates attention along time (per channel)
    with attention across channels (per patch position).

    Args:
        context_length: Number of past time steps the model reads. Shorter contexts are
            left-padded and masked; longer ones keep their most recent part.
        prediction_length: Number of future steps one forward pass emits (the native horizon).
            Longer horizons are produced by rollout in [`PandaLitePipeline`].
        patch_length: Time steps per patch.
        patch_stride: Step between patch starts; must divide `context_length - patch_length`
            so that the patches tile the context exactly, ending at its last step.
        d_model: Width of the token embeddings.
        num_hidden_layers: Number of encoder layers (each: temporal attention, channel
            attention, MLP).
        num_attention_heads: Heads of every attention sublayer; must divide `d_model`.
        ffn_dim: Hidden width of the MLP.
        dropout: Dropout on residual branches.
        attention_dropout: Dropout on attention weights (training only).
        rope_theta: Longest timescale of the rotary position code, in patches.
        rope_fraction: Fraction of each head's frequency pairs that rotate ("p-RoPE"); the
            rest carry no positional signal, which leaves some channels free for content.
        channel_attention: Whether layers attend across channels (off = channel-independent).
        use_dynamics_embedding: Whether patches are lifted with polynomial and random
            Fourier features before the linear embedding; off = raw patch only.
        poly_degrees: Degrees of the random monomials of patch entries.
        num_poly_features: Number of random monomials per degree.
        num_rff: Number of random Fourier features (half sines, half cosines); must be even.
        rff_scale: Standard deviation of the random Fourier frequencies (per normalised unit).
        embedding_seed: Seed of the random monomial indices and Fourier projection. The draws
            are stored as buffers in the checkpoint, so a reloaded model never re-draws them.
        rms_norm_eps: Epsilon of the RMSNorm layers.
        scaling_eps: Relative variance epsilon of the per-channel instance normalisation:
            scale = std * sqrt(1 + scaling_eps), the scale training windows (unit variance) saw.
            Relative, so the normalisation is scale-equivariant.
        pooling: How patch tokens become a forecast: "flatten" (all patches, a linear map
            from num_patches * d_model), "mean", "max" or "last" (one d_model vector).
        loss: Training loss on the normalised scale: "mse", "mae", "huber" or "smape"
            (2|x - y| / (|x| + |y| + smape_epsilon), the evaluation metric's form on a 0-2
            scale: bounded, and a damped forecast pays for every unit of missing amplitude).
        huber_delta: Transition point of the Huber loss, in normalised units.
        smape_epsilon: Added to the sMAPE loss denominator, in normalised units, so that steps
            where forecast and target are both near zero do not dominate the gradient.
        initializer_range: Standard deviation of the normal initialisation of linear weights.
        mask_ratio: Fraction of patches hidden per channel in masked-patch pretraining
            ([`PandaLiteForPretraining`]); unused by the forecaster.
        parrot_motif_length: 0 (off) or the motif length D of a context-parroting retrieval
            inside the forecaster: the continuation that followed the nearest earlier match of
            the last D steps is patched into `num_parrot_patches` extra tokens after the
            context's, and the head predicts a residual on it (an untrained head forecasts
            exactly the parroted continuation). Unused by masked-patch pretraining.
        parrot_candidates: How many retrieved continuations the forecaster reads (with
            `parrot_motif_length` > 0): the best match and the next best ones whose windows end
            at least `parrot_motif_length` steps from every better one's (typically earlier
            cycles of the attractor). Each adds `num_parrot_patches` tokens; the head's residual
            is on the best match, so extra candidates only inform it.
        nvar_token_delays: 0 (off) or the delay taps of an in-context NVAR expert the
            forecaster reads as tokens (with `parrot_motif_length` > 0): a quadratic NVAR
            fitted on the context (`panda_lite.nvar.nvar_tokens_forecast`), its forecast clipped
            to the context's range, enters as `num_parrot_patches` more tokens after the
            parroted ones, marked with its backtest error; a learned gate per channel, reading
            those tokens and the backtest error, mixes it into the forecast (it starts as a prior
            on the backtest alone: open where the backtest is near-exact). Contexts it cannot
            fit (too short, gaps, more than `NVAR_TOKEN_MAX_CHANNELS` channels) read the best
            parroted copy there instead, with the gate closed.
    """

    model_type = "panda_lite"

    def __init__(
        self,
        context_length: int = 512,
        prediction_length: int = 128,
        patch_length: int = 16,
        patch_stride: int = 16,
        d_model: int = 128,
        num_hidden_layers: int = 4,
        num_attention_heads: int = 4,
        ffn_dim: int = 256,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        rope_theta: float = 500.0,
        rope_fraction: float = 0.75,
        channel_attention: bool = True,
        use_dynamics_embedding: bool = True,
        poly_degrees: tuple[int, ...] | list[int] = (2, 3),
        num_poly_features: int = 32,
        num_rff: int = 64,
        rff_scale: float = 1.0,
        embedding_seed: int = 0,
        rms_norm_eps: float = 1e-5,
        scaling_eps: float = 1e-5,
        pooling: str = "flatten",
        loss: str = "mse",
        huber_delta: float = 1.0,
        smape_epsilon: float = 0.1,
        initializer_range: float = 0.02,
        mask_ratio: float = 0.5,
        parrot_motif_length: int = 0,
        parrot_candidates: int = 1,
        nvar_token_delays: int = 0,
        **kwargs,
    ):
        self.context_length = context_length
        self.prediction_length = prediction_length
        self.patch_length = patch_length
        self.patch_stride = patch_stride
        self.d_model = d_model
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.ffn_dim = ffn_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.rope_theta = rope_theta
        self.rope_fraction = rope_fraction
        self.channel_attention = channel_attention
        self.use_dynamics_embedding = use_dynamics_embedding
        self.poly_degrees = list(poly_degrees)
        self.num_poly_features = num_poly_features
        self.num_rff = num_rff
        self.rff_scale = rff_scale
        self.embedding_seed = embedding_seed
        self.rms_norm_eps = rms_norm_eps
        self.scaling_eps = scaling_eps
        self.pooling = pooling
        self.loss = loss
        self.huber_delta = huber_delta
        self.smape_epsilon = smape_epsilon
        self.initializer_range = initializer_range
        self.mask_ratio = mask_ratio
        self.parrot_motif_length = parrot_motif_length
        self.parrot_candidates = parrot_candidates
        self.nvar_token_delays = nvar_token_delays
        if kwargs.pop("nvar_expert_delays", 0):
            raise ValueError(
                "PandaLiteConfig.nvar_expert_delays: the NVAR expert is an inference policy now, not a model field; "
                "delete the key from config.json and write pipeline_config.json next to it "
                '(e.g. {"expert": "nvar", "nvar_delays": 2}), or pass expert="nvar" to PandaLitePipeline'
            )
        self._validate()
        super().__init__(**kwargs)

    def patches_in(self, steps: int) -> int:
        """Patches that tile `steps` time steps (patch_length, patch_stride)."""
        return (steps - self.patch_length) // self.patch_stride + 1

    @property
    def num_patches(self) -> int:
        """Patches per channel in a full context."""
        return self.patches_in(self.context_length)

    @property
    def num_parrot_patches(self) -> int:
        """Tokens holding one parroted continuation (0 when `parrot_motif_length` is 0)."""
        if not self.parrot_motif_length:
            return 0
        return self.patches_in(self.prediction_length)

    @property
    def num_tokens(self) -> int:
        """Tokens per channel the encoder reads: the context's patches, then each parroted
        candidate's, best first, then the NVAR expert's."""
        groups = self.parrot_candidates + (1 if self.nvar_token_delays else 0)
        return self.num_patches + groups * self.num_parrot_patches

    @property
    def head_dim(self) -> int:
        return self.d_model // self.num_attention_heads

    def _validate(self) -> None:
        def require(ok: bool, field: str, message: str) -> None:
            if not ok:
                raise ValueError(f"PandaLiteConfig.{field}: {message}")

        for field in (
            "context_length",
            "prediction_length",
            "patch_length",
            "patch_stride",
            "d_model",
            "num_hidden_layers",
            "num_attention_heads",
            "ffn_dim",
        ):
            value = getattr(self, field)
            require(
                isinstance(value, int) and not isinstance(value, bool) and value > 0,
                field,
                f"must be a positive integer, got {value!r}",
            )
        require(
            self.patch_length <= self.context_length,
            "patch_length",
            f"patch of {self.patch_length} steps is longer than context_length={self.context_length}",
        )
        require(
            self.patch_stride <= self.patch_length,
            "patch_stride",
            f"stride {self.patch_stride} exceeds patch_length {self.patch_length}: steps would be skipped",
        )
        require(
            (self.context_length - self.patch_length) % self.patch_stride == 0,
            "patch_stride",
            f"stride {self.patch_stride} must divide context_length - patch_length = "
            f"{self.context_length - self.patch_length} so patches tile the context",
        )
        require(
            self.d_model % self.num_attention_heads == 0,
            "d_model",
            f"d_model={self.d_model} is not divisible by num_attention_heads={self.num_attention_heads}",
        )
        require(
            self.head_dim % 2 == 0,
            "d_model",
            f"head_dim = d_model / num_attention_heads = {self.head_dim} must be even for rotary positions",
        )
        for field in ("dropout", "attention_dropout"):
            value = getattr(self, field)
            require(0.0 <= value < 1.0, field, f"must be in [0, 1), got {value!r}")
        require(0.0 <= self.rope_fraction <= 1.0, "rope_fraction", f"must be in [0, 1], got {self.rope_fraction!r}")
        require(self.rope_theta > 1.0, "rope_theta", f"must be > 1, got {self.rope_theta!r}")
        require(
            all(isinstance(d, int) and d >= 2 for d in self.poly_degrees),
            "poly_degrees",
            f"must be integers >= 2, got {self.poly_degrees!r}",
        )
        require(self.num_poly_features >= 0, "num_poly_features", f"must be >= 0, got {self.num_poly_features!r}")
        require(
            self.num_rff >= 0 and self.num_rff % 2 == 0,
            "num_rff",
            f"must be a non-negative even number (sines and cosines), got {self.num_rff!r}",
        )
        require(self.rff_scale > 0, "rff_scale", f"must be > 0, got {self.rff_scale!r}")
        require(self.rms_norm_eps > 0, "rms_norm_eps", f"must be > 0, got {self.rms_norm_eps!r}")
        require(self.scaling_eps > 0, "scaling_eps", f"must be > 0, got {self.scaling_eps!r}")
        require(self.pooling in POOLING_TYPES, "pooling", f"must be one of {POOLING_TYPES}, got {self.pooling!r}")
        require(self.loss in LOSS_TYPES, "loss", f"must be one of {LOSS_TYPES}, got {self.loss!r}")
        require(self.huber_delta > 0, "huber_delta", f"must be > 0, got {self.huber_delta!r}")
        require(self.smape_epsilon > 0, "smape_epsilon", f"must be > 0, got {self.smape_epsilon!r}")
        require(0.0 < self.mask_ratio < 1.0, "mask_ratio", f"must be in (0, 1), got {self.mask_ratio!r}")
        motif = self.parrot_motif_length
        require(
            isinstance(motif, int) and not isinstance(motif, bool) and motif >= 0,
            "parrot_motif_length",
            f"must be an integer >= 0 (0 = off), got {motif!r}",
        )
        candidates = self.parrot_candidates
        require(
            isinstance(candidates, int) and not isinstance(candidates, bool) and candidates >= 1,
            "parrot_candidates",
            f"must be an integer >= 1, got {candidates!r}",
        )
        if motif:
            require(
                2 * motif <= self.context_length,
                "parrot_motif_length",
                f"a motif of {motif} steps needs a context of at least {2 * motif}, "
                f"context_length is {self.context_length}",
            )
            require(
                self.prediction_length >= self.patch_length
                and (self.prediction_length - self.patch_length) % self.patch_stride == 0,
                "parrot_motif_length",
                f"parroted tokens need prediction_length={self.prediction_length} >= patch_length and "
                f"prediction_length - patch_length divisible by patch_stride={self.patch_stride}",
            )
        delays = self.nvar_token_delays
        require(
            isinstance(delays, int) and not isinstance(delays, bool) and 0 <= delays <= 4,
            "nvar_token_delays",
            f"must be an integer in [0, 4] (0 = off), got {delays!r}",
        )
        require(
            not delays or bool(motif),
            "nvar_token_delays",
            "NVAR tokens need parroting (parrot_motif_length > 0): the expert's tokens follow the parroted ones",
        )
        require(
            not delays or self.context_length >= 2 * self.prediction_length,
            "nvar_token_delays",
            f"the NVAR backtest needs context_length >= 2 * prediction_length = {2 * self.prediction_length}",
        )
        require(self.initializer_range > 0, "initializer_range", f"must be > 0, got {self.initializer_range!r}")


AutoConfig.register(PandaLiteConfig.model_type, PandaLiteConfig, exist_ok=True)
