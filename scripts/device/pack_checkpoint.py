"""Copy an exported model folder into the device tool's $OUT within its return limits.

The device tool returns at most 8 files of at most 16 MiB each, 64 MiB in all. A small model
(mini: ~5 MB) is copied as is; a larger one (panda20m: 85 MB in fp32) is re-saved with bf16
weights in shards of at most 15 MB (43 MB for panda20m), which `from_pretrained` loads back
into fp32. Usage: python scripts/device/pack_checkpoint.py MODEL_DIR OUT_DIR
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch

from panda_lite import PandaLiteModel

FILE_LIMIT = 15 * 1024**2  # below the tool's 16 MiB per file
EXTRA_FILES = ("README.md", "training_summary.json", "pipeline_config.json")


def pack(model_dir: Path, out_dir: Path) -> list[Path]:
    """Writes the checkpoint into out_dir; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = model_dir / "model.safetensors"
    if weights.is_file() and weights.stat().st_size <= FILE_LIMIT:
        shutil.copy2(weights, out_dir / weights.name)
        shutil.copy2(model_dir / "config.json", out_dir / "config.json")
    else:
        model = PandaLiteModel.from_pretrained(model_dir, local_files_only=True, dtype=torch.bfloat16)
        model.save_pretrained(out_dir, max_shard_size=FILE_LIMIT)
    for name in EXTRA_FILES:
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, out_dir / name)
    return sorted(out_dir.iterdir())


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    for path in pack(Path(sys.argv[1]), Path(sys.argv[2])):
        print(f"{path}  {path.stat().st_size / 1e6:.1f} MB")
