"""Shared training code behind `scripts/train.py` and `scripts/finetune.py`.

config      YAML -> dataclasses, `key=value` overrides, validation
corpus      reading data_gen Parquet shards: splits, per-rank shares, trajectory access
augment     standardisation, channel subsets, time-delay / convex / affine augmentations
windows     seeded window sampling (a pure function of seed, rank and batch index)
objectives  forecast, rollout and masked-patch losses
loop        the Accelerate training loop: optimiser, schedule, logging, validation
checkpoint  atomic `save_state` checkpoints, resume, export with a model card
user_data   fine-tuning inputs: CSV, Parquet, .npy, folders, `datasets` folders
card        model card rendering from model_cards/template.md
toy_corpus  a small corpus in the data_gen format from analytic/ODE systems (tests, smoke runs)
"""
