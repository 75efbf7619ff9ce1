"""Atomic training-state checkpoints and the final model export.

A checkpoint folder `checkpoint-{step}` only ever appears complete: every process writes
`save_state` into `.tmp-checkpoint-{step}`, and the main process renames it once all are
done. A run killed at any moment therefore leaves either a complete checkpoint or a temp
folder that resuming ignores (and the next save clears). Multi-node runs need `output_dir`
on a filesystem all nodes share.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
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


def replace_folder(build, destination: str | Path) -> Path:
    """Builds a folder atomically: `build(tmp_dir)` fills a temp folder next to `destination`,
    which then takes its place (an existing one is moved aside first, then deleted)."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".tmp-{destination.name}-"))
    try:
        build(tmp)
        old = None
        if destination.exists():
            old = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".old-{destination.name}-"))
            os.replace(destination, old / destination.name)
        os.replace(tmp, destination)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return destination


def write_json(path: str | Path, values: dict) -> None:
    """Writes JSON atomically (temp file in the same folder, then os.replace)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}-")
    with os.fdopen(fd, "w") as f:
        json.dump(values, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
