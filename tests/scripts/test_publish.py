"""scripts/publish.py checks a checkpoint folder before anything is uploaded (no network)."""

import shutil

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


def test_a_complete_folder_passes_the_dry_run(folder, capsys):
    assert main([str(folder), "--repo-id", "org/tiny", "--dry-run"]) == 0
    assert "ready to publish" in capsys.readouterr().out


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
