"""Upload a checkpoint folder with its model card to the Hugging Face Hub.

    python scripts/publish.py CHECKPOINT_DIR --repo-id ORG/NAME [--private] [--revision main] [--dry-run]

The folder must be what `save_pretrained` wrote (config.json + model.safetensors) plus a
README.md model card with Hub YAML metadata (`panda-lite train` and `panda-lite finetune`
render one), and optionally the pipeline's pipeline_config.json. Before anything is sent the
folder is checked: no pickle files, the card's metadata names the library and pipeline tag,
and the weights load as a PandaLite model that forecasts finite values. `--dry-run` prints the
files that would be uploaded and the card's metadata, and uploads nothing. The token comes
from `huggingface-cli login` or the HF_TOKEN variable.
Needs the `publish` extra: `pip install -e ".[publish]"`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

REQUIRED_FILES = ("config.json", "model.safetensors", "README.md")
OPTIONAL_FILES = ("pipeline_config.json",)
REQUIRED_METADATA = {"library_name": "panda_lite", "pipeline_tag": "time-series-forecasting"}


def card_metadata(card: Path) -> dict:
    """The YAML front matter of a model card (between the leading '---' lines)."""
    text = card.read_text(encoding="utf-8")
    if not text.startswith("---\n") or "\n---" not in text[4:]:
        raise ValueError(f"{card}: no YAML front matter (the card must start with a '---' block)")
    metadata = yaml.safe_load(text[4 : text.index("\n---", 4)])
    if not isinstance(metadata, dict):
        raise ValueError(f"{card}: YAML front matter is not a mapping")
    return metadata


def check_checkpoint(folder: Path) -> None:
    """Raises ValueError naming the problem if `folder` is not ready to publish."""
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ValueError(f"{folder} lacks {', '.join(missing)}; expected save_pretrained output plus a README.md card")
    pickled = sorted(p.name for p in folder.iterdir() if p.suffix in {".bin", ".pt", ".pth", ".pkl", ".ckpt"})
    if pickled:
        raise ValueError(f"{folder} holds pickle-based files {pickled}; publish safetensors only")
    metadata = card_metadata(folder / "README.md")
    for key, expected in REQUIRED_METADATA.items():
        if metadata.get(key) != expected:
            raise ValueError(
                f"{folder / 'README.md'}: metadata {key!r} is {metadata.get(key)!r}, expected {expected!r}"
            )

    from panda_lite import PandaLitePipeline

    pipe = PandaLitePipeline.from_pretrained(folder)
    t = np.arange(pipe.config.context_length)
    probe = np.stack([np.sin(t / 10.0), np.cos(t / 7.0), np.sin(t / 3.0)], axis=1)
    if not np.isfinite(pipe.predict(probe).numpy()).all():
        raise ValueError(f"{folder}: the model forecasts non-finite values on a sine probe")


def files_to_upload(folder: Path) -> list[str]:
    """The names of the files `main` uploads: the required ones and the optional ones present."""
    return [*REQUIRED_FILES, *(name for name in OPTIONAL_FILES if (folder / name).is_file())]


def describe_upload(folder: Path, repo_id: str, private: bool, revision: str | None) -> str:
    """What an upload would send: the target, each file with its size, and the card's metadata."""
    visibility = "private" if private else "public"
    lines = [f"would upload {folder} to {repo_id} ({visibility}, revision {revision or 'main'}):"]
    uploaded = files_to_upload(folder)
    lines += [f"  {name} ({(folder / name).stat().st_size} bytes)" for name in uploaded]
    left_out = sorted(p.name for p in folder.iterdir() if p.name not in uploaded)
    if left_out:
        lines.append(f"not uploaded: {', '.join(left_out)}")
    lines.append("card metadata (README.md):")
    metadata = yaml.safe_dump(card_metadata(folder / "README.md"), sort_keys=False, allow_unicode=True)
    lines += [f"  {line}" for line in metadata.splitlines()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="folder with config.json, model.safetensors and README.md")
    parser.add_argument("--repo-id", required=True, help="Hub model repository, e.g. my-org/panda-lite-mini")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--revision", default=None, help="branch to push to (default: main)")
    parser.add_argument("--message", default="Upload panda_lite checkpoint", help="commit message on the Hub")
    parser.add_argument("--dry-run", action="store_true", help="check the folder, upload nothing")
    args = parser.parse_args(argv)
    try:
        check_checkpoint(args.checkpoint)
    except ValueError as error:
        print(f"publish: {error}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(describe_upload(args.checkpoint, args.repo_id, args.private, args.revision))
        return 0

    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(args.repo_id, repo_type="model", private=args.private, exist_ok=True)
    commit = api.upload_folder(
        repo_id=args.repo_id,
        folder_path=str(args.checkpoint),
        revision=args.revision,
        commit_message=args.message,
        allow_patterns=files_to_upload(args.checkpoint),
    )
    print(f"uploaded {args.checkpoint} to {commit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
