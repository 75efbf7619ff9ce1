"""Zero-shot forecasting with a pretrained PandaLite: inputs -> batches -> model (-> expert)
-> forecasts."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .configuration_panda_lite import PandaLiteConfig
from .ensemble import (
    DEFAULT_NUM_SAMPLES,
    DEFAULT_QUANTILE_LEVELS,
    DEFAULT_SPREAD,
    backtest_error,
    check_levels,
    check_seed,
    ensemble_quantiles,
    perturb_context,
)
from .experts import EXPERTS, NVARExpert
from .inputs import MAX_ABS_VALUE, ContextLike, check_positive_int, split_contexts
from .io import atomic_write_json
from .locate import list_bundled_checkpoints, resolve_checkpoint, resolve_device, resolve_dtype
from .modeling_panda_lite import PandaLiteModel, left_pad, roll_out

EXPERT_CHOICES = ("auto", *EXPERTS)
MAX_CHANNELS_PER_PASS = 2048  # series x channels in one network pass


@dataclass
class PipelineConfig:
    """Inference policy a checkpoint carries in `pipeline_config.json` (like transformers'
    `generation_config.json`): the defaults of a [`PandaLitePipeline`], each switchable there.

    Attributes:
        expert: "off" (the network forecasts every series) or "nvar" (the in-context NVAR
            expert forecasts the series whose backtest it wins; see `panda_lite.experts`).
        nvar_delays: delay taps of the NVAR expert.
    """

    expert: str = "off"
    nvar_delays: int = 2

    FILE_NAME = "pipeline_config.json"

    def __post_init__(self) -> None:
        if self.expert not in EXPERTS:
            raise ValueError(f"PipelineConfig.expert: must be one of {EXPERTS}, got {self.expert!r}")
        check_positive_int("PipelineConfig.nvar_delays", self.nvar_delays)

    @classmethod
    def from_pretrained(cls, location: str, **hub_kwargs: Any) -> PipelineConfig:
        """Reads `pipeline_config.json` of a checkpoint folder or Hub repo; defaults without one."""
        from transformers.utils import cached_file

        path = cached_file(location, cls.FILE_NAME, _raise_exceptions_for_missing_entries=False, **hub_kwargs)
        if path is None:
            return cls()
        try:
            values = json.loads(Path(path).read_text())
            return cls(**values)
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"{path}: not a valid {cls.FILE_NAME} ({error}); expected keys {list(asdict(cls()))}"
            ) from None

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        atomic_write_json(Path(folder) / self.FILE_NAME, asdict(self))


class PandaLitePipeline:
    """Zero-shot forecasts from a pretrained [`PandaLiteModel`].

    Contexts are time-first, as trajectories from dysts or scipy come: (T,), (T, C) or
    (B, T, C), or a list of (T_i, C) series of different lengths. Each series is handled on
    its own (normalised by its own statistics, padded to the full context), so a forecast
    never depends on what else is in the batch.

    Args:
        model: the forecaster.
        config: inference policy (default: the network alone). `pipe.config` is the model's.
    """

    def __init__(self, model: PandaLiteModel, config: PipelineConfig | None = None):
        self.model = model.eval()
        self.pipeline_config = config or PipelineConfig()
        #: The weights' precision and how it was chosen (e.g. "float32 (auto: cpu has no native
        #: bfloat16)"), for reports.
        self.precision = str(self.dtype).removeprefix("torch.")

    @property
    def config(self) -> PandaLiteConfig:
        return self.model.config

    @property
    def expert(self) -> str:
        """The in-context expert `predict` uses by default: "off" or "nvar"."""
        return self.pipeline_config.expert

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        expert: str = "auto",
        **kwargs: Any,
    ) -> PandaLitePipeline:
        """Loads a checkpoint by bundled name (see `list_bundled_checkpoints()`), local folder
        or Hugging Face Hub id. Bundled names and folders never touch the network, and the
        checkpoint is loaded strictly (`PandaLiteModel.from_pretrained(..., strict=True)`): its
        files must hold exactly this model's finite tensors, or a ValueError names them.

        Args:
            device: e.g. "cpu", "cuda:0" or a torch.device; default CPU. One this machine does
                not have is a ValueError listing the ones it has (`resolve_device`).
            dtype: "auto" (bfloat16 where the device multiplies it natively, see
                `native_bfloat16`, else float32), a torch dtype or its name; default float32,
                the reference. `torch_dtype` is accepted too. `pipe.precision` says what was
                chosen and why.
            expert: "auto" (the checkpoint's `pipeline_config.json`, else "off"), "off" or "nvar".
            kwargs: passed on to `PandaLiteModel.from_pretrained` (e.g. `revision`, `cache_dir`).
        """
        target = resolve_device(device)
        dtype, precision = resolve_dtype(kwargs.pop("torch_dtype", dtype), target)
        if expert not in EXPERT_CHOICES:
            raise ValueError(f"expert must be one of {EXPERT_CHOICES}, got {expert!r}")
        location, is_local = resolve_checkpoint(name_or_path)
        if is_local:
            kwargs["local_files_only"] = True
        try:
            model = PandaLiteModel.from_pretrained(location, dtype=dtype, strict=True, **kwargs)
        except OSError as error:
            if is_local:
                raise
            raise OSError(
                f"could not load {str(name_or_path)!r}: it is not a local folder, not a bundled checkpoint "
                f"(bundled: {list_bundled_checkpoints()}), and loading it from the Hugging Face Hub failed: {error}"
            ) from error
        hub_kwargs = {k: kwargs[k] for k in ("revision", "cache_dir", "local_files_only", "token") if k in kwargs}
        config = PipelineConfig.from_pretrained(location, **hub_kwargs)
        if expert != "auto":
            config = PipelineConfig(**{**asdict(config), "expert": expert})
        model.to(target)  # type: ignore[arg-type]  # (transformers wraps Module.to; mypy misreads it)
        pipe = cls(model, config)
        pipe.precision = precision
        return pipe

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        """The model (`save_pretrained`) and this pipeline's `pipeline_config.json`."""
        self.model.save_pretrained(folder)
        self.pipeline_config.save_pretrained(folder)

    def _prepare(self, context: ContextLike) -> tuple[list[np.ndarray], bool]:
        """Validates contexts and keeps the most recent `context_length` steps of each."""
        series, single = split_contexts(context)
        if not series:
            raise ValueError("context is an empty batch; expected at least one series")
        config = self.config
        channels = {s.shape[1] for s in series}
        if len(channels) > 1:
            raise ValueError(
                f"series in one call must have the same number of channels, got {sorted(channels)}; "
                "call predict once per channel count"
            )
        if 0 in channels:
            raise ValueError("context has 0 channels; expected at least one")
        prepared = []
        for i, s in enumerate(series):
            name = "context" if single else f"context[{i}]"
            if s.shape[0] < config.patch_length:
                raise ValueError(
                    f"{name} has {s.shape[0]} time steps; at least one patch ({config.patch_length} steps) is needed"
                )
            s = s[-config.context_length :]
            if np.isinf(s).any():
                raise ValueError(f"{name} contains inf values; use NaN to mark missing steps")
            empty = np.flatnonzero(np.isnan(s).all(axis=0))
            if empty.size:
                raise ValueError(
                    f"{name} channel(s) {empty.tolist()} are all NaN within the last {s.shape[0]} steps; "
                    "every channel needs observed values"
                )
            largest = np.nanmax(np.abs(s))
            if largest > MAX_ABS_VALUE:
                raise ValueError(
                    f"{name} holds values up to {largest:.3g} in magnitude; at most {MAX_ABS_VALUE:g} "
                    "is supported (the variance must stay finite in float64): rescale the series"
                )
            prepared.append(s)
        return prepared, single

    def _to_model_inputs(self, series: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """Series -> the model's padded batch: values (B, L, C) float64 (the model normalises in
        float64, so offsets and scales of any finite size keep their precision) and observed mask."""
        padded = [
            left_pad(
                torch.from_numpy(np.nan_to_num(s, nan=0.0))[None],
                torch.from_numpy(~np.isnan(s))[None],
                self.config.context_length,
            )
            for s in series
        ]
        values = torch.cat([v for v, _ in padded]).to(self.device)
        observed = torch.cat([o for _, o in padded]).to(self.device)
        return values, observed

    def _chunk(self, values: torch.Tensor, observed: torch.Tensor | None) -> torch.Tensor:
        """One network pass: (B, L, C) context -> its next `prediction_length` steps (B, H, C),
        in passes of at most MAX_CHANNELS_PER_PASS channel sequences (memory is bounded)."""
        rows = max(1, MAX_CHANNELS_PER_PASS // values.shape[2])
        parts = []
        for start in range(0, len(values), rows):
            part = slice(start, start + rows)
            mask = None if observed is None else observed[part]
            prediction = self.model(past_values=values[part], past_observed_mask=mask, return_dict=True).prediction
            assert prediction is not None
            parts.append(prediction)
        return torch.cat(parts) if len(parts) != 1 else parts[0]

    def _expert(self, name: str) -> NVARExpert | None:
        if name == "auto":
            name = self.expert
        if name not in EXPERTS:
            raise ValueError(f"expert must be one of {EXPERT_CHOICES}, got {name!r}")
        if name == "off":
            return None
        return NVARExpert(self.pipeline_config.nvar_delays, backtest=self.config.prediction_length)

    @torch.inference_mode()
    def _forecast(
        self, values: torch.Tensor, observed: torch.Tensor, horizon: int, expert: NVARExpert | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's rollout (B, H, C), replaced series by series by the expert's forecast
        where it wins the backtest and stays in range, and which rows it made (B,) bool.

        With the expert, the network's backtests of its candidates run in the forecast's first
        network pass, and the rows the expert takes are not rolled out further.
        """
        rows = len(values)
        used = torch.zeros(rows, dtype=torch.bool)
        if expert is None:
            return roll_out(self._chunk, values, horizon, observed).cpu(), used
        candidates = expert.candidates(values, observed, horizon)
        held_values, held_observed = expert.held_back(values, observed, candidates)
        first = self._chunk(torch.cat([values, held_values]), torch.cat([observed, held_observed]))
        first, by_network = first[:rows], first[rows:]  # (B, H, C), (candidates, H, C)
        forecast = torch.empty(rows, horizon, values.shape[2], dtype=first.dtype)
        chosen = expert.choose(candidates, by_network.cpu().double().numpy())
        contexts = [candidates.contexts[i] for i in chosen]
        for i, by_expert in zip(chosen, expert.forecast(contexts, horizon)):
            if by_expert is not None:
                row = candidates.rows[i]
                forecast[row], used[row] = by_expert.to(forecast.dtype), True
        rest = (~used).nonzero().flatten()
        if len(rest):
            forecast[rest] = roll_out(self._chunk, values[rest], horizon, observed[rest], first[rest]).cpu()
        return forecast, used

    def predict(
        self,
        context: ContextLike,
        prediction_length: int | None = None,
        batch_size: int = 32,
        expert: str | None = None,
        return_expert: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Forecasts `prediction_length` steps after each context.

        Args:
            context: (T,), (T, C) or (B, T, C) numpy array or torch tensor, or a list of
                (T_i, C) series (lengths may differ, channel counts may not). NaN marks a
                missing step. Only the last `config.context_length` steps are used.
            prediction_length: forecast steps (default: the model's native length). Longer
                horizons than native are rolled out on a sliding context.
            batch_size: series per forward pass; results do not depend on it.
            expert: this call's in-context expert, "off", "nvar" or "auto" (default: the
                pipeline's, `self.expert`). A series whose expert wins the backtest is
                forecast by the expert over the whole horizon.
            return_expert: also return which series the expert forecast.

        Returns:
            float64 CPU tensor (H, C) for a single series, (B, H, C) for a batch, in the
            context's units; with `return_expert`, also a bool tensor, () or (B,), True where
            the expert forecast.

        Raises:
            ValueError for a context it cannot forecast (see `_prepare`), naming the series;
            never returns NaN or inf.
        """
        horizon = check_positive_int(
            "prediction_length", self.config.prediction_length if prediction_length is None else prediction_length
        )
        chosen = self._expert(self.expert if expert is None else expert)
        forecast, used = self._map_batches(
            context, batch_size, lambda values, observed: self._forecast(values, observed, horizon, chosen)
        )
        _check_finite(forecast, event_dims=2)
        return (forecast, used) if return_expert else forecast

    def sample(
        self,
        context: ContextLike,
        prediction_length: int | None = None,
        num_samples: int = DEFAULT_NUM_SAMPLES,
        seed: int = 0,
        spread: float = DEFAULT_SPREAD,
        batch_size: int = 32,
        expert: str | None = None,
    ) -> torch.Tensor:
        """An ensemble of forecasts: `predict` of `num_samples` perturbed copies of each context.

        Each series is first backtested: `predict` forecasts its last `patch_length` steps from
        the steps before, and `spread` times that error (per channel, RMS) is the std of the
        Gaussian offset that each member's end state gets, ramped in over those steps; its
        observed steps also get noise at their estimated observation-noise level
        (`panda_lite.ensemble.perturb_context`). Every member is a whole forecast (sharp, on
        the attractor, not an average), and all members run as one batch through `predict`'s
        path, expert choice included, so a series' members do not depend on the rest of the
        batch either.

        Args:
            context, prediction_length, batch_size, expert: as in `predict`; `batch_size`
                counts members.
            num_samples: members S per series.
            seed: non-negative int; the members of a series depend only on it and on the
                series' values, and the first S of a larger ensemble are the S-member one.
            spread: multiple of the backtest error that sets the end-state offsets (>= 0; 0
                keeps only the observation noise).

        Returns:
            float64 CPU tensor (S, H, C) for a single series, (B, S, H, C) for a batch, in the
            context's units.
        """
        horizon = check_positive_int(
            "prediction_length", self.config.prediction_length if prediction_length is None else prediction_length
        )
        members = check_positive_int("num_samples", num_samples)
        check_seed(seed)
        if isinstance(spread, bool) or not isinstance(spread, (int, float)) or not 0 <= spread < float("inf"):
            raise ValueError(f"spread must be a finite number >= 0, got {spread!r}")
        check_positive_int("batch_size", batch_size)
        chosen = self._expert(self.expert if expert is None else expert)
        series, single = self._prepare(context)
        scales = self._backtest_errors(series, batch_size, chosen)
        perturbed = [
            member
            for s, scale in zip(series, scales)
            for member in perturb_context(s, spread * scale, members, seed, self.config.patch_length)
        ]
        (forecast,) = self._run_batches(
            perturbed, batch_size, lambda values, observed: self._forecast(values, observed, horizon, chosen)[:1]
        )
        forecast = forecast.reshape(len(series), members, horizon, -1)
        _check_finite(forecast, event_dims=3)
        return forecast[0] if single else forecast

    def predict_quantiles(
        self,
        context: ContextLike,
        prediction_length: int | None = None,
        quantile_levels: tuple[float, ...] | list[float] = DEFAULT_QUANTILE_LEVELS,
        **sample_kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Quantiles and mean of the ensemble of `sample` (Chronos's interface, with channels).

        Args:
            context, prediction_length: as in `predict`.
            quantile_levels: levels in (0, 1); the quantiles are the members' empirical ones,
                so they never decrease with the level.
            sample_kwargs: `num_samples`, `seed`, `spread`, `batch_size`, `expert` of `sample`.

        Returns:
            quantiles, float64 (H, C, Q) for a single series or (B, H, C, Q) for a batch, and the
            members' mean, (H, C) or (B, H, C).
        """
        levels = check_levels(quantile_levels)
        samples = self.sample(context, prediction_length, **sample_kwargs)
        quantiles = torch.from_numpy(ensemble_quantiles(samples.numpy(), levels))
        return quantiles, samples.mean(dim=-3)

    def _backtest_errors(
        self, series: list[np.ndarray], batch_size: int, expert: NVARExpert | None
    ) -> list[np.ndarray]:
        """Per series, the (C,) RMS error of `predict` on its last `patch_length` steps from the
        steps before (`panda_lite.ensemble.backtest_error`); a series too short to keep a patch
        before them gets its std (the state is only known to the attractor's spread)."""
        steps = self.config.patch_length
        testable = [i for i, s in enumerate(series) if len(s) >= 2 * steps]
        errors = [np.nanstd(s, axis=0) for s in series]
        if testable:
            (backtests,) = self._run_batches(
                [series[i][:-steps] for i in testable],
                batch_size,
                lambda values, observed: self._forecast(values, observed, steps, expert)[:1],
            )
            for i, forecast in zip(testable, backtests.numpy()):
                errors[i] = backtest_error(forecast, series[i][-steps:], series[i])
        return errors

    @torch.inference_mode()
    def embed(self, context: ContextLike, batch_size: int = 32) -> torch.Tensor:
        """Encoder tokens of each context: float32 CPU tensor (C, N, D) for a single series,
        (B, C, N, D) for a batch, D = config.d_model, N = config.num_tokens: the context's
        patches, then (with `parrot_motif_length`) each parroted candidate's."""
        (tokens,) = self._map_batches(
            context,
            batch_size,
            lambda values, observed: (
                self.model(past_values=values, past_observed_mask=observed).last_hidden_state.float(),
            ),
        )
        return tokens

    def _map_batches(
        self,
        context: ContextLike,
        batch_size: int,
        run: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]],
    ) -> tuple[torch.Tensor, ...]:
        """Validates and pads `context`, applies `run(values, observed)` to its series in
        batches (`_run_batches`), and returns its outputs on CPU, without the batch axis for a
        single series."""
        check_positive_int("batch_size", batch_size)
        series, single = self._prepare(context)
        joined = self._run_batches(series, batch_size, run)
        return tuple(output[0] for output in joined) if single else joined

    def _run_batches(
        self,
        series: list[np.ndarray],
        batch_size: int,
        run: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]],
    ) -> tuple[torch.Tensor, ...]:
        """`run(values, observed)` on at most `batch_size` prepared series at a time (fewer when
        they have many channels, so that a pass holds at most MAX_CHANNELS_PER_PASS channel
        sequences: memory is bounded), outputs joined along the batch axis on CPU."""
        step = max(1, min(batch_size, MAX_CHANNELS_PER_PASS // series[0].shape[1]))
        outputs = []
        for start in range(0, len(series), step):
            values, observed = self._to_model_inputs(series[start : start + step])
            outputs.append([output.cpu() for output in run(values, observed)])
        return tuple(torch.cat(parts) for parts in zip(*outputs))


def _check_finite(forecast: torch.Tensor, event_dims: int) -> None:
    """A guard on a forecast whose last `event_dims` axes are one series' (the input checks
    should make it unreachable): a ValueError naming the series that are not finite."""
    finite = torch.isfinite(forecast).flatten(-event_dims).all(-1)  # () or (B,)
    if not finite.all():
        rows = (~finite).reshape(-1).nonzero().flatten().tolist()
        raise ValueError(f"the forecast of series {rows} is not finite; please report the context that caused it")
