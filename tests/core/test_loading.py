"""Loading is validated: checkpoints (tensors, model type, file integrity, finiteness), devices,
and names that can only be local paths or typos of a bundled name (never sent to the Hub)."""

import json
import logging
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModel
from transformers.utils import logging as hf_logging
from util import SMALL, series, small_model

from panda_lite import PandaLiteConfig, PandaLiteForPretraining, PandaLiteModel, PandaLitePipeline
from panda_lite.cli import main
from panda_lite.locate import available_devices, resolve_checkpoint, resolve_device

LOADERS = {
    "pipeline": PandaLitePipeline.from_pretrained,
    "model": PandaLiteModel.from_pretrained,
    "auto-model": AutoModel.from_pretrained,
}


def copy_checkpoint(tiny_checkpoint, folder):
    """A writable copy of the tiny checkpoint."""
    shutil.copytree(tiny_checkpoint, folder)
    return folder


def rewrite_weights(folder, change):
    """Replaces the folder's weights by `change(tensors)`."""
    path = folder / "model.safetensors"
    save_file(change(load_file(path)), path, metadata={"format": "pt"})


def edit_config(folder, **values):
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **values}))


def without_head(tensors):
    return {key: value for key, value in tensors.items() if not key.startswith("head.")}


@pytest.fixture
def no_load(monkeypatch):
    """Makes any attempt to load weights (locally or from the Hub) fail the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("from_pretrained was called: the name went on to be loaded")

    monkeypatch.setattr(PandaLiteModel, "from_pretrained", refuse)


# Checkpoints (item 8)


@pytest.mark.parametrize("load", LOADERS.values(), ids=LOADERS.keys())
def test_missing_head_tensors_are_an_error_naming_the_file_and_tensors(tiny_checkpoint, tmp_path, load):
    # transformers would initialise the missing head and forecast with it.
    folder = copy_checkpoint(tiny_checkpoint, tmp_path / "ckpt")
    rewrite_weights(folder, without_head)
    with pytest.raises(ValueError, match="missing tensor") as error:
        load(folder)
    message = str(error.value)
    assert str(folder / "model.safetensors") in message
    assert "head.projection.bias, head.projection.weight" in message


@pytest.mark.parametrize("load", LOADERS.values(), ids=LOADERS.keys())
def test_unexpected_tensors_are_an_error_naming_them(tiny_checkpoint, tmp_path, load):
    folder = copy_checkpoint(tiny_checkpoint, tmp_path / "ckpt")
    rewrite_weights(folder, lambda tensors: {**tensors, "extra.weight": torch.zeros(3)})
    with pytest.raises(ValueError, match=r"model\.safetensors: unexpected tensor\(s\) extra\.weight"):
        load(folder)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("tensor", ["head.projection.weight", "encoder.embedding.projection.bias"])
def test_non_finite_weights_are_an_error_naming_the_tensor(tiny_checkpoint, tmp_path, value, tensor):
    folder = copy_checkpoint(tiny_checkpoint, tmp_path / "ckpt")

    def poison(tensors):
        tensors[tensor] = tensors[tensor].clone()
        tensors[tensor].view(-1)[0] = value
        return tensors

    rewrite_weights(folder, poison)
    expected = rf"model\.safetensors: tensor\(s\) {tensor} hold NaN or inf"
    for load in LOADERS.values():
        with pytest.raises(ValueError, match=expected):
            load(folder)
    # Also in a partial load (training's warm start).
    with pytest.raises(ValueError, match=expected):
        PandaLiteModel.from_pretrained(folder, ignore_mismatched_sizes=True)


@pytest.mark.parametrize(
    "load", [PandaLitePipeline.from_pretrained, PandaLiteModel.from_pretrained], ids=["pipeline", "model"]
)
def test_a_foreign_model_type_is_an_error_naming_the_config(tiny_checkpoint, tmp_path, load):
    folder = copy_checkpoint(tiny_checkpoint, tmp_path / "ckpt")
    edit_config(folder, model_type="bert")
    with pytest.raises(ValueError, match=r"config\.json: model_type 'bert'; expected 'panda_lite'"):
        load(folder)


@pytest.mark.parametrize("keep", [0, 5, 100, 0.5, -1], ids=["empty", "5-bytes", "in-header", "half", "last-byte"])
def test_a_truncated_weights_file_is_an_error_naming_it(tiny_checkpoint, tmp_path, keep):
    folder = copy_checkpoint(tiny_checkpoint, tmp_path / "ckpt")
    path = folder / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    for load in LOADERS.values():
        with pytest.raises(OSError, match="not a readable safetensors file") as error:
            load(folder)
        assert str(path) in str(error.value)


def test_a_truncated_shard_is_named(tmp_path):
    small_model().save_pretrained(tmp_path, max_shard_size="20KB")
    shards = sorted(tmp_path.glob("model-*.safetensors"))
    assert len(shards) >= 2 and (tmp_path / "model.safetensors.index.json").is_file()
    PandaLiteModel.from_pretrained(tmp_path)  # intact, the shards load
    shards[1].write_bytes(shards[1].read_bytes()[:-10])
    with pytest.raises(OSError, match="not a readable safetensors file") as error:
        PandaLitePipeline.from_pretrained(tmp_path)
    assert str(error.value).startswith(str(shards[1]))


@pytest.mark.parametrize("load", LOADERS.values(), ids=LOADERS.keys())
def test_weights_of_another_shape_than_the_config_are_an_error_naming_them(tiny_checkpoint, tmp_path, load):
    # transformers raises a RuntimeError that points at its logged report instead.
    folder = copy_checkpoint(tiny_checkpoint, tmp_path / "ckpt")
    edit_config(folder, prediction_length=16)
    with pytest.raises(ValueError, match=r"head\.projection\.bias \(32,\) \(the model's: \(16,\)\)"):
        load(folder)


def test_an_intact_checkpoint_loads_with_transformers_loading_info(tiny_checkpoint):
    model, info = PandaLiteModel.from_pretrained(tiny_checkpoint, output_loading_info=True, strict=True)
    assert isinstance(model, PandaLiteModel)
    assert not (info["missing_keys"] or info["unexpected_keys"] or info["mismatched_keys"])


def test_partial_loads_are_allowed_where_asked_for(tiny_checkpoint, tmp_path):
    # Training's warm start (`build_model`) passes ignore_mismatched_sizes=True: a new head shape
    # or a missing head is initialised, as transformers does it; strict=False says the same.
    grown = PandaLiteModel.from_pretrained(tiny_checkpoint, ignore_mismatched_sizes=True, prediction_length=16)
    assert grown.config.prediction_length == 16
    folder = copy_checkpoint(tiny_checkpoint, tmp_path / "ckpt")
    rewrite_weights(folder, without_head)
    model, info = PandaLiteModel.from_pretrained(folder, ignore_mismatched_sizes=True, output_loading_info=True)
    assert info["missing_keys"] == {"head.projection.bias", "head.projection.weight"}
    assert PandaLiteModel.from_pretrained(folder, strict=False).head.projection.weight.shape == (32, 256)
    with pytest.raises(ValueError, match="missing tensor"):
        PandaLiteModel.from_pretrained(folder, ignore_mismatched_sizes=True, strict=True)


def test_a_pretraining_checkpoint_starts_a_forecaster_but_is_no_pipeline(tmp_path):
    torch.manual_seed(0)
    pretraining = PandaLiteForPretraining(PandaLiteConfig(**SMALL))
    pretraining.save_pretrained(tmp_path)
    # Its encoder starts a forecaster (the head is new) ...
    forecaster = PandaLiteModel.from_pretrained(tmp_path)
    assert torch.equal(forecaster.encoder.norm.weight, pretraining.encoder.norm.weight)
    # ... but it has no forecast head, so the pipeline refuses it ...
    with pytest.raises(ValueError, match="missing tensor.*saved by a PandaLiteForPretraining"):
        PandaLitePipeline.from_pretrained(tmp_path)
    # ... and its encoder must still be complete.
    rewrite_weights(tmp_path, lambda tensors: {k: v for k, v in tensors.items() if k != "encoder.norm.weight"})
    with pytest.raises(ValueError, match=r"missing tensor\(s\) encoder\.norm\.weight of PandaLiteModel"):
        PandaLiteModel.from_pretrained(tmp_path)


def test_the_cli_reports_a_broken_checkpoint(tiny_checkpoint, tmp_path, capsys):
    folder = copy_checkpoint(tiny_checkpoint, tmp_path / "ckpt")
    edit_config(folder, prediction_length=16)
    np.save(tmp_path / "context.npy", series(200))
    argv = ["forecast", "--checkpoint", str(folder), "--input", str(tmp_path / "context.npy"), "--horizon", "8"]
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cannot load checkpoint" in err and "head.projection.bias (32,) (the model's: (16,))" in err


# Quiet loading (issue 17)


@pytest.fixture
def load_log():
    """Messages that transformers' loading code logs (its load report among them)."""
    messages: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("transformers.modeling_utils")
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)


def test_loading_shows_no_progress_bar_or_load_report(tiny_checkpoint, tmp_path, capfd, load_log):
    np.save(tmp_path / "context.npy", series(200))
    argv = ["forecast", "--checkpoint", str(tiny_checkpoint), "--input", str(tmp_path / "context.npy")]
    assert main([*argv, "--horizon", "8", "--out", str(tmp_path / "out")]) == 0
    PandaLiteForPretraining.from_pretrained(tiny_checkpoint)  # a partial load: transformers reports it
    list(hf_logging.tqdm(range(2), desc="a bar after the load"))  # transformers' bars are left on
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "a bar after the load" in err
    assert not any("LOAD REPORT" in message for message in load_log)


def test_transformers_info_verbosity_shows_the_bar_and_report(tiny_checkpoint, capfd, load_log):
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_info()
    try:
        PandaLiteForPretraining.from_pretrained(tiny_checkpoint)
    finally:
        hf_logging.set_verbosity(verbosity)
    assert "Loading weights" in capfd.readouterr().err
    assert any("PandaLiteForPretraining LOAD REPORT" in message for message in load_log)


# Devices (item 9)


@pytest.mark.parametrize("device", ["cuda", "cuda:99", "mps", "nonexistent", "cpu:7", "", "meta", "CUDA", "cuda:-1"])
def test_an_unavailable_device_is_one_clear_value_error(tiny_checkpoint, device):
    if device == "cuda" and torch.cuda.is_available() or device == "mps" and torch.backends.mps.is_available():
        pytest.skip(f"this machine has {device}")
    with pytest.raises(ValueError, match=f"device {device!r}: not available; available: cpu"):
        PandaLitePipeline.from_pretrained(tiny_checkpoint, device=device)


@pytest.mark.parametrize("device", [123, 0, 1.5, b"cpu"])
def test_a_device_that_is_no_name_or_torch_device_is_refused(tiny_checkpoint, device):
    with pytest.raises(ValueError, match="expected a device name such as 'cpu' or 'cuda:0'.*available: cpu"):
        PandaLitePipeline.from_pretrained(tiny_checkpoint, device=device)


@pytest.mark.parametrize("device", [None, "cpu", "cpu:0", torch.device("cpu")])
def test_cpu_devices_are_accepted(tiny_checkpoint, device):
    assert PandaLitePipeline.from_pretrained(tiny_checkpoint, device=device).device.type == "cpu"


def test_gpus_are_listed_and_checked_by_index(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert available_devices()[:3] == ["cpu", "cuda:0", "cuda:1"]
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    assert resolve_device(torch.device("cuda")) == torch.device("cuda")
    with pytest.raises(ValueError, match=r"device 'cuda:2': not available; available: cpu, cuda:0, cuda:1"):
        resolve_device("cuda:2")


def test_the_device_is_checked_before_loading(tiny_checkpoint, no_load):
    with pytest.raises(ValueError, match="device 'cuda:99'"):
        PandaLitePipeline.from_pretrained(tiny_checkpoint, device="cuda:99")


def test_the_cli_names_the_available_devices(tiny_checkpoint, tmp_path, capsys):
    np.save(tmp_path / "context.npy", series(200))
    argv = [
        "forecast",
        "--checkpoint",
        str(tiny_checkpoint),
        "--input",
        str(tmp_path / "context.npy"),
        "--horizon",
        "8",
    ]
    assert main([*argv, "--out", str(tmp_path), "--device", "cuda:99"]) == 2
    assert "device 'cuda:99': not available; available: cpu" in capsys.readouterr().err


# Names (item 10)


LOCAL_LOOKING = [
    "runs/typo-model",  # 'runs/' is a folder here
    "./typo-model",
    "../typo-model",
    "~/no-such-panda-folder",
    "/no/such/folder",
    "runs/exp/model",
    "runs\\typo-model",
    "typo model",
]


@pytest.mark.parametrize("name", LOCAL_LOOKING)
def test_a_local_looking_path_that_does_not_exist_fails_at_once(name, tmp_path, monkeypatch, no_load):
    (tmp_path / "work" / "runs").mkdir(parents=True)  # so 'runs/typo-model' is a local path, not a Hub id
    monkeypatch.chdir(tmp_path / "work")
    with pytest.raises(FileNotFoundError, match=re.escape(f"checkpoint folder {name!r} does not exist")):
        resolve_checkpoint(name)
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        PandaLitePipeline.from_pretrained(name)
    assert time.perf_counter() - start < 1.0


def test_a_path_object_is_always_local(tmp_path, monkeypatch, no_load):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="'typo-model' does not exist"):
        PandaLitePipeline.from_pretrained(Path("typo-model"))


def test_a_file_is_not_a_checkpoint_folder(tiny_checkpoint, monkeypatch, no_load):
    monkeypatch.chdir(tiny_checkpoint)
    with pytest.raises(FileNotFoundError, match="'./model.safetensors' is not a folder"):
        PandaLitePipeline.from_pretrained("./model.safetensors")


def test_a_close_checkpoint_folder_is_suggested(tiny_checkpoint, tmp_path, monkeypatch):
    copy_checkpoint(tiny_checkpoint, tmp_path / "runs" / "lorenz-model")
    (tmp_path / "runs" / "notes").mkdir()  # not a checkpoint: never suggested
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"did you mean 'runs/lorenz-model'\?"):
        resolve_checkpoint("runs/lorenz-modle")
    with pytest.raises(FileNotFoundError) as error:
        resolve_checkpoint("runs/notez")
    assert "did you mean" not in str(error.value)


@pytest.mark.parametrize("name", ["panda-lite-mini-prevew", "panda_lite_mini_preview", "Panda-Lite-Mini-Preview"])
def test_a_typo_of_a_bundled_name_is_refused_with_a_suggestion(name, no_load):
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError, match=r"not a bundled checkpoint; did you mean 'panda-lite-mini-preview'\?"):
        PandaLitePipeline.from_pretrained(name)
    assert time.perf_counter() - start < 1.0


def test_hub_ids_and_unrelated_bare_names_still_go_to_the_hub(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no 'gilpinlab' or 'runs' folder here
    for name in ["gilpinlab/panda-lite-mini-preview", "runs/typo-model", "no-such-panda-checkpoint", "gpt2"]:
        assert resolve_checkpoint(name) == (name, False)
    location, is_local = resolve_checkpoint("panda-lite-mini-preview")
    assert is_local and location.endswith("panda-lite-mini-preview")
