"""The training loop shared by pretraining and fine-tuning, on Accelerate.

One code path from one CPU core to many GPUs on many nodes: Accelerate wraps the model
(DDP/FSDP) and the optimiser and applies mixed precision; each process draws its own
batches (see `windows`), so the data loader is deliberately not `prepare`d (no batch
dispatching or re-sharding by Accelerate). The learning-rate schedule is stepped by hand
once per optimiser step, so its length is `max_steps` whatever the number of processes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import accelerate
import numpy as np
import torch
import transformers
import yaml
from accelerate import Accelerator
from accelerate.utils import set_seed
from safetensors.torch import load_file
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .. import __version__
from ..configuration_panda_lite import PandaLiteConfig
from ..io import atomic_write_json, replace_folder
from ..locate import resolve_checkpoint
from ..modeling_panda_lite import PandaLiteForPretraining, PandaLiteModel
from ..pipeline import PipelineConfig
from .card import render_card
from .config import TrainConfig, flatten, to_dict
from .objectives import attention_kernel, objective_loss
from .state import restore_rng, resume_checkpoint, save_checkpoint
from .windows import BatchStream, RunData

MASK_STREAM = 2  # seed stream of masked-patch draws (windows use 0 and 1)
# Whole (unsharded) state dicts on every process, keyed by parameter name: one form for a
# plain, DDP or FSDP model, and for the optimiser state of each.
FULL_STATE = StateDictOptions(full_state_dict=True)


class Progress:
    """Counters and early-stopping state, saved with every checkpoint (state.json)."""

    def __init__(self):
        self.step, self.samples, self.seconds = 0, 0, 0.0
        self.initial_validation, self.best_validation, self.evals_without_improvement = math.nan, math.inf, 0

    def state_dict(self) -> dict:
        return dict(vars(self))

    def load_state_dict(self, state: dict) -> None:
        vars(self).update(state)


def configure_torch(num_threads: int | None) -> None:
    """Process-wide CPU settings of a run: intra-op threads (None: torch's default) and
    flushing of subnormal floats to zero.

    Why flush: near-zero normalised values (e.g. the degree-3 monomials of the dynamics
    embedding on a quiet channel) produce subnormals, on which x86 CPUs run 10-15x slower;
    measured on the mini config, fp32 steps went from ~0.4 s to 3-6.5 s without it. Values
    below 1e-38 carry nothing the loss can see."""
    if num_threads:
        torch.set_num_threads(num_threads)
    torch.set_flush_denormal(True)


def make_accelerator(config: TrainConfig) -> Accelerator:
    """Accelerator for a config; raises for fp16 without a GPU (CPU autocast supports bf16 only)."""
    if config.mixed_precision == "fp16" and not torch.cuda.is_available():
        raise ValueError("mixed_precision=fp16 needs a GPU; use bf16 (CPU or GPU) or no")
    configure_torch(config.num_threads)
    tracker = None if config.tracker == "none" else config.tracker
    # `accelerate launch --cpu` starts a single process (several only through mpirun), so a
    # multi-process CPU run is launched like a GPU one (`--multi_gpu --num_processes N`, i.e.
    # torchrun); without a GPU the processes must then be told to form a gloo CPU group.
    launched_distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    return Accelerator(
        cpu=launched_distributed and not torch.cuda.is_available(),
        mixed_precision=config.mixed_precision,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        log_with=tracker,
        project_dir=config.output_dir,
        step_scheduler_with_optimizer=False,
    )


def build_model(config: TrainConfig) -> PandaLiteModel | PandaLiteForPretraining:
    """A fresh model from `config.model`, or weights from `config.init_from` with `config.model`
    overriding its config (e.g. a new prediction_length; only the head may change shape).

    A masked-patch pretraining checkpoint initialises a forecaster's encoder this way, and a
    forecaster grown to more parroted candidates or NVAR tokens keeps its base's trained head
    (`PandaLiteModel.keep_head_of`)."""
    set_seed(config.seed)  # identical initial weights on every process
    cls = PandaLiteForPretraining if config.objective == "mlm" else PandaLiteModel
    if config.init_from is None:
        return cls(PandaLiteConfig(**config.model))
    location, is_local = resolve_checkpoint(config.init_from)
    model = cls.from_pretrained(
        location, local_files_only=is_local, dtype=torch.float32, ignore_mismatched_sizes=True, **config.model
    )
    base_config = PandaLiteConfig.from_pretrained(location, local_files_only=is_local)
    if isinstance(model, PandaLiteModel) and base_config.num_tokens < model.config.num_tokens:
        base = PandaLiteModel.from_pretrained(location, local_files_only=is_local, dtype=torch.float32)
        model.keep_head_of(base)
    return model


def pipeline_defaults(config: TrainConfig) -> PipelineConfig:
    """The exported forecaster's pipeline_config.json: its `init_from` checkpoint's (so a
    fine-tune keeps its base's expert), updated by the run's `pipeline` section."""
    inherited: dict = {}
    if config.init_from is not None:
        location, is_local = resolve_checkpoint(config.init_from)
        inherited = dataclasses.asdict(PipelineConfig.from_pretrained(location, local_files_only=is_local))
    return PipelineConfig(**{**inherited, **config.pipeline})


def lr_factor(step: int, max_steps: int, warmup_fraction: float, min_ratio: float) -> float:
    """Multiplier of the peak learning rate at optimiser step `step`: linear warm-up over
    `warmup_fraction * max_steps` steps, then cosine decay to `min_ratio` at `max_steps`."""
    warmup = int(warmup_fraction * max_steps)
    if step < warmup:
        return (step + 1) / (warmup + 1)
    progress = min(1.0, (step - warmup) / max(1, max_steps - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def full_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the whole model's weights (every process calls it; FSDP shards are gathered)."""
    weights: dict[str, Any] = get_model_state_dict(model, options=FULL_STATE)
    return {k: v.detach().to("cpu", copy=True) for k, v in weights.items()}


def load_weights(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> None:
    """Sets the whole model's weights; every process passes all of them (FSDP keeps its shard).
    `weights` is left as it was (torch's loader rewrites the dict it is given)."""
    state: dict[str, Any] = dict(weights)
    set_model_state_dict(model, state, options=FULL_STATE)


def optimizer_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    """The optimiser's whole state in two parts: the per-parameter tensors (AdamW keeps only
    tensors), keyed `{parameter name}/{statistic}` for safetensors, and the parameter groups
    (hyperparameters and parameter names: plain values, for JSON)."""
    state: dict[str, Any] = get_optimizer_state_dict(model, optimizer, options=FULL_STATE)
    tensors = {f"{name}/{key}": value for name, stats in state["state"].items() for key, value in stats.items()}
    return tensors, state["param_groups"]


def load_optimizer_state(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], param_groups: list
) -> None:
    """The inverse of `optimizer_state`."""
    per_parameter: dict[str, dict[str, torch.Tensor]] = {}
    for flat_key, value in tensors.items():
        name, _, key = flat_key.rpartition("/")
        per_parameter.setdefault(name, {})[key] = value
    state: dict[str, Any] = {"state": per_parameter, "param_groups": param_groups}
    set_optimizer_state_dict(model, optimizer, state, options=FULL_STATE)


def batch_generator(device: torch.device, config: TrainConfig, rank: int, batch_index: int) -> torch.Generator:
    """The masked-patch generator of one batch, seeded like its windows (pure function of the index)."""
    seed = np.random.SeedSequence([config.seed, MASK_STREAM, rank, batch_index]).generate_state(1)[0]
    return torch.Generator(device=device).manual_seed(int(seed))


class Trainer:
    """Runs `config.max_steps` optimiser steps of `model` on `data`, validating, logging and
    checkpointing along the way, and exports the final (or best-validation) model."""

    def __init__(self, config: TrainConfig, accelerator: Accelerator, model, data: RunData, run_id: str):
        self.config, self.accelerator, self.data, self.run_id = config, accelerator, data, run_id
        self.output_dir = Path(config.output_dir)
        optim = config.optim
        optimizer = torch.optim.AdamW(
            model.parameters(),
            lr=optim.learning_rate,
            weight_decay=optim.weight_decay,
            betas=(optim.beta1, optim.beta2),
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_factor(step, config.max_steps, optim.warmup_fraction, optim.min_lr_ratio)
        )
        self.model, self.optimizer = accelerator.prepare(model, optimizer)
        self.unwrapped = accelerator.unwrap_model(self.model)
        self.forward = torch.compile(self.model) if config.compile else self.model
        self.progress = Progress()
        self.best_state: dict[str, torch.Tensor] | None = None  # best-validation weights, when early stopping
        self.validation_batches = [
            self._to_device(data.validation.batch(i, config.batch_size)) for i in range(config.data.validation_batches)
        ]

    @property
    def checkpoint_dir(self) -> Path:
        return self.output_dir / "checkpoints"

    def resume(self) -> bool:
        """Loads the newest intact checkpoint of this run, if any; returns whether one was found.
        Raises ValueError for checkpoints of another run or when none is intact."""
        found = resume_checkpoint(self.checkpoint_dir, self.run_id, self.accelerator.print)
        if found is None:
            self.accelerator.print(f"no checkpoint in {self.checkpoint_dir}; starting from step 0")
            return False
        checkpoint, state = found
        self._load_state(checkpoint, state)
        if state["num_processes"] != self.accelerator.num_processes:
            self.accelerator.print(
                f"{checkpoint.name} was written by {state['num_processes']} processes, resuming with "
                f"{self.accelerator.num_processes}: the data order differs from the interrupted run's"
            )
        self.accelerator.print(f"resumed from {checkpoint} at step {self.progress.step}")
        return True

    def _save_state(self) -> None:
        """Checkpoints the model, optimiser, schedule, progress (with the early-stopping state),
        loss scaler and best weights as safetensors and JSON (see `state`); all processes call it."""
        optimizer_tensors, param_groups = optimizer_state(self.model, self.optimizer.optimizer)
        tensors = {"model": full_weights(self.model), "optimizer": optimizer_tensors}
        if self.best_state is not None:
            tensors["best"] = self.best_state
        scaler = self.accelerator.scaler
        values = {
            "progress": self.progress.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "optimizer_param_groups": param_groups,
            "scaler": scaler.state_dict() if scaler is not None else None,
        }
        step, keep = self.progress.step, self.config.keep_checkpoints
        save_checkpoint(self.accelerator, self.checkpoint_dir, step, keep, self.run_id, tensors, values)

    def _load_state(self, checkpoint: Path, state: dict) -> None:
        """The inverse of `_save_state`, from a verified checkpoint and its state.json values.
        Checkpoints are taken at optimiser steps, where Accelerate's micro-step counter (which
        times gradient accumulation) is back at a multiple of the accumulation steps: it needs no state."""
        load_weights(self.model, load_file(checkpoint / "model.safetensors"))
        load_optimizer_state(
            self.model,
            self.optimizer.optimizer,
            load_file(checkpoint / "optimizer.safetensors"),
            state["optimizer_param_groups"],
        )
        self.scheduler.load_state_dict(state["scheduler"])
        self.progress.load_state_dict(state["progress"])
        if state["scaler"] is not None:
            self.accelerator.scaler.load_state_dict(state["scaler"])
        self.best_state = load_file(checkpoint / "best.safetensors") if "best.safetensors" in state["files"] else None
        restore_rng(self.accelerator, checkpoint, state["num_processes"])

    def _to_device(self, batch: dict) -> dict:
        device = self.accelerator.device
        return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}

    def _loss(self, batch: dict, forward) -> torch.Tensor:
        generator = batch_generator(
            self.accelerator.device, self.config, self.accelerator.process_index, batch["batch_index"]
        )
        return objective_loss(
            self.config.objective, self.unwrapped, forward, batch, self.config.rollout_steps, generator
        )

    @torch.no_grad()
    def validate(self) -> float:
        """Mean loss over the fixed validation batches of all processes (no augmentation)."""
        self.model.eval()
        with attention_kernel(self.config.sdpa_backend):
            losses = torch.stack([self._loss(batch, self.model).float() for batch in self.validation_batches])
        self.model.train()
        return self.accelerator.reduce(losses.mean(), reduction="mean").item()

    def _record_validation(self, loss: float) -> bool:
        """Logs a validation loss, keeps the best weights when early stopping; returns True to stop."""
        progress, patience = self.progress, self.config.early_stopping_patience
        self.accelerator.log({"validation/loss": loss}, step=progress.step)
        self.accelerator.print(f"step {progress.step}: validation loss {loss:.4f}")
        if loss < progress.best_validation:
            progress.best_validation, progress.evals_without_improvement = loss, 0
            if patience is not None:
                self.best_state = full_weights(self.model)
            return False
        progress.evals_without_improvement += 1
        return patience is not None and progress.evals_without_improvement >= patience

    def _out_of_time(self, started: float) -> bool:
        """True on every process once any process has used up `max_minutes` (one all-reduce)."""
        if self.config.max_minutes is None:
            return False
        spent = self.progress.seconds + time.perf_counter() - started
        flag = torch.tensor(float(spent > 60 * self.config.max_minutes), device=self.accelerator.device)
        return bool(self.accelerator.reduce(flag, reduction="sum").item() > 0)

    def _log_samples(self, batch: dict) -> None:
        path = self.output_dir / f"samples-rank{self.accelerator.process_index}.jsonl"
        with path.open("a") as f:
            f.write(json.dumps({"batch_index": batch["batch_index"], "keys": batch["keys"]}) + "\n")

    def train(self) -> dict:
        """The loop; returns a summary (steps, samples, seconds, losses)."""
        config, accelerator, progress = self.config, self.accelerator, self.progress
        accum, world = config.gradient_accumulation_steps, accelerator.num_processes
        self.output_dir.mkdir(parents=True, exist_ok=True)
        accelerator.init_trackers("panda_lite", config=flatten(to_dict(config)))
        stream = BatchStream(self.data.train, config.batch_size, start=progress.step * accum)
        loader = DataLoader(
            stream,
            batch_size=None,
            num_workers=config.data.num_workers,
            pin_memory=accelerator.device.type == "cuda",  # async host-to-GPU copies
            # Its own generator: starting the loader then leaves the global one (dropout's) alone,
            # so a resumed run draws the dropout masks of an uninterrupted one.
            generator=torch.Generator().manual_seed(config.seed),
        )
        last_step = config.stop_at_step or config.max_steps  # validated <= max_steps, which sizes the schedule
        bar = tqdm(
            total=last_step,
            initial=progress.step,
            disable=not accelerator.is_local_main_process,
            desc="train",
            dynamic_ncols=True,
        )
        num_patches = self.unwrapped.config.num_patches
        started = window_start = time.perf_counter()
        window_loss: torch.Tensor | float = 0.0
        window_batches, window_samples, stop, last_loss = 0, 0, False, math.nan
        if progress.step == 0:  # the starting point: untrained or zero-shot error
            progress.initial_validation = self.validate()
        self.model.train()
        for batch in loader if progress.step < last_step else ():
            batch = self._to_device(batch)
            if config.data.log_samples:
                self._log_samples(batch)
            with accelerator.accumulate(self.model), attention_kernel(config.sdpa_backend):
                loss = self._loss(batch, self.forward)
                accelerator.backward(loss)
                if accelerator.sync_gradients and config.optim.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(self.model.parameters(), config.optim.max_grad_norm)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
            window_loss += loss.detach().float()
            window_batches += 1
            window_samples += batch["past_values"].shape[0]
            if not accelerator.sync_gradients:
                continue
            self.scheduler.step()
            progress.step += 1
            progress.samples += config.batch_size * accum * world
            bar.update(1)
            if progress.step % config.log_every == 0 or progress.step == last_step:
                seconds = time.perf_counter() - window_start
                last_loss = accelerator.reduce(window_loss / window_batches, reduction="mean").item()
                samples_per_s = window_samples * world / seconds
                channels = batch["past_values"].shape[2]
                metrics = {
                    "train/loss": last_loss,
                    "train/lr": self.scheduler.get_last_lr()[0],
                    "train/samples_per_s": samples_per_s,
                    "train/patches_per_s": samples_per_s * channels * num_patches,
                }
                accelerator.log(metrics, step=progress.step)
                bar.set_postfix(
                    loss=f"{last_loss:.4f}", lr=f"{metrics['train/lr']:.2e}", samples_s=f"{samples_per_s:.1f}"
                )
                if accelerator.is_main_process:  # a plain line too, for logs that are not terminals
                    bar.write(
                        f"step {progress.step}: loss {last_loss:.4f}, lr {metrics['train/lr']:.3e}, "
                        f"{samples_per_s:.1f} samples/s, {metrics['train/patches_per_s']:.0f} patches/s"
                    )
                window_start, window_loss, window_batches, window_samples = time.perf_counter(), 0.0, 0, 0
                stop = self._out_of_time(started)  # checked at log steps: it synchronises processes
            if progress.step % config.eval_every == 0:
                stop = self._record_validation(self.validate()) or stop
            stop = stop or progress.step >= last_step
            if stop or progress.step % config.save_every == 0:
                progress.seconds += time.perf_counter() - started
                started = time.perf_counter()
                self._save_state()
            if stop:
                break
        bar.close()
        validation_loss = self.validate()
        if progress.step % config.eval_every != 0:
            self._record_validation(validation_loss)
        if self.best_state is not None:
            load_weights(self.model, self.best_state)
            validation_loss = progress.best_validation
        return {
            "steps": progress.step,
            "samples": progress.samples,
            "seconds": progress.seconds,
            "train_loss": last_loss,
            "initial_validation_loss": progress.initial_validation,
            "validation_loss": validation_loss,
            "best_validation_loss": progress.best_validation,
            "num_processes": world,
            "observation": self.data.train.observation_settings,  # the models applied to training windows
        }

    def export(self, summary: dict, recipe_command: str, base_model: str | None = None) -> Path:
        """Writes `output_dir/model` atomically: `save_pretrained` weights and config, a
        forecaster's pipeline defaults (`pipeline_defaults`, as pipeline_config.json), the
        model card (README.md) and training_summary.json, then ends the run. All processes call it
        (FSDP gathers the full state dict); only the main process writes."""
        accelerator = self.accelerator
        state_dict = accelerator.get_state_dict(self.model)
        destination = self.output_dir / "model"
        if accelerator.is_main_process:
            card = render_card(
                self._card_values(summary, recipe_command, base_model, destination),
                datasets=self.data.datasets,
                base_model=base_model,
            )

            pipeline = pipeline_defaults(self.config) if self.config.objective == "forecast" else None

            def build(folder: Path) -> None:
                self.unwrapped.save_pretrained(folder, state_dict=state_dict)
                if pipeline is not None:
                    pipeline.save_pretrained(folder)
                (folder / "README.md").write_text(card)
                atomic_write_json(folder / "training_summary.json", summary)

            replace_folder(build, destination)
            expert = f"; pipeline default: expert {pipeline.expert}" if pipeline is not None else ""
            accelerator.print(f"exported {destination}{expert}")
        accelerator.wait_for_everyone()
        accelerator.end_training()  # closes trackers and the process group
        return destination

    def _card_values(self, summary: dict, recipe_command: str, base_model: str | None, destination: Path) -> dict:
        model_config = self.unwrapped.config
        objective = (
            "masked-patch reconstruction (MLM) pretraining"
            if self.config.objective == "mlm"
            else f"forecast, {model_config.loss} loss"
            + (f", {self.config.rollout_steps}-chunk rollout" if self.config.rollout_steps > 1 else "")
        )
        kind = "Fine-tuned" if base_model else "Pretrained"
        return {
            "name": destination.parent.name,
            "summary": f"{kind} panda_lite forecaster for chaotic dynamical systems: patched attention "
            "along time and across channels, reading a multivariate context and forecasting "
            "all channels jointly.",
            "parameter_count": f"{sum(p.numel() for p in self.unwrapped.parameters()):,}",
            **{
                key: getattr(model_config, key)
                for key in (
                    "context_length",
                    "prediction_length",
                    "patch_length",
                    "patch_stride",
                    "d_model",
                    "num_hidden_layers",
                    "num_attention_heads",
                    "loss",
                )
            },
            "objective": objective,
            "base_model": base_model or "none (trained from scratch)",
            "load_name": str(destination),
            "data_description": self.data.description,
            "recipe_command": recipe_command,
            "steps": summary["steps"],
            "samples_seen": f"{summary['samples']:,}",
            "training_time": f"{summary['seconds'] / 60:.2f} min on {summary['num_processes']} process(es), "
            f"device {self.accelerator.device.type}, mixed precision {self.config.mixed_precision}",
            "validation_loss": f"{summary['validation_loss']:.4f}",
            "training_config": yaml.safe_dump(to_dict(self.config), sort_keys=False).strip(),
            "panda_lite_version": __version__,
            "torch_version": torch.__version__,
            "transformers_version": transformers.__version__,
            "accelerate_version": accelerate.__version__,
        }


@torch.no_grad()
def validation_errors(trainer: Trainer) -> dict[str, float]:
    """MSE and MAE of the model's forecasts on the fixed validation windows (all processes),
    on the context-normalised scale, so series of any units weigh alike."""
    trainer.model.eval()
    totals = torch.zeros(3, device=trainer.accelerator.device)  # squared error, absolute error, count
    for batch in trainer.validation_batches:
        output = trainer.model(past_values=batch["past_values"])
        error = (output.prediction - batch["future_values"]) / output.scale
        totals += torch.stack(
            [error.square().sum(), error.abs().sum(), torch.tensor(error.numel(), device=error.device)]
        )
    trainer.model.train()
    squared, absolute, count = trainer.accelerator.reduce(totals, reduction="sum").tolist()
    return {"mse": squared / count, "mae": absolute / count}
