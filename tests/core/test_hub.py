"""Checkpoints by Hub id, offline: a Hugging Face cache laid out in tmp_path stands in for
the Hub, and the bundled model card reads as Hub metadata."""

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import ModelCard, constants, scan_cache_dir
from huggingface_hub.file_download import repo_folder_name
from transformers import AutoModel

from panda_lite import PandaLiteModel, PandaLitePipeline
from panda_lite.locate import BUNDLED_CHECKPOINTS_DIR

REPO_ID, REVISION = "org/name", "0123456789abcdef0123456789abcdef01234567"


def cache_repo(cache: Path, repo_id: str, folder: Path) -> None:
    """Puts `folder`'s files into `cache` as a download of `repo_id` at `REVISION` leaves them:
    blobs/<sha256>, snapshots/<revision>/<file> linked to its blob, refs/main."""
    storage = cache / repo_folder_name(repo_id=repo_id, repo_type="model")
    snapshot = storage / "snapshots" / REVISION
    (storage / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for file in sorted(folder.iterdir()):
        blob = storage / "blobs" / hashlib.sha256(file.read_bytes()).hexdigest()
        blob.write_bytes(file.read_bytes())
        (snapshot / file.name).symlink_to(os.path.relpath(blob, snapshot))
    (storage / "refs").mkdir()
    (storage / "refs" / "main").write_text(REVISION)


@pytest.fixture
def offline_hub(tmp_path, monkeypatch, tiny_checkpoint) -> Path:
    """A cache holding the tiny checkpoint as `REPO_ID`, made the default cache, offline."""
    cache = tmp_path / "hub"
    cache_repo(cache, REPO_ID, tiny_checkpoint)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads these once, at import: its module constants are what it uses.
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def context() -> np.ndarray:
    t = np.arange(200)[:, None]
    return np.sin(t / np.array([7.0, 11.0, 13.0]))


def test_the_cache_has_the_standard_layout(offline_hub, tiny_checkpoint):
    (repo,) = scan_cache_dir(offline_hub).repos
    (revision,) = repo.revisions
    assert (repo.repo_id, repo.repo_type, revision.commit_hash, revision.refs) == (
        REPO_ID,
        "model",
        REVISION,
        frozenset({"main"}),
    )
    assert sorted(f.file_name for f in revision.files) == sorted(p.name for p in tiny_checkpoint.iterdir())


def test_a_hub_id_loads_offline_and_forecasts_as_the_folder_does(offline_hub, tiny_checkpoint):
    expected = PandaLitePipeline.from_pretrained(tiny_checkpoint).predict(context(), 48)
    pipe = PandaLitePipeline.from_pretrained(REPO_ID)
    assert torch.equal(pipe.predict(context(), 48), expected)
    model = AutoModel.from_pretrained(REPO_ID)
    assert isinstance(model, PandaLiteModel)
    assert torch.equal(PandaLitePipeline(model.eval()).predict(context(), 48), expected)


def test_a_hub_id_missing_from_the_offline_cache_fails_without_the_network(offline_hub):
    with pytest.raises(OSError, match="could not load 'org/absent'"):
        PandaLitePipeline.from_pretrained("org/absent")


def test_the_bundled_model_card_has_the_hub_metadata():
    for folder in sorted(p for p in BUNDLED_CHECKPOINTS_DIR.iterdir() if (p / "config.json").is_file()):
        metadata = ModelCard.load(folder / "README.md").data.to_dict()
        assert metadata["license"] == "apache-2.0"
        assert metadata["library_name"] == "panda_lite"
        assert metadata["pipeline_tag"] == "time-series-forecasting"
        assert {"time series", "forecasting", "dynamical systems"} <= set(metadata["tags"])
        assert metadata["datasets"] and all(isinstance(name, str) for name in metadata["datasets"])
        assert "base_model" not in metadata  # pretrained from scratch: only fine-tunes name a base


def test_a_fine_tuned_card_names_its_base_model(tmp_path):
    from panda_lite.training.card import PLACEHOLDER, TEMPLATE, render_card

    values = {m.group(1): "x" for m in PLACEHOLDER.finditer(TEMPLATE.read_text())}
    card = tmp_path / "README.md"
    card.write_text(render_card(values, ["my-series"], base_model="org/panda-lite-mini"))
    metadata = ModelCard.load(card).data.to_dict()
    assert (metadata["base_model"], metadata["datasets"]) == ("org/panda-lite-mini", ["my-series"])
    assert metadata["library_name"] == "panda_lite"
