"""Training configuration: a YAML file -> nested dataclasses, with `key=value` overrides.

Overrides use dotted keys for nested sections (`optim.learning_rate=3e-4`, `model.d_model=64`)
and values are parsed as YAML scalars (`true`, `1e-3`, `null`, `[2, 3]`). Unknown keys (in every
section; `model.*` keys are PandaLiteConfig arguments) are rejected by name with the nearest
known key suggested, and values of the wrong type with a message naming the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .observation import ObservationConfig

CONFIGS_DIR = Path(__file__).parent / "configs"


class Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 booleans: only true/false are bools, so that values
    such as `mixed_precision=no` or `pipeline.expert=off` stay the strings they name."""


Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

OBJECTIVES = ("forecast", "mlm")
MIXED_PRECISION = ("no", "bf16", "fp16")
SDPA_BACKENDS = ("math", "flash", "efficient", "cudnn")  # see objectives.attention_kernel


@dataclass
class DataConfig:
    """Where samples come from and how they are drawn and augmented."""

    corpus: str = ""  # corpus root holding train/ (and test/, never read here)
    num_channels: int = 3  # channels per sample; trajectories with fewer are delay-embedded
    validation_fraction: float = 0.05  # fraction of systems (by hash of system_id) held out
    validation_batches: int = 4  # fixed validation batches per process
    p_delay_embedding: float = 0.1  # probability of a time-delay embedding of one coordinate
    p_convex: float = 0.1  # probability of random convex combinations of channels
    p_affine: float = 0.1  # probability of a random affine mix of channels
    max_delay: int = 10  # largest lag (in samples) of the delay embedding
    num_workers: int = 0  # DataLoader worker processes per training process
    log_samples: bool = False  # write the ids of every sample to samples-rank{r}.jsonl
    # How training windows are observed: noise, channels, sensor map, sampling rate, context length
    # (keys documented in observation.ObservationConfig); all off by default.
    observation: ObservationConfig = field(default_factory=ObservationConfig)


@dataclass
class OptimConfig:
    """AdamW with linear warm-up then cosine decay, per optimiser step."""

    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.95
    warmup_fraction: float = 0.05  # of max_steps
    min_lr_ratio: float = 0.0  # final learning rate as a fraction of the peak
    max_grad_norm: float = 1.0  # gradient clipping; 0 disables


@dataclass
class TrainConfig:
    """One training run. `model` holds PandaLiteConfig keyword arguments, `pipeline` the
    inference defaults the exported checkpoint carries (PipelineConfig, e.g. expert: nvar)."""

    output_dir: str = "runs/default"
    model: dict = field(default_factory=dict)
    pipeline: dict = field(default_factory=dict)  # PipelineConfig kwargs, exported as pipeline_config.json
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    objective: str = "forecast"  # "forecast" or "mlm" (masked-patch pretraining)
    rollout_steps: int = 1  # native-horizon chunks the forecaster rolls out per sample; 1 = one shot
    init_from: str | None = None  # checkpoint (folder, bundled name, Hub id) whose weights start the run
    seed: int = 0
    batch_size: int = 32  # samples per process per micro-batch
    gradient_accumulation_steps: int = 1
    max_steps: int = 1000  # optimiser steps; sizes the learning-rate schedule
    max_minutes: float | None = None  # stop (and export) after this wall time, whatever the step
    stop_at_step: int | None = None  # stop (and export) at this step; the schedule is still sized by
    #                                  max_steps, so a run that max_minutes stopped can be rebuilt exactly
    mixed_precision: str = "no"  # "no", "bf16" (CPU or GPU) or "fp16" (GPU only)
    compile: bool = False  # torch.compile the forward pass
    sdpa_backend: str | None = None  # force an attention kernel (SDPA_BACKENDS); None lets torch choose
    num_threads: int | None = None  # torch intra-op threads per process (CPU)
    log_every: int = 10
    eval_every: int = 100
    save_every: int = 200
    keep_checkpoints: int = 3
    tracker: str = "tensorboard"  # any tracker Accelerate supports, or "none"
    early_stopping_patience: int | None = None  # validations without improvement before stopping

    def __post_init__(self) -> None:
        validate(self)


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ValueError(f"config key {key!r}: {message}")


def model_keys() -> list[str]:
    """The `model.*` keys: PandaLiteConfig's keyword arguments."""
    from ..configuration_panda_lite import PandaLiteConfig

    parameters = inspect.signature(PandaLiteConfig.__init__).parameters.values()
    return [p.name for p in parameters if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _check_keys(values: dict, known: list[str], prefix: str) -> None:
    """Raises ValueError naming the first unknown key of a section and the nearest known one."""
    unknown = sorted(set(values) - set(known))
    if not unknown:
        return
    close = difflib.get_close_matches(unknown[0], known, n=1)
    hint = f"; did you mean {prefix + close[0]!r}?" if close else ""
    raise ValueError(
        f"unknown config key(s) {[prefix + k for k in unknown]}{hint} "
        f"(known keys in section {prefix.rstrip('.') or '<root>'!r}: {', '.join(sorted(known))})"
    )


def validate(config: TrainConfig) -> None:
    """Raises ValueError for values no run can use, naming the key and what is expected."""
    positive = [
        "batch_size",
        "gradient_accumulation_steps",
        "max_steps",
        "log_every",
        "eval_every",
        "save_every",
        "keep_checkpoints",
        "rollout_steps",
    ]
    for key in positive:
        _check(getattr(config, key) > 0, key, f"must be a positive integer, got {getattr(config, key)!r}")
    _check(config.objective in OBJECTIVES, "objective", f"must be one of {OBJECTIVES}, got {config.objective!r}")
    _check(
        config.mixed_precision in MIXED_PRECISION,
        "mixed_precision",
        f"must be one of {MIXED_PRECISION}, got {config.mixed_precision!r}",
    )
    _check(
        config.objective == "forecast" or config.rollout_steps == 1,
        "rollout_steps",
        "rollout applies to the forecast objective only; set rollout_steps=1 with objective=mlm",
    )
    _check(
        config.sdpa_backend is None or config.sdpa_backend in SDPA_BACKENDS,
        "sdpa_backend",
        f"must be one of {SDPA_BACKENDS} or null, got {config.sdpa_backend!r}",
    )
    _check(config.max_minutes is None or config.max_minutes > 0, "max_minutes", "must be > 0 or null")
    _check(
        config.stop_at_step is None or 0 < config.stop_at_step <= config.max_steps,
        "stop_at_step",
        f"must be in [1, max_steps={config.max_steps}] or null, got {config.stop_at_step!r}",
    )
    _check(config.num_threads is None or config.num_threads > 0, "num_threads", "must be > 0 or null")
    _check(
        config.early_stopping_patience is None or config.early_stopping_patience > 0,
        "early_stopping_patience",
        "must be > 0 or null",
    )
    _check_keys(config.model, model_keys(), "model.")
    if config.pipeline:
        from ..pipeline import PipelineConfig

        try:
            _check_keys(config.pipeline, [f.name for f in dataclasses.fields(PipelineConfig)], "pipeline.")
            PipelineConfig(**config.pipeline)
        except (TypeError, ValueError) as error:
            raise ValueError(f"config key 'pipeline': {error}") from None
    data, optim = config.data, config.optim
    _check(data.num_channels > 0, "data.num_channels", f"must be > 0, got {data.num_channels!r}")
    _check(0.0 <= data.validation_fraction < 1.0, "data.validation_fraction", "must be in [0, 1)")
    _check(data.validation_batches > 0, "data.validation_batches", "must be > 0")
    for key in ("p_delay_embedding", "p_convex", "p_affine"):
        value = getattr(data, key)
        _check(0.0 <= value <= 1.0, f"data.{key}", f"is a probability, must be in [0, 1], got {value!r}")
    _check(
        data.p_delay_embedding + data.p_convex + data.p_affine <= 1.0,
        "data.p_*",
        "augmentations are exclusive per sample: their probabilities must sum to <= 1",
    )
    _check(data.max_delay >= 1, "data.max_delay", "must be >= 1")
    _check(data.num_workers >= 0, "data.num_workers", "must be >= 0")
    _validate_observation(data.observation, data.num_channels)
    _check(optim.learning_rate > 0, "optim.learning_rate", "must be > 0")
    _check(optim.weight_decay >= 0, "optim.weight_decay", "must be >= 0")
    _check(0 <= optim.beta1 < 1 and 0 <= optim.beta2 < 1, "optim.beta1/beta2", "must be in [0, 1)")
    _check(0.0 <= optim.warmup_fraction < 1.0, "optim.warmup_fraction", "must be in [0, 1)")
    _check(0.0 <= optim.min_lr_ratio <= 1.0, "optim.min_lr_ratio", "must be in [0, 1]")
    _check(optim.max_grad_norm >= 0, "optim.max_grad_norm", "must be >= 0 (0 disables clipping)")


def _check_range(values: list, key: str, low: float, integer: bool = False) -> None:
    """A `[low_value, high_value]` config range of numbers >= low (integers if `integer`)."""
    kind = int if integer else (int, float)
    _check(
        isinstance(values, list)
        and len(values) == 2
        and all(isinstance(v, kind) and not isinstance(v, bool) for v in values)
        and low <= values[0] <= values[1],
        key,
        f"must be a range [low, high] of {'integers' if integer else 'numbers'} with {low} <= low <= high, "
        f"got {values!r}",
    )


def _validate_observation(observation: ObservationConfig, num_channels: int) -> None:
    prefix = "data.observation."
    for key in ("p_noise", "p_channels", "p_sensor_map", "p_resample", "p_context_length"):
        value = getattr(observation, key)
        _check(0.0 <= value <= 1.0, prefix + key, f"is a probability, must be in [0, 1], got {value!r}")
    _check_range(observation.noise_fraction, prefix + "noise_fraction", 0.0)
    _check(
        1 <= observation.min_channels <= num_channels,
        prefix + "min_channels",
        f"must be in [1, data.num_channels={num_channels}], got {observation.min_channels!r}",
    )
    _check_range(observation.sensor_strength, prefix + "sensor_strength", 0.0)
    _check_range(observation.sensor_sharpness, prefix + "sensor_sharpness", 1e-3)
    _check_range(observation.points_per_period, prefix + "points_per_period", 1.0)
    _check_range(observation.context_length, prefix + "context_length", 1, integer=True)


def _type_ok(value: Any, annotation: Any) -> bool:
    """Whether a YAML-parsed value fits a (resolved) field annotation; ints pass as floats."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin or annotation)


def _as_float(text: str, key: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"config key {key!r}: expected a number, got {text!r}") from None


def _build(cls: type, values: dict, prefix: str) -> Any:
    """Nested dict -> dataclass `cls`, rejecting unknown keys and mistyped values."""
    if not isinstance(values, dict):
        raise ValueError(f"config section {prefix.rstrip('.') or '<root>'!r} must be a mapping, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    _check_keys(values, list(fields), prefix)
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if isinstance(value, str) and _type_ok(1.0, hint) and not _type_ok("", hint):
            value = _as_float(value, prefix + name)  # YAML 1.1 reads "1e-3" (no dot) as a string
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, f"{prefix}{name}.")
        elif not _type_ok(value, hint):
            raise ValueError(f"config key {prefix + name!r}: expected {hint}, got {value!r} ({type(value).__name__})")
        else:
            kwargs[name] = float(value) if hint is float else value
    return cls(**kwargs)


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """Applies `dotted.key=yaml_value` strings to a nested dict (in place) and returns it."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r} is not of the form key=value (dots for nested keys)")
        *parents, leaf = key.split(".")
        node = values
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {part!r} is not a section")
        node[leaf] = yaml.load(raw, Loader=Loader)
    return values


def bundled_configs() -> list[str]:
    """Names of the configs shipped with the package (`--config NAME`)."""
    return sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml"))


def config_path(name_or_path: str | Path) -> Path:
    """A bundled config name (e.g. "mini") or a YAML file -> its path."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    bundled = CONFIGS_DIR / f"{name_or_path}.yaml"
    if bundled.is_file():
        return bundled
    raise ValueError(f"config {str(name_or_path)!r} is neither a YAML file nor a bundled config ({bundled_configs()})")


def load_config(path: str | Path | None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Reads a YAML config (a file, or a bundled name; defaults when `path` is None), applies
    overrides, and returns a validated TrainConfig."""
    values: dict = {}
    if path is not None:
        values = yaml.load(config_path(path).read_text(), Loader=Loader) or {}
    return _build(TrainConfig, apply_overrides(values, list(overrides)), "")


def to_dict(config: TrainConfig) -> dict:
    """The config as plain nested dicts, e.g. for the tracker and the model card."""
    return dataclasses.asdict(config)


def flatten(values: dict, prefix: str = "") -> dict:
    """Nested dict -> {"a.b": scalar}; lists and None become strings (tracker hparams need scalars)."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return flat
