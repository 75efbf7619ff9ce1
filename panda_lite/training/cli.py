"""`panda-lite train` and `panda-lite finetune`: pretrain on a data_gen corpus, fine-tune on
your own series. Both take a YAML config (a file or a bundled name) and dotted `key=value`
overrides, and export `OUTPUT/model` (weights, config, card, summary)."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from .config import bundled_configs, load_config

OVERRIDES_HELP = (
    "key=value overrides of the config, dotted keys for nested sections, e.g. "
    "optim.learning_rate=3e-4 model.d_model=64 max_minutes=30"
)
OVERWRITE_HELP = "start over in a used output folder: its run's checkpoints, model and logs are removed first"
RUN_FLAGS = ("--resume", "--overwrite")  # how a run treats its folder, not part of its recipe


def _launcher(num_processes: int, mixed_precision: str) -> str:
    if num_processes > 1:
        return f"accelerate launch --num_processes {num_processes} --mixed_precision {mixed_precision} -m panda_lite"
    return "panda-lite"


def recipe_command(command: str, argv: list[str], num_processes: int, mixed_precision: str) -> str:
    """The command line of this run, as it would be typed to reproduce it."""
    arguments = " ".join(shlex.quote(a) for a in argv if a not in RUN_FLAGS)
    return f"{_launcher(num_processes, mixed_precision)} {command} {arguments}"


def train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="panda-lite train", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config",
        required=True,
        help=f"YAML training config: a file or a bundled name ({', '.join(bundled_configs())})",
    )
    folder = parser.add_mutually_exclusive_group()
    folder.add_argument(
        "--resume", action="store_true", help="continue the run in output_dir from its newest checkpoint"
    )
    folder.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    parser.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    return parser


def finetune_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="panda-lite finetune",
        description="Fine-tune a checkpoint on your own series: every series is split by time (the last "
        "data.validation_fraction validates), training early-stops on the validation loss and "
        "exports the best model with a card naming the base model.",
    )
    parser.add_argument("--base", required=True, help="checkpoint to start from: bundled name, folder or Hub id")
    parser.add_argument("--data", required=True, help="CSV, Parquet, .npy, a folder of those, or a datasets folder")
    parser.add_argument("--output", required=True, help="run folder; the model is exported to OUTPUT/model")
    parser.add_argument(
        "--config", default="finetune", help="YAML config, a file or a bundled name (default: %(default)s)"
    )
    parser.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    parser.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    return parser


def train(argv: list[str]) -> dict[str, Any]:
    """Pretraining on `data.corpus`/train; returns the training summary."""
    from .corpus import corpus_run_data
    from .state import open_run
    from .trainer import Trainer, build_model, make_accelerator

    args = train_parser().parse_args(argv)
    config = load_config(args.config, args.overrides)
    if not config.data.corpus:
        raise ValueError(
            f"no corpus set: config {args.config!r} has no data.corpus; give data.corpus=PATH, "
            "a data_gen corpus root with a train/ folder"
        )
    accelerator = make_accelerator(config)
    run_id = open_run(accelerator, config.output_dir, resume=args.resume, overwrite=args.overwrite)
    model = build_model(config)
    horizon = 0 if config.objective == "mlm" else model.config.prediction_length * config.rollout_steps
    with accelerator.main_process_first():  # one process builds each shard's Arrow cache, the rest reuse it
        data = corpus_run_data(
            config, model.config.context_length, horizon, accelerator.process_index, accelerator.num_processes
        )
    trainer = Trainer(config, accelerator, model, data, run_id)
    if args.resume:
        trainer.resume()
    summary = trainer.train()
    trainer.export(
        summary,
        recipe_command("train", argv, accelerator.num_processes, config.mixed_precision),
        base_model=config.init_from,
    )
    return summary


def comparison_table(zero_shot: dict[str, float], fine_tuned: dict[str, float]) -> str:
    """Zero-shot and fine-tuned validation errors side by side."""
    lines = [f"{'validation error (normalised)':<32}{'zero-shot':>12}{'fine-tuned':>12}{'change':>10}"]
    for metric in zero_shot:
        before, after = zero_shot[metric], fine_tuned[metric]
        lines.append(f"{metric.upper():<32}{before:>12.4f}{after:>12.4f}{(after - before) / before:>+10.1%}")
    return "\n".join(lines)


def finetune(argv: list[str]) -> dict[str, Any]:
    """Fine-tuning on a user's series; returns the training summary with the zero-shot and
    fine-tuned validation errors."""
    from .state import open_run
    from .trainer import Trainer, build_model, make_accelerator, validation_errors
    from .user_data import min_context, user_run_data

    args = finetune_parser().parse_args(argv)
    config = load_config(
        args.config,
        [
            *args.overrides,
            f"init_from={args.base}",
            f"output_dir={args.output}",
            "objective=forecast",
            "rollout_steps=1",
        ],
    )
    accelerator = make_accelerator(config)
    run_id = open_run(accelerator, config.output_dir, resume=False, overwrite=args.overwrite)
    model = build_model(config)
    data, context = user_run_data(
        args.data,
        model.config.context_length,
        model.config.prediction_length,
        model.config.patch_length,
        config.data.validation_fraction,
        config.seed,
        accelerator.process_index,
    )
    if context < model.config.context_length:
        accelerator.print(
            f"series are short: using a context of {context} steps (model: {model.config.context_length}; "
            f"the least fine-tuning uses: {min_context(model.config.context_length, model.config.patch_length)})"
        )
    trainer = Trainer(config, accelerator, model, data, run_id)
    zero_shot = validation_errors(trainer)
    summary = trainer.train()
    fine_tuned = validation_errors(trainer)  # the best-validation weights, restored by train()
    summary.update(base_model=args.base, zero_shot=zero_shot, fine_tuned=fine_tuned)
    accelerator.print(comparison_table(zero_shot, fine_tuned))
    command = recipe_command("finetune", argv, accelerator.num_processes, config.mixed_precision)
    trainer.export(summary, command, base_model=args.base)
    return summary


def main(command: str, argv: list[str] | None = None) -> int:
    """`panda-lite train|finetune ARGS`; exit status 2 for invalid input."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        (train if command == "train" else finetune)(argv)
    except (ValueError, FileNotFoundError) as error:  # FileNotFoundError: an unknown checkpoint
        print(f"panda-lite {command}: error: {error}", file=sys.stderr)
        return 2
    return 0
