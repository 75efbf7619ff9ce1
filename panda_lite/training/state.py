"""Atomic training-state checkpoints: save, list, resume.

A checkpoint folder `checkpoint-{step}` only ever appears complete: every process writes
`save_state` into `.tmp-checkpoint-{step}`, and the main process renames it once all are
done. A run killed at any moment therefore leaves either a complete checkpoint or a temp
folder that resuming ignores (and the next save clears). Multi-node runs need `output_dir`
on a filesystem all nodes share.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from accelerate import Accelerator

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")


def list_checkpoints(root: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under `root` as (step, path), oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := CHECKPOINT_PATTERN.match(p.name)) and p.is_dir()]
    return sorted(found)


def latest_checkpoint(root: str | Path) -> Path | None:
    """The complete checkpoint with the highest step, or None."""
    found = list_checkpoints(root)
    return found[-1][1] if found else None


def save_checkpoint(accelerator: Accelerator, root: str | Path, step: int, keep: int) -> Path:
    """All processes call this together; returns the final checkpoint path.

    Writes `save_state` (model, optimiser, scaler, RNG of every process and the objects
    registered for checkpointing) atomically, then deletes all but the newest `keep`.
    """
    root = Path(root)
    final, tmp = root / f"checkpoint-{step}", root / f".tmp-checkpoint-{step}"
    if accelerator.is_main_process:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        shutil.rmtree(final, ignore_errors=True)  # a re-run past the same step replaces it
        os.replace(tmp, final)
        for _, old in list_checkpoints(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
        for stale in root.glob(".tmp-checkpoint-*"):  # left by a killed run
            shutil.rmtree(stale, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final
