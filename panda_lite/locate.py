"""Where a checkpoint is: a bundled name, a local folder or a Hugging Face Hub id."""

from __future__ import annotations

import os
from pathlib import Path

BUNDLED_CHECKPOINTS_DIR = Path(__file__).parent / "checkpoints"


def list_bundled_checkpoints() -> list[str]:
    """Names of the checkpoints shipped inside the package, loadable offline by name."""
    if not BUNDLED_CHECKPOINTS_DIR.is_dir():
        return []
    return sorted(p.name for p in BUNDLED_CHECKPOINTS_DIR.iterdir() if (p / "config.json").is_file())


def resolve_checkpoint(name_or_path: str | os.PathLike) -> tuple[str, bool]:
    """Maps a bundled name, a local folder or a Hub id to (location, is_local)."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"checkpoint folder {path} has no config.json; expected a save_pretrained output")
        return str(path), True
    bundled = BUNDLED_CHECKPOINTS_DIR / str(name_or_path)
    if (bundled / "config.json").is_file():
        return str(bundled), True
    return str(name_or_path), False
