"""Pretraining and fine-tuning on Accelerate (the `train` extra: `pip install "panda-lite[train]"`).

config      YAML (a file or a bundled name under configs/) -> dataclasses, `key=value` overrides
corpus      data_gen corpus shards (through `data_gen.corpus`): splits, per-rank shares
user_data   fine-tuning inputs: CSV, Parquet, .npy, folders, `datasets` folders
windows     seeded window sampling (a pure function of seed, rank and batch index)
augment     channel subsets, time-delay / convex / affine augmentations
objectives  forecast, rollout and masked-patch losses
trainer     the training loop: model building, optimiser, schedule, logging, validation, export
state       the run folder and its id; atomic, pickle-free checkpoints; verified resume
card        model card rendering from model_cards/template.md
cli         `panda-lite train` and `panda-lite finetune`
"""
