"""Pretrain a panda_lite model on a data_gen corpus.

    accelerate launch scripts/train.py --config scripts/configs/mini.yaml [key=value ...]
    python scripts/train.py --config scripts/configs/tiny.yaml data.corpus=PATH   # one CPU process

Overrides use dotted keys (`optim.learning_rate=3e-4`, `model.d_model=64`). `--resume`
continues from the newest complete checkpoint in `output_dir/checkpoints`. The final model
is exported to `output_dir/model` (save_pretrained + model card).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a plain script: make `scripts.training` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.training.config import load_config
from scripts.training.corpus import corpus_run_data
from scripts.training.loop import Trainer, build_model, make_accelerator


def recipe_command(argv: list[str], num_processes: int, mixed_precision: str) -> str:
    """The command line of this run, as it would be typed to reproduce it."""
    arguments = " ".join(shlex.quote(a) for a in argv if a != "--resume")
    if num_processes > 1:
        return (f"accelerate launch --num_processes {num_processes} --mixed_precision {mixed_precision} "
                f"scripts/train.py {arguments}")
    return f"python scripts/train.py {arguments}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="YAML training config (see scripts/configs/)")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in output_dir")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, dotted keys for nested sections")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    config = load_config(args.config, args.overrides)
    accelerator = make_accelerator(config)
    model = build_model(config)
    horizon = 0 if config.objective == "mlm" else model.config.prediction_length * config.rollout_steps
    with accelerator.main_process_first():  # one process builds each shard's Arrow cache, the rest reuse it
        data = corpus_run_data(config, model.config.context_length, horizon, accelerator.process_index,
                               accelerator.num_processes)
    trainer = Trainer(config, accelerator, model, data)
    if args.resume:
        trainer.resume()
    summary = trainer.train()
    trainer.export(summary, recipe_command(argv, accelerator.num_processes, config.mixed_precision),
                   base_model=config.init_from)
    return summary


if __name__ == "__main__":
    main()
