"""Training state on disk: the run folder and its id, pickle-free checkpoints, verified resume.

A run folder (`output_dir`) holds one run: `run.json` carries the random id written when the
run starts, a fresh run refuses a folder that is not empty (`--resume` continues the run
there, `--overwrite` removes its outputs first), and every checkpoint records the id, so
`--resume` never continues another run's checkpoints.

A checkpoint `checkpoints/checkpoint-{step}` holds safetensors and JSON only, so loading it
runs no code: nothing in it is ever unpickled, and a file planted there is never opened. The
trainer chooses the tensor files (`{name}.safetensors`); every process adds its torch
generators (`rng-{rank}.safetensors`, what dropout draws from); `state.json`, written last,
holds the run id, the step, the trainer's plain values and the SHA-256 of every other file.
A checkpoint only ever appears complete: every process writes into `.tmp-checkpoint-{step}`,
and the main process fsyncs it and renames it once all are done. Resuming checks the hashes
and skips a damaged checkpoint (files truncated or deleted by hand) for the newest intact one.
Multi-node runs need `output_dir` on a filesystem all nodes share.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import torch
from accelerate import Accelerator
from safetensors.torch import load_file, save_file

from ..io import atomic_write_json, fsync, fsync_tree

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
STATE_FILE = "state.json"
RUN_FILE = "run.json"
# What a run writes into its output folder, as glob patterns (and temp files, see remove_stale):
# its id, checkpoints, exported model, TensorBoard logs (Trainer's tracker project) and sample
# logs. What --overwrite removes.
RUN_OUTPUTS = (RUN_FILE, "checkpoints", "model", "panda_lite", "samples-rank*.jsonl")


class DamagedCheckpoint(ValueError):
    """A checkpoint folder whose files are missing or differ from what was written."""


def _remove(path: Path) -> None:
    """Deletes a file or a folder tree."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _discard(path: Path) -> None:
    """Deletes a folder, first renaming it aside so that a kill midway never leaves a
    half-deleted folder under its real name."""
    aside = path.with_name(f".old-{path.name}")
    shutil.rmtree(aside, ignore_errors=True)
    os.replace(path, aside)
    shutil.rmtree(aside)


def remove_stale(folder: Path) -> None:
    """Deletes the temp folders and files (`.tmp-*`, `.old-*`) a killed write left in `folder`."""
    for stale in [*folder.glob(".tmp-*"), *folder.glob(".old-*")]:
        _remove(stale)


def _read_run_id(run_file: Path) -> str:
    try:
        return str(json.loads(run_file.read_text())["run_id"])
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{run_file}: unreadable run file ({error}); start over with --overwrite") from None


def _check_folder(output_dir: Path, resume: bool, overwrite: bool) -> None:
    """Refuses (ValueError) an output folder that is not empty, unless it holds a run (its
    run.json or checkpoints) and `resume` or `overwrite` says what to do with that run. A
    folder of other files is never used: --overwrite must not delete what no run wrote."""
    contents = sorted(p.name for p in output_dir.iterdir()) if output_dir.is_dir() else []
    if not contents:
        return
    listing = ", ".join(contents[:5]) + (", ..." if len(contents) > 5 else "")
    if not ((output_dir / RUN_FILE).is_file() or (output_dir / "checkpoints").is_dir()):
        raise ValueError(
            f"output folder {output_dir} is not empty ({listing}) and holds no training run "
            f"(no {RUN_FILE} or checkpoints/): choose an empty or new folder"
        )
    if not (resume or overwrite):
        raise ValueError(
            f"output folder {output_dir} is not empty ({listing}): continue its run with --resume "
            "(panda-lite train), start over with --overwrite (removes its checkpoints, model and logs), "
            "or choose another folder"
        )


def open_run(accelerator: Accelerator, output_dir: str | Path, resume: bool, overwrite: bool) -> str:
    """Claims `output_dir` for this run and returns the run id; all processes call it.

    A folder that is not empty is refused (`_check_folder`) unless it holds a run and
    `overwrite` (which first removes that run's outputs, `RUN_OUTPUTS`) or `resume` (which
    keeps its run id; a fresh id when it has none yet) is given. Stale temp files of a killed
    run go either way."""
    output_dir = Path(output_dir)
    _check_folder(output_dir, resume, overwrite)
    accelerator.wait_for_everyone()  # every process has looked before the main one writes
    run_file = output_dir / RUN_FILE
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        for pattern in RUN_OUTPUTS if overwrite else ():
            for path in output_dir.glob(pattern):
                _remove(path)
        remove_stale(output_dir)
        if not (resume and run_file.is_file()):
            atomic_write_json(run_file, {"run_id": uuid.uuid4().hex})
    accelerator.wait_for_everyone()
    return _read_run_id(run_file)


def list_checkpoints(root: str | Path) -> list[tuple[int, Path]]:
    """Checkpoint folders under `root` as (step, path), oldest first (not yet verified)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := CHECKPOINT_PATTERN.match(p.name)) and p.is_dir()]
    return sorted(found)


def latest_checkpoint(root: str | Path) -> Path | None:
    """The checkpoint folder with the highest step, or None."""
    found = list_checkpoints(root)
    return found[-1][1] if found else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """The torch generators this process draws from (CPU, and its GPU when it has one)."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def save_checkpoint(
    accelerator: Accelerator,
    root: str | Path,
    step: int,
    keep: int,
    run_id: str,
    tensors: dict[str, dict[str, torch.Tensor]],
    values: dict,
) -> Path:
    """All processes call this together; returns the final checkpoint path.

    The main process writes `{name}.safetensors` for each entry of `tensors` and `values` into
    state.json (with the run id, step, process count and file hashes), every process its
    generators; the folder is fsynced and renamed into place, then all but the newest `keep`
    checkpoints are deleted."""
    root = Path(root)
    final, tmp = root / f"checkpoint-{step}", root / f".tmp-checkpoint-{step}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    save_file(_rng_state(accelerator.device), tmp / f"rng-{accelerator.process_index}.safetensors")
    if accelerator.is_main_process:
        for name, group in tensors.items():
            save_file(group, tmp / f"{name}.safetensors")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        files = {p.name: _sha256(p) for p in sorted(tmp.iterdir())}
        state = {"run_id": run_id, "step": step, "num_processes": accelerator.num_processes, "files": files}
        atomic_write_json(tmp / STATE_FILE, {**state, **values})
        fsync_tree(tmp)
        if final.exists():  # a re-run past the same step replaces it
            _discard(final)
        os.replace(tmp, final)
        fsync(root)
        for _, old in list_checkpoints(root)[:-keep]:
            _discard(old)
        remove_stale(root)  # left by a killed run
    accelerator.wait_for_everyone()
    return final


def read_checkpoint(checkpoint: Path) -> dict:
    """The state.json values of an intact checkpoint; raises DamagedCheckpoint naming the
    first file that is missing or differs from its recorded hash."""
    try:
        state = json.loads((checkpoint / STATE_FILE).read_text())
        files = state["files"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DamagedCheckpoint(f"{STATE_FILE} is unreadable: {error}") from None
    for name, digest in files.items():
        path = checkpoint / name
        if not path.is_file():
            raise DamagedCheckpoint(f"{name} is missing")
        if _sha256(path) != digest:
            raise DamagedCheckpoint(f"{name} differs from what was written (truncated or altered)")
    return state


def resume_checkpoint(root: str | Path, run_id: str, say: Callable[[str], None]) -> tuple[Path, dict] | None:
    """The newest intact checkpoint of run `run_id` under `root` with its state.json values,
    or None when there is no checkpoint. Damaged ones are skipped, saying so (`say`); raises
    ValueError when none is intact or one belongs to another run."""
    damaged = []
    for _, path in reversed(list_checkpoints(root)):
        try:
            state = read_checkpoint(path)
        except DamagedCheckpoint as error:
            say(f"{path.name} is damaged ({error}); falling back to the checkpoint before it")
            damaged.append(path.name)
            continue
        if state["run_id"] != run_id:
            raise ValueError(
                f"{path} belongs to another run ({state['run_id']}) than its output folder's ({run_id}, "
                f"{RUN_FILE}); resume only the run that wrote it, or start over with --overwrite"
            )
        return path, state
    if damaged:
        raise ValueError(
            f"no intact checkpoint in {root} (damaged: {', '.join(damaged)}); start over with --overwrite"
        )
    return None


def restore_rng(accelerator: Accelerator, checkpoint: Path, saved_processes: int) -> None:
    """Sets this process's torch generators to those saved in `checkpoint` (by the process of
    the same rank; modulo the saved count when the number of processes changed)."""
    state = load_file(checkpoint / f"rng-{accelerator.process_index % saved_processes}.safetensors")
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and accelerator.device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], accelerator.device)
