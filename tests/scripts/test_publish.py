"""scripts/publish.py checks a checkpoint folder before anything is uploaded (no network)."""

import shutil

import huggingface_hub
import pytest
from util import load_script

publish = load_script("scripts/publish.py")
check_checkpoint, main = publish.check_checkpoint, publish.main

CARD = """---
license: apache-2.0
library_name: panda_lite
pipeline_tag: time-series-forecasting
---

# tiny
"""


@pytest.fixture
def folder(tmp_path, tiny_checkpoint):
    target = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, target)
    (target / "README.md").write_text(CARD)
    return target


def test_the_dry_run_prints_exactly_the_files_and_the_card_metadata(folder, capsys):
    (folder / "notes.txt").write_text("not for the Hub")
    assert main([str(folder), "--repo-id", "org/tiny", "--dry-run"]) == 0
    sizes = {name: (folder / name).stat().st_size for name in ("config.json", "model.safetensors", "README.md")}
    assert capsys.readouterr().out.splitlines() == [
        f"would upload {folder} to org/tiny (public, revision main):",
        *(f"  {name} ({size} bytes)" for name, size in sizes.items()),
        "not uploaded: notes.txt",
        "card metadata (README.md):",
        "  license: apache-2.0",
        "  library_name: panda_lite",
        "  pipeline_tag: time-series-forecasting",
    ]


def test_the_upload_sends_the_files_the_dry_run_names(folder, monkeypatch, capsys):
    """With the Hub client replaced by a recorder: nothing reaches the network."""
    (folder / "pipeline_config.json").write_text('{"expert": "off", "nvar_delays": 2}')
    calls = {}

    class RecordingApi:
        def create_repo(self, repo_id, **kwargs):
            calls["create_repo"] = repo_id, kwargs

        def upload_folder(self, **kwargs):
            calls["upload_folder"] = kwargs
            return "https://huggingface.co/org/tiny/commit/0"

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    assert main([str(folder), "--repo-id", "org/tiny", "--private"]) == 0
    assert calls["create_repo"] == ("org/tiny", {"repo_type": "model", "private": True, "exist_ok": True})
    sent = calls["upload_folder"]["allow_patterns"]
    assert sent == ["config.json", "model.safetensors", "README.md", "pipeline_config.json"]
    capsys.readouterr()
    assert main([str(folder), "--repo-id", "org/tiny", "--dry-run"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:5]] == sent


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda f: (f / "README.md").unlink(), "lacks README.md"),
        (lambda f: (f / "model.safetensors").unlink(), "lacks model.safetensors"),
        (lambda f: (f / "pytorch_model.bin").write_bytes(b"x"), "pickle-based"),
        (lambda f: (f / "README.md").write_text("# no metadata\n"), "no YAML front matter"),
        (lambda f: (f / "README.md").write_text(CARD.replace("panda_lite", "transformers")), "library_name"),
    ],
)
def test_incomplete_folders_are_refused_with_the_reason(folder, spoil, message):
    spoil(folder)
    with pytest.raises(ValueError, match=message):
        check_checkpoint(folder)
    assert main([str(folder), "--repo-id", "org/tiny", "--dry-run"]) == 2
