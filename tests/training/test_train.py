"""Pretraining: config, corpus reading, sampling, objectives, the loop, resume and multi-process.

Every run uses the bundled tiny config on a toy corpus (data_gen.toy, the corpus format).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from accelerate import Accelerator
from safetensors.torch import load_file
from util import ROOT, reset_accelerate, small_model

from panda_lite import PandaLiteConfig, PandaLiteModel, PandaLitePipeline
from panda_lite.io import replace_folder
from panda_lite.training.card import render_card
from panda_lite.training.cli import main, train
from panda_lite.training.config import bundled_configs, load_config
from panda_lite.training.corpus import TrajectoryStore, is_validation_system, rank_share
from panda_lite.training.objectives import rollout_loss
from panda_lite.training.state import latest_checkpoint, resume_checkpoint, save_checkpoint
from panda_lite.training.trainer import build_model, lr_factor
from panda_lite.training.windows import Augmentations, WindowSampler

TINY = "tiny"  # the bundled config, panda_lite/training/configs/tiny.yaml
QUIET = ["tracker=none", "log_every=1000"]


def train_argv(
    corpus: Path, output: Path, *overrides: str, resume: bool = False, overwrite: bool = False
) -> list[str]:
    argv = ["--config", TINY, f"data.corpus={corpus}", f"output_dir={output}", *QUIET, *overrides]
    return argv + (["--resume"] if resume else []) + (["--overwrite"] if overwrite else [])


def run_train(corpus: Path, output: Path, *overrides: str, resume: bool = False, overwrite: bool = False) -> dict:
    return train(train_argv(corpus, output, *overrides, resume=resume, overwrite=overwrite))


# --- config -----------------------------------------------------------------------------


def test_config_overrides_are_typed_and_nested():
    config = load_config(TINY, ["optim.learning_rate=1e-3", "model.d_model=32", "max_minutes=2", "data.p_affine=0"])
    assert config.optim.learning_rate == pytest.approx(1e-3) and isinstance(config.optim.learning_rate, float)
    assert config.model["d_model"] == 32 and config.max_minutes == 2.0 and config.data.p_affine == 0.0
    # YAML 1.2 booleans: "no" and "off" stay the strings they name.
    config = load_config(TINY, ["mixed_precision=no", "pipeline.expert=off", "compile=true"])
    assert config.mixed_precision == "no" and config.pipeline == {"expert": "off"} and config.compile is True


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "optim.learnig_rate=1",
            r"unknown config key\(s\) \['optim.learnig_rate'\]; did you mean 'optim.learning_rate'",
        ),
        ("optim.lr=1", r"unknown config key\(s\) \['optim.lr'\] \(known keys in section 'optim': beta1"),
        ("model.d_modle=32", r"\['model.d_modle'\]; did you mean 'model.d_model'\?"),
        ("pipeline.expertt=off", r"\['pipeline.expertt'\]; did you mean 'pipeline.expert'\?"),
        ("data.corpsu=x", r"did you mean 'data.corpus'\?"),
        ("learning_rate=1", r"\['learning_rate'\] \(known keys in section '<root>'"),
        ("batch_size=abc", "batch_size"),
        ("batch_size=0", "positive"),
        ("mixed_precision=fp8", "mixed_precision"),
        ("data.p_convex=0.9", "sum to <= 1"),
        ("objective=mlm rollout_steps=2", "rollout"),
        ("max_steps=10 stop_at_step=11", r"stop_at_step.: must be in \[1, max_steps=10\]"),
        ("model", "key=value"),
        ("pipeline.expert=auto", "config key 'pipeline': PipelineConfig.expert"),
        ("pipeline.delays=2", "config key 'pipeline'"),
    ],
)
def test_config_rejects_bad_values(override, message):
    with pytest.raises(ValueError, match=message):
        load_config(TINY, override.split())


def test_train_cli_refuses_unknown_keys_and_a_missing_corpus(tmp_path, capsys):
    from panda_lite.cli import main as panda_lite

    output = f"output_dir={tmp_path / 'run'}"
    assert panda_lite(["train", "--config", TINY, output, "model.d_modle=32"]) == 2
    assert "['model.d_modle']; did you mean 'model.d_model'?" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before anything is written
    config = tmp_path / "no_corpus.yaml"
    config.write_text("max_steps: 2\n")
    assert panda_lite(["train", "--config", str(config), output]) == 2
    err = capsys.readouterr().err
    assert "panda-lite train: error: no corpus set" in err and "data.corpus=PATH" in err


def test_lr_schedule_warms_up_then_decays_to_floor():
    factors = [lr_factor(s, 100, 0.1, 0.1) for s in range(101)]
    assert factors[0] < factors[5] < factors[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:]))
    assert factors[100] == pytest.approx(0.1)


# --- corpus and sampling ----------------------------------------------------------------


def test_rank_shares_are_disjoint_and_cover_the_split(corpus):
    assert rank_share(4, 1, 2) == ([1, 3], 1)  # whole shards
    assert rank_share(3, 1, 2) == ([0, 1, 2], 2)  # rows, every rank opens all shards
    for world in (1, 2, 3):  # 2 shards: whole shards for world 1 and 2, rows for 3
        shares = [set(TrajectoryStore(corpus / "train", False, 0.0, 80, 3, rank, world).keys) for rank in range(world)]
        assert sum(len(s) for s in shares) == len(set().union(*shares)) == 12


def test_validation_split_holds_out_whole_systems(corpus):
    train_store = TrajectoryStore(corpus / "train", False, 0.3, 80, 3)
    validation = TrajectoryStore(corpus / "train", True, 0.3, 80, 3)
    assert len(train_store) + len(validation) == 12 and len(validation) > 0
    assert not set(train_store.keys) & set(validation.keys)
    # sha1 of the id, not Python's salted hash(): the same split in every process and run.
    assert not is_validation_system("Lorenz~abc", 0.3) and is_validation_system("Lorenz~abc", 0.33)
    fraction = sum(is_validation_system(f"sys{i}", 0.2) for i in range(5000)) / 5000
    assert fraction == pytest.approx(0.2, abs=0.02)


def test_store_skips_short_and_narrow_trajectories(corpus):
    with pytest.raises(ValueError, match="no training trajectories"):
        TrajectoryStore(corpus / "train", False, 0.0, min_length=10_000, min_channels=3)
    with pytest.raises(ValueError, match="no complete corpus shards"):
        TrajectoryStore(corpus / "missing", False, 0.0, 80, 3)


def test_batches_are_a_function_of_seed_rank_and_index(corpus):
    store = TrajectoryStore(corpus / "train", False, 0.0, 80, 3)
    augment = Augmentations(0.3, 0.3, 0.3, 5)
    sampler = WindowSampler(store, 64, 16, 3, augment, seed=1, rank=0)
    first = sampler.batch(7, 8)
    sampler.batch(3, 8)  # drawing other batches first changes nothing: no hidden sampler state
    again = WindowSampler(store, 64, 16, 3, augment, seed=1, rank=0).batch(7, 8)
    assert first["past_values"].shape == (8, 64, 3) and first["future_values"].shape == (8, 16, 3)
    assert torch.equal(first["past_values"], again["past_values"]) and first["keys"] == again["keys"]
    other_rank = WindowSampler(store, 64, 16, 3, augment, seed=1, rank=1).batch(7, 8)
    assert not torch.equal(first["past_values"], other_rank["past_values"])
    assert not torch.equal(first["past_values"], sampler.batch(8, 8)["past_values"])
    assert torch.isfinite(first["past_values"]).all()


# --- objectives ---------------------------------------------------------------------------


def test_rollout_loss_of_one_step_is_the_model_loss():
    model = small_model(loss="huber")
    past, future = torch.randn(4, 64, 3), torch.randn(4, 16, 3)
    assert torch.allclose(rollout_loss(model, past, future, 1), model(past, future_values=future).loss)
    # Two chunks: the pipeline's rollout, scored on the first context's scale.
    future = torch.randn(4, 32, 3)
    rolled = model.rollout(past, 32)
    expected = model.compute_loss(
        (rolled.prediction - rolled.loc) / rolled.scale, (future - rolled.loc) / rolled.scale
    )
    assert torch.equal(rollout_loss(model, past, future, 2), expected)


def test_rollout_loss_backpropagates_through_fed_back_forecasts():
    model = small_model().train()
    past, future = torch.randn(2, 64, 3), torch.randn(2, 48, 3)
    loss = rollout_loss(model, past, future, 3)
    loss.backward()
    assert loss.ndim == 0 and model.head.projection.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="rollout steps"):
        rollout_loss(model, past, future[:, :40], 3)


# --- checkpoints and card -----------------------------------------------------------------


def test_latest_checkpoint_ignores_incomplete_ones(tmp_path):
    for name in ("checkpoint-5", "checkpoint-20", ".tmp-checkpoint-30", "checkpoint-x"):
        (tmp_path / name).mkdir()
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-20"
    assert latest_checkpoint(tmp_path / "none") is None


def test_replace_folder_leaves_the_old_folder_when_building_fails(tmp_path):
    target = tmp_path / "model"
    replace_folder(lambda d: (d / "a").write_text("1"), target)

    def broken(folder):
        (folder / "a").write_text("2")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        replace_folder(broken, target)
    assert (target / "a").read_text() == "1" and [p.name for p in tmp_path.iterdir()] == ["model"]


def test_card_front_matter_and_missing_values(tmp_path):
    template = tmp_path / "t.md"
    template.write_text("---\nlicense: apache-2.0\n---\n# {{name}} {{ other }}\n")
    card = render_card({"name": "m", "other": 3}, datasets=["corpus"], base_model="base", template=template)
    front = yaml.safe_load(card.split("---\n")[1])
    assert front == {"license": "apache-2.0", "datasets": ["corpus"], "base_model": "base"}
    assert card.endswith("# m 3\n")
    with pytest.raises(ValueError, match="other"):
        render_card({"name": "m"}, datasets=[], template=template)


# --- end-to-end runs ----------------------------------------------------------------------


def test_short_run_lowers_validation_loss_and_exports_a_loadable_model(corpus, tmp_path):
    summary = run_train(corpus, tmp_path, "max_steps=60", "eval_every=30", "tracker=tensorboard")
    assert summary["steps"] == 60
    assert summary["validation_loss"] < 0.8 * summary["initial_validation_loss"]
    model_dir = tmp_path / "model"
    pipe = PandaLitePipeline.from_pretrained(model_dir)
    assert pipe.predict(torch.randn(64, 3), 20).shape == (20, 3)
    card = (model_dir / "README.md").read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["library_name"] == "panda_lite" and front["pipeline_tag"] == "time-series-forecasting"
    assert "dynamical systems" in front["tags"] and "base_model" not in front
    n_params = sum(p.numel() for p in pipe.model.parameters())
    assert f"{n_params:,}" in card and "panda-lite train --config" in card
    assert any((tmp_path / "panda_lite").rglob("events.out.tfevents.*"))  # TensorBoard logs
    assert json.loads((model_dir / "pipeline_config.json").read_text()) == {"expert": "off", "nvar_delays": 2}


def test_a_warm_start_keeps_its_base_pipeline_defaults_unless_overridden(corpus, tmp_path, tiny_checkpoint):
    base = PandaLitePipeline.from_pretrained(tiny_checkpoint, expert="nvar")
    base.save_pretrained(tmp_path / "base")
    tiny = ["model.context_length=128", "model.prediction_length=32", "max_steps=2", "eval_every=1000"]
    run_train(corpus, tmp_path / "kept", f"init_from={tmp_path / 'base'}", *tiny)
    assert PandaLitePipeline.from_pretrained(tmp_path / "kept" / "model").expert == "nvar"
    reset_accelerate()
    run_train(corpus, tmp_path / "off", f"init_from={tmp_path / 'base'}", "pipeline.expert=off", *tiny)
    assert PandaLitePipeline.from_pretrained(tmp_path / "off" / "model").expert == "off"


def test_rollout_and_bf16_objectives_run(corpus, tmp_path):
    summary = run_train(
        corpus,
        tmp_path,
        "max_steps=4",
        "rollout_steps=2",
        "model.loss=mae",
        "mixed_precision=bf16",
        "gradient_accumulation_steps=2",
    )
    assert summary["steps"] == 4 and summary["samples"] == 4 * 2 * 16
    assert torch.isfinite(torch.tensor(summary["validation_loss"]))


def test_masked_patch_pretraining_initialises_a_forecaster(corpus, tmp_path):
    run_train(corpus, tmp_path / "mlm", "objective=mlm", "max_steps=5")
    reset_accelerate()
    mlm_weights = load_file(tmp_path / "mlm" / "model" / "model.safetensors")
    config = load_config(TINY, [f"init_from={tmp_path / 'mlm' / 'model'}", "model.prediction_length=32"])
    forecaster = build_model(config)
    assert isinstance(forecaster, PandaLiteModel) and forecaster.config.prediction_length == 32
    encoder = {k: v for k, v in forecaster.state_dict().items() if k.startswith("encoder.")}
    assert encoder and all(torch.equal(v, mlm_weights[k]) for k, v in encoder.items())


def test_more_parroted_candidates_keep_the_trained_head(tmp_path):
    # Growing the retrieval tokens from 1 to 3 candidates: the old head fills the leading
    # columns (context + best candidate), the two new candidates' columns start at zero.
    config = load_config(TINY, ["model.parrot_motif_length=4"])
    torch.manual_seed(0)
    one = PandaLiteModel(PandaLiteConfig(**config.model))
    with torch.no_grad():
        one.head.projection.weight.normal_()
        one.head.projection.bias.normal_()
    one.save_pretrained(tmp_path / "one")
    three = build_model(
        load_config(
            TINY, [f"init_from={tmp_path / 'one'}", "model.parrot_motif_length=4", "model.parrot_candidates=3"]
        )
    )
    old, new = one.head.projection.weight, three.head.projection.weight
    assert new.shape[1] == old.shape[1] + 2 * one.config.num_parrot_patches * one.config.d_model
    assert torch.equal(new[:, : old.shape[1]], old) and not new[:, old.shape[1] :].any()
    assert torch.equal(three.head.projection.bias, one.head.projection.bias)
    # A plain forecaster's head predicts the whole forecast, not a residual: never kept.
    plain = PandaLiteModel(PandaLiteConfig(**load_config(TINY, []).model))
    with torch.no_grad():
        plain.head.projection.weight.normal_()
    plain.save_pretrained(tmp_path / "plain")
    parrot = build_model(load_config(TINY, [f"init_from={tmp_path / 'plain'}", "model.parrot_motif_length=4"]))
    assert not parrot.head.projection.weight.any() and not parrot.head.projection.bias.any()


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, "training ended before the checkpoint appeared"
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout} s"
        time.sleep(0.01)


@pytest.mark.slow
def test_kill_9_then_resume_matches_an_uninterrupted_run(corpus, tmp_path):
    args = ["max_steps=150", "save_every=10", "batch_size=64", "eval_every=1000"]
    reference = run_train(corpus, tmp_path / "reference", *args)
    reset_accelerate()

    killed = tmp_path / "killed"
    command = [
        sys.executable,
        "-m",
        "panda_lite",
        "train",
        "--config",
        TINY,
        f"data.corpus={corpus}",
        f"output_dir={killed}",
        *QUIET,
        *args,
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(killed / "checkpoints" / "checkpoint-20", process)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert not (killed / "model").exists(), "the run finished before it was killed"
    resumed_from = int(latest_checkpoint(killed / "checkpoints").name.split("-")[1])
    assert 20 <= resumed_from < 150

    resumed = run_train(corpus, killed, *args, resume=True)
    assert resumed["steps"] == reference["steps"] == 150
    # Same data order, schedule position and optimiser state: the same weights.
    expected = load_file(tmp_path / "reference" / "model" / "model.safetensors")
    actual = load_file(killed / "model" / "model.safetensors")
    assert expected.keys() == actual.keys()
    assert all(torch.allclose(expected[k], actual[k], atol=1e-6) for k in expected)
    PandaLiteModel.from_pretrained(killed / "model")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_two_cpu_processes(corpus: Path, output: Path, *args: str) -> None:
    """`scripts/train.py` on the tiny config in two gloo CPU processes (raises if it fails).

    `accelerate launch --cpu` starts one process; torchrun-style launching plus gloo is how
    several CPU processes run (see panda_lite.training.trainer.make_accelerator)."""
    command = [
        "accelerate",
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(free_port()),
        str(ROOT / "scripts" / "train.py"),
        "--config",
        TINY,
        f"data.corpus={corpus}",
        f"output_dir={output}",
        *QUIET,
        *args,
    ]
    # Its own session, so that a hang (torch's destroy_process_group can hang, pytorch#75097)
    # is answered by SIGABRT to the launcher and both ranks: faulthandler then prints where each
    # Python thread stood, and the failure shows it.
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        _, stderr = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGABRT)
        try:
            _, stderr = process.communicate(timeout=30)
        finally:
            with contextlib.suppress(ProcessLookupError):  # the group is gone once all have exited
                os.killpg(process.pid, signal.SIGKILL)
        pytest.fail(f"two-process training hung for 300 s; its last output:\n{stderr[-6000:]}")
    assert process.returncode == 0, stderr[-3000:]


@pytest.mark.slow
def test_two_cpu_processes_see_disjoint_data(corpus, tmp_path):
    args = ["data.log_samples=true", "max_steps=6", "save_every=3"]
    launch_two_cpu_processes(corpus, tmp_path, *args)
    summary = json.loads((tmp_path / "model" / "training_summary.json").read_text())
    assert summary["num_processes"] == 2 and summary["samples"] == 6 * 2 * 16
    seen = []
    for rank in range(2):
        lines = (tmp_path / f"samples-rank{rank}.jsonl").read_text().splitlines()
        assert [json.loads(line)["batch_index"] for line in lines] == list(range(6))
        seen.append({key for line in lines for key in json.loads(line)["keys"]})
    assert seen[0] and seen[1] and not seen[0] & seen[1]

    # As if killed after checkpoint-3: both processes resume from it and end with the same weights.
    expected = load_file(tmp_path / "model" / "model.safetensors")
    shutil.rmtree(tmp_path / "checkpoints" / "checkpoint-6")
    launch_two_cpu_processes(corpus, tmp_path, *args, "--resume")
    for rank in range(2):
        lines = (tmp_path / f"samples-rank{rank}.jsonl").read_text().splitlines()
        assert [json.loads(line)["batch_index"] for line in lines] == [*range(6), *range(3, 6)]
    actual = load_file(tmp_path / "model" / "model.safetensors")
    assert all(torch.equal(expected[k], actual[k]) for k in expected)


def test_configs_load_and_panda20m_is_panda_sized(tmp_path):
    from accelerate.commands.config.config_args import load_config_from_file

    assert bundled_configs() == ["finetune", "mini", "mini_observed", "panda20m", "tiny"]
    for name in bundled_configs():
        load_config(name)
    (tmp_path / "mine.yaml").write_text("max_steps: 7\n")
    assert load_config(tmp_path / "mine.yaml").max_steps == 7
    with pytest.raises(ValueError, match=r"neither a YAML file nor a bundled config \(\['finetune'"):
        load_config("minii")
    for name in ("1gpu", "8gpu_ddp", "multinode", "fsdp"):
        load_config_from_file(str(ROOT / "scripts" / "configs" / f"accelerate_{name}.yaml"))
    with torch.device("meta"):  # counts parameters without allocating them
        model = PandaLiteModel(PandaLiteConfig(**load_config("panda20m").model))
    assert 19e6 < sum(p.numel() for p in model.parameters()) < 23e6


def test_device_packing_fits_the_return_limits(tmp_path, monkeypatch):
    from util import load_script

    pack_checkpoint = load_script("scripts/device/pack_checkpoint.py")
    model = small_model()
    model.save_pretrained(tmp_path / "model")
    (tmp_path / "model" / "README.md").write_text("card")
    small = pack_checkpoint.pack(tmp_path / "model", tmp_path / "small")
    assert {p.name for p in small} == {"config.json", "model.safetensors", "README.md"}
    monkeypatch.setattr(pack_checkpoint, "FILE_LIMIT", 8_000)  # force the bf16 shard path
    packed = pack_checkpoint.pack(tmp_path / "model", tmp_path / "large")
    assert len(packed) <= 8 and all(p.stat().st_size <= 16 * 1024**2 for p in packed)
    assert any(p.name == "model.safetensors.index.json" for p in packed)
    reloaded = PandaLiteModel.from_pretrained(tmp_path / "large", dtype=torch.float32)
    x = torch.randn(2, 64, 3)
    assert torch.allclose(reloaded(x).prediction, model(x).prediction, atol=0.1, rtol=0.05)


def test_shards_without_manifest_are_incomplete_and_skipped(corpus, tmp_path):
    shutil.copytree(corpus / "train", tmp_path / "train")
    (tmp_path / "train" / "manifest-00001-of-00002.json").unlink()  # shard 1 "still being written"
    keys = TrajectoryStore(tmp_path / "train", False, 0.0, 80, 3).keys
    assert keys and all(k.startswith("shard-00000-of-00002:") for k in keys)


def test_loader_workers_keep_batch_order(corpus):
    from torch.utils.data import DataLoader

    from panda_lite.training.windows import BatchStream

    sampler = WindowSampler(TrajectoryStore(corpus / "train", False, 0.0, 80, 3), 64, 16, 3, Augmentations(), seed=0)
    loader = DataLoader(BatchStream(sampler, 4, start=10), batch_size=None, num_workers=2)
    batches = [b for _, b in zip(range(5), loader)]
    assert [b["batch_index"] for b in batches] == [10, 11, 12, 13, 14]
    assert all(torch.equal(b["past_values"], sampler.batch(b["batch_index"], 4)["past_values"]) for b in batches)


def test_fp16_without_gpu_is_a_clear_error():
    from panda_lite.training.trainer import make_accelerator

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="fp16 needs a GPU"):
        make_accelerator(load_config(TINY, ["mixed_precision=fp16"]))


def test_time_limit_stops_checkpoints_and_exports(corpus, tmp_path):
    summary = run_train(corpus, tmp_path, "max_steps=100000", "max_minutes=0.000001", "log_every=2")
    assert summary["steps"] == 2  # the limit is checked at log steps
    assert latest_checkpoint(tmp_path / "checkpoints").name == "checkpoint-2"
    assert (tmp_path / "model" / "model.safetensors").is_file()


def test_stop_at_step_rebuilds_the_weights_of_a_longer_schedule(corpus, tmp_path):
    # A run stopped by wall time at step k is rebuilt by stop_at_step=k with the same max_steps:
    # the learning-rate schedule, and so the weights, match the longer run's step-k checkpoint.
    run_train(corpus, tmp_path / "full", "max_steps=6", "save_every=3", "eval_every=1000")
    summary = run_train(corpus, tmp_path / "stopped", "max_steps=6", "stop_at_step=3", "eval_every=1000")
    assert summary["steps"] == 3
    expected = load_file(tmp_path / "full" / "checkpoints" / "checkpoint-3" / "model.safetensors")
    actual = load_file(tmp_path / "stopped" / "model" / "model.safetensors")
    assert expected.keys() == actual.keys()
    assert all(torch.equal(expected[k], actual[k]) for k in expected)


def test_early_stopping_keeps_the_best_weights(corpus, tmp_path):
    from panda_lite.training.corpus import corpus_run_data
    from panda_lite.training.trainer import Trainer, make_accelerator

    config = load_config(
        TINY, [f"data.corpus={corpus}", f"output_dir={tmp_path}", "early_stopping_patience=2", "tracker=none"]
    )
    accelerator = make_accelerator(config)
    model = build_model(config)
    trainer = Trainer(config, accelerator, model, corpus_run_data(config, 64, 16, 0, 1), run_id="test")
    assert trainer._record_validation(1.0) is False
    best = {k: v.clone() for k, v in trainer.unwrapped.state_dict().items()}
    with torch.no_grad():
        trainer.unwrapped.head.projection.weight.add_(1.0)  # later weights differ from the best
    assert trainer._record_validation(1.5) is False
    assert trainer._record_validation(1.2) is True  # 2 validations without improvement
    assert all(torch.equal(trainer.best_state[k], v) for k, v in best.items())


# --- training state: pickle-free, exact, tied to its run ----------------------------------


class WritesMarker:
    """Unpickling this object creates a file: the proof that a planted pickle ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


@pytest.mark.slow
def test_resume_never_unpickles_a_planted_file(corpus, tmp_path):
    run_train(corpus, tmp_path, "max_steps=4", "save_every=2")
    checkpoint = latest_checkpoint(tmp_path / "checkpoints")
    marker = tmp_path / "planted-pickle-ran"
    for name in ("custom_checkpoint_0.pkl", "custom_checkpoint_1.pkl", "random_states_0.pkl"):
        torch.save({"state": WritesMarker(marker)}, checkpoint / name)  # what Accelerate's load_state unpickles
    reset_accelerate()
    try:
        resumed = run_train(corpus, tmp_path, "max_steps=6", "save_every=2", resume=True)
    finally:
        assert not marker.exists(), "a planted pickle ran on resume"
    assert resumed["steps"] == 6
    # What a checkpoint holds is safetensors and JSON only.
    assert {p.suffix for p in latest_checkpoint(tmp_path / "checkpoints").iterdir()} == {".safetensors", ".json"}


@pytest.mark.slow
def test_early_stopping_resumed_past_the_best_exports_the_best_of_an_uninterrupted_run(corpus, tmp_path):
    # A high learning rate: the validation loss bottoms out early and early stopping ends the run.
    args = ["max_steps=80", "eval_every=5", "save_every=5", "early_stopping_patience=3", "optim.learning_rate=3e-2"]
    reference = run_train(corpus, tmp_path / "reference", *args)
    stopped_at = reference["steps"]
    assert stopped_at < 80 and reference["validation_loss"] == reference["best_validation_loss"]
    # The best was 3 validations (15 steps) before the end: a run killed after the checkpoint
    # 5 steps before the end is past its best.
    reset_accelerate()
    run_train(corpus, tmp_path / "resumed", *args, f"stop_at_step={stopped_at - 5}")
    reset_accelerate()
    resumed = run_train(corpus, tmp_path / "resumed", *args, resume=True)
    assert resumed["steps"] == stopped_at and resumed["validation_loss"] == reference["validation_loss"]
    expected = load_file(tmp_path / "reference" / "model" / "model.safetensors")
    last = load_file(tmp_path / "reference" / "checkpoints" / f"checkpoint-{stopped_at}" / "model.safetensors")
    actual = load_file(tmp_path / "resumed" / "model" / "model.safetensors")
    assert not all(torch.equal(expected[k], last[k]) for k in expected)  # the best is not the last
    assert expected.keys() == actual.keys() and all(torch.equal(expected[k], actual[k]) for k in expected)


@pytest.mark.slow
def test_resume_restores_the_dropout_generator(corpus, tmp_path):
    args = ["max_steps=6", "save_every=3", "eval_every=1000", "model.dropout=0.2"]
    run_train(corpus, tmp_path / "full", *args)
    reset_accelerate()
    run_train(corpus, tmp_path / "resumed", *args, "stop_at_step=3")
    reset_accelerate()
    run_train(corpus, tmp_path / "resumed", *args, resume=True)
    expected = load_file(tmp_path / "full" / "model" / "model.safetensors")
    actual = load_file(tmp_path / "resumed" / "model" / "model.safetensors")
    assert all(torch.equal(expected[k], actual[k]) for k in expected)


@pytest.mark.slow
def test_a_fresh_run_refuses_a_used_folder_and_overwrite_starts_over(corpus, tmp_path, capsys):
    run_train(corpus, tmp_path, "max_steps=6", "save_every=2", "keep_checkpoints=5")
    old_run = json.loads((tmp_path / "run.json").read_text())["run_id"]
    reset_accelerate()
    with pytest.raises(ValueError, match=r"is not empty.*--resume.*--overwrite"):
        run_train(corpus, tmp_path, "max_steps=2")
    reset_accelerate()
    assert main("train", train_argv(corpus, tmp_path, "max_steps=2")) == 2
    assert "is not empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one or the other
        run_train(corpus, tmp_path, resume=True, overwrite=True)
    reset_accelerate()
    run_train(corpus, tmp_path, "max_steps=2", "save_every=2", overwrite=True)
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["checkpoint-2"]  # the old run's are gone
    assert json.loads((tmp_path / "run.json").read_text())["run_id"] != old_run
    reset_accelerate()
    assert run_train(corpus, tmp_path, "max_steps=4", "save_every=2", resume=True)["steps"] == 4
    # A folder no run wrote is never used, and --overwrite deletes nothing in it.
    (tmp_path / "mine" / "panda_lite").mkdir(parents=True)
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    for flags in ({"overwrite": True}, {"resume": True}):
        reset_accelerate()
        with pytest.raises(ValueError, match="holds no training run"):
            run_train(corpus, tmp_path / "mine", "max_steps=2", **flags)
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt", "panda_lite"]


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncate model.safetensors", "delete optimizer.*", "truncate state.json"])
def test_resume_falls_back_past_a_damaged_newest_checkpoint(corpus, tmp_path, capsys, damage):
    args = ["max_steps=6", "save_every=2", "keep_checkpoints=3", "eval_every=1000"]
    run_train(corpus, tmp_path, *args)
    expected = load_file(tmp_path / "model" / "model.safetensors")
    action, pattern = damage.split()
    for path in (tmp_path / "checkpoints" / "checkpoint-6").glob(pattern):
        if action == "truncate":
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        else:
            path.unlink()
    reset_accelerate()
    capsys.readouterr()
    assert run_train(corpus, tmp_path, *args, resume=True)["steps"] == 6
    out = capsys.readouterr().out
    assert "checkpoint-6 is damaged" in out and "checkpoint-4 at step 4" in out
    actual = load_file(tmp_path / "model" / "model.safetensors")
    assert all(torch.equal(expected[k], actual[k]) for k in expected)


@pytest.mark.slow
def test_the_next_run_removes_a_stale_export_folder(corpus, tmp_path):
    run_train(corpus, tmp_path, "max_steps=2")
    (tmp_path / ".tmp-model-k1ll3d").mkdir()  # what a kill during export leaves
    (tmp_path / ".tmp-model-k1ll3d" / "model.safetensors").write_bytes(b"half a file")
    (tmp_path / ".old-model-k1ll3d" / "model").mkdir(parents=True)
    reset_accelerate()
    run_train(corpus, tmp_path, "max_steps=2", resume=True)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_resume_skips_damaged_checkpoints_and_refuses_another_runs(tmp_path):
    accelerator = Accelerator(cpu=True)
    for step in (1, 2, 3):
        save_checkpoint(accelerator, tmp_path, step, 3, "run-a", {"model": {"w": torch.full((2,), float(step))}}, {})
    (tmp_path / "checkpoint-3" / "model.safetensors").write_bytes(b"")  # truncated by hand
    (tmp_path / "checkpoint-2" / "rng-0.safetensors").unlink()  # deleted by hand
    said: list[str] = []
    checkpoint, state = resume_checkpoint(tmp_path, "run-a", said.append)
    assert checkpoint.name == "checkpoint-1" and state["step"] == 1
    assert said[0].startswith("checkpoint-3 is damaged (model.safetensors differs from what was written")
    assert said[1].startswith("checkpoint-2 is damaged (rng-0.safetensors is missing)")
    with pytest.raises(ValueError, match="belongs to another run"):
        resume_checkpoint(tmp_path, "run-b", said.append)
    (tmp_path / "checkpoint-1" / "state.json").write_text('{"run_id": ')
    with pytest.raises(ValueError, match="no intact checkpoint .*checkpoint-3, checkpoint-2, checkpoint-1"):
        resume_checkpoint(tmp_path, "run-a", said.append)
    assert resume_checkpoint(tmp_path / "none", "run-a", said.append) is None


def test_folders_are_fsynced_before_they_are_renamed_into_place(tmp_path, monkeypatch):
    events: list[tuple[str, str]] = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def recording_replace(source, destination) -> None:
        events.append(("replace", str(destination)))
        replace(source, destination)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)

    def flushed_around(folder: Path) -> tuple[set[str], set[str]]:
        """Names fsynced before `folder` was renamed into place, and paths fsynced after."""
        at = events.index(("replace", str(folder)))
        flushed = [(i, p) for i, (kind, p) in enumerate(events) if kind == "fsync"]
        return {Path(p).name for i, p in flushed if i < at}, {p for i, p in flushed if i > at}

    replace_folder(lambda d: (d / "weights").write_text("1"), tmp_path / "model")
    before, after = flushed_around(tmp_path / "model")
    assert "weights" in before and str(tmp_path) in after
    save_checkpoint(Accelerator(cpu=True), tmp_path / "checkpoints", 1, 1, "run", {"model": {"w": torch.ones(2)}}, {})
    before, after = flushed_around(tmp_path / "checkpoints" / "checkpoint-1")
    assert {"model.safetensors", "rng-0.safetensors", "state.json", ".tmp-checkpoint-1"} <= before
    assert str(tmp_path / "checkpoints") in after
