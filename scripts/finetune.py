"""Fine-tune a panda_lite checkpoint on your own series.

    python scripts/finetune.py --base CHECKPOINT --data PATH --output DIR [key=value ...]

CHECKPOINT: a bundled name, a local folder or a Hub id. PATH: a CSV (rows = time, columns =
channels), Parquet, .npy (T, C), a folder of those, or a `datasets` folder. Every series is
split by time (the last `data.validation_fraction` validates); training early-stops on the
validation loss and exports the best model with a card naming the base model. Overrides
(dotted keys) change scripts/configs/finetune.yaml, e.g. `max_steps=1000 optim.learning_rate=3e-5`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a plain script: make `scripts.training` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.training.config import load_config
from scripts.training.loop import Trainer, build_model, make_accelerator
from scripts.training.user_data import user_run_data

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "finetune.yaml"


@torch.no_grad()
def validation_errors(trainer: Trainer) -> dict[str, float]:
    """MSE and MAE of the model's forecasts on the fixed validation windows (all processes),
    on the context-normalised scale, so series of any units weigh alike."""
    trainer.model.eval()
    totals = torch.zeros(3, device=trainer.accelerator.device)  # squared error, absolute error, count
    for batch in trainer.validation_batches:
        output = trainer.model(past_values=batch["past_values"])
        error = (output.prediction - batch["future_values"]) / output.scale
        totals += torch.stack([error.square().sum(), error.abs().sum(), torch.tensor(error.numel(), device=error.device)])
    trainer.model.train()
    squared, absolute, count = trainer.accelerator.reduce(totals, reduction="sum").tolist()
    return {"mse": squared / count, "mae": absolute / count}


def comparison_table(zero_shot: dict[str, float], fine_tuned: dict[str, float]) -> str:
    """Zero-shot and fine-tuned validation errors side by side."""
    lines = [f"{'validation error (normalised)':<32}{'zero-shot':>12}{'fine-tuned':>12}{'change':>10}"]
    for metric in zero_shot:
        before, after = zero_shot[metric], fine_tuned[metric]
        lines.append(f"{metric.upper():<32}{before:>12.4f}{after:>12.4f}{(after - before) / before:>+10.1%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="checkpoint to start from: bundled name, folder or Hub id")
    parser.add_argument("--data", required=True, help="CSV, Parquet, .npy, a folder of those, or a datasets folder")
    parser.add_argument("--output", required=True, help="run folder; the model is exported to OUTPUT/model")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="YAML config (default: %(default)s)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, dotted keys for nested sections")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    config = load_config(args.config, [*args.overrides, f"init_from={args.base}", f"output_dir={args.output}",
                                       "objective=forecast", "rollout_steps=1"])
    accelerator = make_accelerator(config)
    model = build_model(config)
    data, context = user_run_data(args.data, model.config.context_length, model.config.prediction_length,
                                  model.config.patch_length, config.data.validation_fraction, config.seed,
                                  accelerator.process_index)
    if context < model.config.context_length:
        accelerator.print(f"series are short: using a context of {context} steps (model: {model.config.context_length})")
    trainer = Trainer(config, accelerator, model, data)
    zero_shot = validation_errors(trainer)
    summary = trainer.train()
    fine_tuned = validation_errors(trainer)  # the best-validation weights, restored by train()
    summary.update(base_model=args.base, zero_shot=zero_shot, fine_tuned=fine_tuned)
    accelerator.print(comparison_table(zero_shot, fine_tuned))
    command = "python scripts/finetune.py " + " ".join(shlex.quote(a) for a in argv)
    trainer.export(summary, command, base_model=args.base)
    return summary


if __name__ == "__main__":
    main()
