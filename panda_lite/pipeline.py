"""Zero-shot forecasting with a pretrained PandaLite: input checks, batching and rollout."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .configuration_panda_lite import PandaLiteConfig
from .evaluation.baselines import NVAR
from .evaluation.data import standardize
from .evaluation.metrics import smape
from .modeling_panda_lite import PandaLiteModel

BUNDLED_CHECKPOINTS_DIR = Path(__file__).parent / "checkpoints"

ContextLike = np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor]


def list_bundled_checkpoints() -> list[str]:
    """Names of the checkpoints shipped inside the package, loadable offline by name."""
    if not BUNDLED_CHECKPOINTS_DIR.is_dir():
        return []
    return sorted(p.name for p in BUNDLED_CHECKPOINTS_DIR.iterdir() if (p / "config.json").is_file())


def resolve_checkpoint(name_or_path: str | os.PathLike) -> tuple[str, bool]:
    """Maps a bundled name, a local folder or a Hub id to (location, is_local)."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"checkpoint folder {path} has no config.json; expected a save_pretrained output")
        return str(path), True
    bundled = BUNDLED_CHECKPOINTS_DIR / str(name_or_path)
    if (bundled / "config.json").is_file():
        return str(bundled), True
    return str(name_or_path), False


def _as_float_array(series, position: str) -> np.ndarray:
    """One context as a float64 numpy array, rejecting non-numeric input with a clear message."""
    if isinstance(series, torch.Tensor):
        series = series.detach().to("cpu", torch.float64).numpy()
    array = np.asarray(series)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{position}: expected real numbers (float or int), got dtype {array.dtype}")
    return array.astype(np.float64, copy=False)


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _split_contexts(context: ContextLike) -> tuple[list[np.ndarray], bool]:
    """Any accepted context form -> list of (T_i, C) arrays and whether the input was one series."""
    if isinstance(context, (np.ndarray, torch.Tensor)):
        array = _as_float_array(context, "context")
        if array.ndim == 1:
            return [array[:, None]], True
        if array.ndim == 2:
            return [array], True
        if array.ndim == 3:
            return list(array), False
        raise ValueError(
            f"context has {array.ndim} dimensions (shape {array.shape}); expected (T,), (T, C) or (B, T, C)"
        )
    if isinstance(context, Sequence) and not isinstance(context, (str, bytes)):
        series = []
        for i, item in enumerate(context):
            array = _as_float_array(item, f"context[{i}]")
            if array.ndim == 1:
                array = array[:, None]
            if array.ndim != 2:
                raise ValueError(f"context[{i}] has shape {array.shape}; each series must be (T,) or (T, C)")
            series.append(array)
        return series, False
    raise ValueError(f"context must be a numpy array, a torch tensor or a list of them, got {type(context).__name__}")


class PandaLitePipeline:
    """Zero-shot forecasts from a pretrained [`PandaLiteModel`].

    Contexts are time-first, as trajectories from dysts or scipy come: (T,), (T, C) or
    (B, T, C), or a list of (T_i, C) series of different lengths. Each series is handled on
    its own (normalised by its own statistics, padded to the full context), so a forecast
    never depends on what else is in the batch.
    """

    def __init__(self, model: PandaLiteModel):
        self.model = model.eval()

    @property
    def config(self) -> PandaLiteConfig:
        return self.model.config

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
        **kwargs,
    ) -> "PandaLitePipeline":
        """Loads a checkpoint by bundled name (see `list_bundled_checkpoints()`), local folder
        or Hugging Face Hub id. Bundled names and folders never touch the network.

        Args:
            device: e.g. "cpu", "cuda"; default CPU.
            dtype: e.g. torch.float32, "bfloat16"; default float32. `torch_dtype` is accepted too.
            kwargs: passed on to `PandaLiteModel.from_pretrained` (e.g. `revision`, `cache_dir`).
        """
        dtype = kwargs.pop("torch_dtype", dtype)
        if isinstance(dtype, str):
            if not isinstance(getattr(torch, dtype, None), torch.dtype):
                raise ValueError(f"dtype {dtype!r} is not a torch dtype name (e.g. 'float32', 'bfloat16')")
            dtype = getattr(torch, dtype)
        location, is_local = resolve_checkpoint(name_or_path)
        if is_local:
            kwargs["local_files_only"] = True
        try:
            model = PandaLiteModel.from_pretrained(location, dtype=dtype or torch.float32, **kwargs)
        except OSError as error:
            if is_local:
                raise
            raise OSError(
                f"could not load {str(name_or_path)!r}: it is not a local folder, not a bundled checkpoint "
                f"(bundled: {list_bundled_checkpoints()}), and loading it from the Hugging Face Hub failed: {error}"
            ) from error
        return cls(model.to(device or "cpu"))

    def _prepare(self, context: ContextLike) -> tuple[list[np.ndarray], bool]:
        """Validates contexts and keeps the most recent `context_length` steps of each."""
        series, single = _split_contexts(context)
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
            prepared.append(s)
        return prepared, single

    def _to_model_inputs(self, series: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-pads series to context_length: values (B, L, C) and observed mask (B, L, C)."""
        length, channels = self.config.context_length, series[0].shape[1]
        values = np.zeros((len(series), length, channels))
        observed = np.zeros((len(series), length, channels), dtype=bool)
        for row, s in enumerate(series):
            values[row, length - len(s) :] = np.nan_to_num(s, nan=0.0)
            observed[row, length - len(s) :] = ~np.isnan(s)
        return (
            torch.from_numpy(values).to(self.device, torch.float32),
            torch.from_numpy(observed).to(self.device),
        )

    @torch.inference_mode()
    def _rollout(self, values: torch.Tensor, observed: torch.Tensor, prediction_length: int) -> torch.Tensor:
        """Autoregressive forecast of a padded batch: each native-length forecast is appended to
        the context, which slides to keep the latest context_length steps. -> (B, H, C)."""
        config = self.config
        chunks = []
        for _ in range(math.ceil(prediction_length / config.prediction_length)):
            forecast = self.model(past_values=values, past_observed_mask=observed).prediction.float()
            chunks.append(forecast)
            values = torch.cat([values, forecast], dim=1)[:, -config.context_length :]
            observed = torch.cat([observed, torch.ones_like(forecast, dtype=torch.bool)], dim=1)[
                :, -config.context_length :
            ]
        return torch.cat(chunks, dim=1)[:, :prediction_length]

    def _gap_free_steps(self, observed: torch.Tensor) -> torch.Tensor:
        """(B, L, C) observed mask -> (B,) length of each series' trailing fully observed
        run, or 0 where an earlier step is observed too (a gap: no clean context for NVAR)."""
        complete = observed.all(dim=2)  # (B, L)
        run = complete.flip(1).cumprod(dim=1).sum(dim=1)
        return torch.where(run == observed.any(dim=2).sum(dim=1), run, torch.zeros_like(run)).cpu()

    @torch.inference_mode()
    def _expert_choice(self, values: torch.Tensor, observed: torch.Tensor) -> dict[int, np.ndarray]:
        """The series the NVAR expert forecasts: {row: its gap-free context (T, C) float64}
        for each row where the expert forecasts the context's own last `backtest` =
        `prediction_length` steps better than the network (sMAPE on the z-scores of the steps
        before them, which both condition on). Needs a gap-free context of 2 backtests."""
        delays, backtest = self.config.nvar_expert_delays, self.config.prediction_length
        if not delays:
            return {}
        steps = self._gap_free_steps(observed)
        eligible = (steps >= 2 * backtest).nonzero().flatten().tolist()
        if not eligible:
            return {}
        # The network's backtest: the context without its last `backtest` steps (left-padded
        # as missing, like any shorter context), forecasting them.
        network = self._rollout(F.pad(values[:, :-backtest], (0, 0, backtest, 0)),
                                F.pad(observed[:, :-backtest], (0, 0, backtest, 0), value=False),
                                backtest).cpu().double().numpy()  # (B, backtest, C)
        expert, chosen = NVAR(delays=delays), {}
        for row in eligible:
            context = values[row, -int(steps[row]):].cpu().double().numpy()  # (T, C)
            past, truth = context[:-backtest], context[-backtest:]
            expert_error, network_error = (smape(standardize(guess, past), standardize(truth, past))
                                           for guess in (expert(past[None], backtest)[0], network[row]))
            if expert_error < network_error:
                chosen[row] = context
        return chosen

    @torch.inference_mode()
    def _forecast(self, values: torch.Tensor, observed: torch.Tensor, prediction_length: int) -> torch.Tensor:
        """The network's rollout (B, H, C), replaced series by series by the NVAR expert's
        forecast where the expert wins the backtest (see `config.nvar_expert_delays`)."""
        forecast = self._rollout(values, observed, prediction_length).cpu()
        chosen = self._expert_choice(values, observed)
        expert = NVAR(delays=self.config.nvar_expert_delays) if chosen else None
        for row, context in chosen.items():
            forecast[row] = torch.from_numpy(expert(context[None], prediction_length)[0]).float()
        return forecast

    def _expert_mask(self, values: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        """(B,) bool: the rows of `_expert_choice`."""
        mask = torch.zeros(len(values), dtype=torch.bool)
        mask[list(self._expert_choice(values, observed))] = True
        return mask

    def uses_expert(self, context: ContextLike, batch_size: int = 32) -> torch.Tensor:
        """Whether `predict` forecasts each series with the in-context NVAR expert rather than
        the network (`config.nvar_expert_delays`): a bool tensor, () for a single series, (B,)
        for a batch. Always False when the expert is off, for contexts with gaps, and for
        contexts shorter than two `prediction_length`s."""
        return self._map_batches(context, batch_size, self._expert_mask)

    def predict(self, context: ContextLike, prediction_length: int | None = None, batch_size: int = 32) -> torch.Tensor:
        """Forecasts `prediction_length` steps after each context.

        Args:
            context: (T,), (T, C) or (B, T, C) numpy array or torch tensor, or a list of
                (T_i, C) series (lengths may differ, channel counts may not). NaN marks a
                missing step. Only the last `config.context_length` steps are used.
            prediction_length: forecast steps (default: the model's native length). Longer
                horizons than native are rolled out on a sliding context. With
                `config.nvar_expert_delays`, a series whose in-context NVAR expert wins the
                backtest is forecast by the expert instead, over the whole horizon.
            batch_size: series per forward pass; results do not depend on it.

        Returns:
            float32 CPU tensor (H, C) for a single series, (B, H, C) for a batch.
        """
        prediction_length = self.config.prediction_length if prediction_length is None else prediction_length
        _check_positive_int("prediction_length", prediction_length)
        return self._map_batches(
            context, batch_size, lambda values, observed: self._forecast(values, observed, int(prediction_length))
        )

    @torch.inference_mode()
    def embed(self, context: ContextLike, batch_size: int = 32) -> torch.Tensor:
        """Encoder tokens of each context: float32 CPU tensor (C, N, D) for a single series,
        (B, C, N, D) for a batch, D = config.d_model, N = config.num_tokens: the context's
        patches, then (with `parrot_motif_length`) each parroted candidate's."""
        return self._map_batches(
            context,
            batch_size,
            lambda values, observed: self.model(past_values=values, past_observed_mask=observed).last_hidden_state.float(),
        )

    def _map_batches(self, context: ContextLike, batch_size: int, run) -> torch.Tensor:
        """Validates and pads `context`, applies `run(values, observed)` to `batch_size` series at
        a time, and returns the results on CPU, without the batch axis for a single series."""
        _check_positive_int("batch_size", batch_size)
        series, single = self._prepare(context)
        outputs = []
        for start in range(0, len(series), batch_size):
            values, observed = self._to_model_inputs(series[start : start + batch_size])
            outputs.append(run(values, observed).cpu())
        output = torch.cat(outputs)
        return output[0] if single else output
