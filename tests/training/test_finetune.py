"""Fine-tuning: reading a user's files, clear errors for bad ones, and an end-to-end run."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from datasets import Dataset
from scipy.integrate import solve_ivp
from util import reset_accelerate, write_csv

from data_gen.toy import lorenz
from panda_lite import PandaLitePipeline
from panda_lite.training.cli import finetune, finetune_parser
from panda_lite.training.user_data import read_user_data, split_by_time


def lorenz_series(x0, steps: int = 1500, dt: float = 0.02) -> np.ndarray:
    t = 20 + np.arange(steps) * dt  # after a transient of 20 time units
    return solve_ivp(lorenz, (0, t[-1]), x0, t_eval=t, args=(10.0, 28.0, 8 / 3), rtol=1e-7).y.T


# --- readers ------------------------------------------------------------------------------


def test_reads_csv_npy_parquet_folders_and_datasets_folders(tmp_path):
    values = np.random.default_rng(0).normal(size=(300, 3))
    write_csv(tmp_path / "a.csv", values)
    np.save(tmp_path / "b.npy", values)
    pq.write_table(pa.table({"x": values[:, 0], "y": values[:, 1], "z": values[:, 2]}), tmp_path / "c.parquet")
    for name in ("a.csv", "b.npy", "c.parquet"):
        [(source, array)] = read_user_data(tmp_path / name)
        assert source.endswith(name) and array.dtype == np.float32 and np.allclose(array, values, atol=1e-6)
    assert len(read_user_data(tmp_path)) == 3  # a folder of files
    corpus_like = Dataset.from_dict({"trajectory": [values.tolist(), values[:200].tolist()]})
    corpus_like.save_to_disk(str(tmp_path / "ds"))
    series = read_user_data(tmp_path / "ds")
    assert [a.shape for _, a in series] == [(300, 3), (200, 3)]


def test_missing_steps_are_interpolated(tmp_path):
    values = np.tile(np.arange(10.0)[:, None], (1, 2))
    values[4, 0] = np.nan
    [(_, array)] = read_user_data(write_csv(tmp_path / "gap.csv", values, header=["a", "b"]))
    assert array[4, 0] == pytest.approx(4.0)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("ragged.csv", "x,y\n1,2\n3\n", "ragged"),
        ("words.csv", "x,y\n1,2\n3,abc\n", "non-numeric"),
        ("empty_column.csv", "x,y\n1,\n2,\n3,\n", "no numbers"),
        ("notes.md", "hello", "unsupported file type"),
    ],
)
def test_bad_files_raise_errors_naming_file_and_problem(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as error:
        read_user_data(path)
    assert name in str(error.value)


def test_bad_parquet_and_ragged_trajectories_are_named(tmp_path):
    pq.write_table(pa.table({"x": [1.0, 2.0], "label": ["a", "b"]}), tmp_path / "mixed.parquet")
    with pytest.raises(ValueError, match=r"mixed.parquet: non-numeric column\(s\) \['label"):
        read_user_data(tmp_path / "mixed.parquet")
    pq.write_table(pa.table({"trajectory": [[[1.0, 2.0], [3.0]]]}), tmp_path / "ragged.parquet")
    with pytest.raises(ValueError, match=r"ragged.parquet\[row 0\].*ragged"):
        read_user_data(tmp_path / "ragged.parquet")


def test_too_short_series_and_mixed_channel_counts_are_rejected():
    long, short = np.zeros((400, 3), np.float32), np.zeros((40, 3), np.float32)
    too_short = r"short.csv: 40 time steps is too short; fine-tuning needs at least 128: a context of at least 64"
    with pytest.raises(ValueError, match=too_short):
        split_by_time([("long.csv", long), ("short.csv", short)], 128, 32, 16, 0.2)
    with pytest.raises(ValueError, match="different channel counts"):
        split_by_time([("a", long), ("b", np.zeros((400, 2), np.float32))], 128, 32, 16, 0.2)


def test_time_split_keeps_validation_in_the_future():
    values = np.arange(500, dtype=np.float32)[:, None].repeat(3, 1)
    train, validation, context = split_by_time([("s", values)], 128, 32, 16, 0.2)
    assert context == 128 and len(train.array(0)) == 400
    assert validation.array(0)[0, 0] == 400 - 128 and validation.array(0)[-1, 0] == 499
    _, _, short_context = split_by_time([("s", values[:180])], 128, 32, 16, 0.2)
    assert short_context == 144 - 32  # the longest context that fits, left-padded by the model


def test_finetuning_refuses_a_used_output_folder(tmp_path, tiny_checkpoint):
    csv = write_csv(tmp_path / "series.csv", lorenz_series([1.0, 1.0, 25.0], steps=400))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text('{"run_id": "earlier"}')
    argv = ["--base", str(tiny_checkpoint), "--data", str(csv), "--output", str(tmp_path / "run")]
    with pytest.raises(ValueError, match=r"run is not empty \(run.json\).*--overwrite"):
        finetune(argv)
    assert finetune_parser().parse_args([*argv, "--overwrite"]).overwrite


# --- end to end ---------------------------------------------------------------------------


def normalised_mse(pipe: PandaLitePipeline, series: np.ndarray, context: int, horizon: int) -> float:
    starts = range(0, len(series) - context - horizon, 97)
    windows = np.stack([series[s : s + context] for s in starts])
    targets = np.stack([series[s + context : s + context + horizon] for s in starts])
    forecast = pipe.predict(windows, horizon).numpy()
    scale = windows.std(axis=1, keepdims=True)
    return float((((forecast - targets) / scale) ** 2).mean())


@pytest.mark.slow
def test_finetuning_on_a_csv_improves_error_on_that_family(tmp_path, tiny_checkpoint):
    csv = write_csv(tmp_path / "lorenz.csv", lorenz_series([1.0, 1.0, 25.0]), header=["x", "y", "z"])
    unseen = lorenz_series([-3.0, 2.0, 20.0])  # same system, another trajectory
    summary = finetune(
        [
            "--base",
            str(tiny_checkpoint),
            "--data",
            str(csv),
            "--output",
            str(tmp_path / "run"),
            "max_steps=80",
            "batch_size=16",
            "eval_every=10",
            "optim.learning_rate=1e-3",
            "tracker=none",
            "num_threads=1",
        ]
    )
    reset_accelerate()
    assert summary["fine_tuned"]["mse"] < summary["zero_shot"]["mse"]
    before = normalised_mse(PandaLitePipeline.from_pretrained(tiny_checkpoint), unseen, 128, 32)
    after = normalised_mse(PandaLitePipeline.from_pretrained(tmp_path / "run" / "model"), unseen, 128, 32)
    assert after < 0.8 * before
    card = (tmp_path / "run" / "model" / "README.md").read_text()
    assert yaml.safe_load(card.split("---\n")[1])["base_model"] == str(tiny_checkpoint)
    assert "panda-lite finetune --base" in card
    assert torch.isfinite(torch.tensor(summary["validation_loss"]))


def test_finetuning_shrinks_its_context_for_short_series_and_names_the_minimum(tmp_path, tiny_checkpoint, capsys):
    from panda_lite.cli import main

    # 150 steps: the last 20% (30) is shorter than prediction_length 32; before, "needs at least 160".
    csv = write_csv(tmp_path / "short.csv", lorenz_series([1.0, 1.0, 25.0], steps=150))
    argv = ["finetune", "--base", str(tiny_checkpoint), "--data", str(csv), "--output", str(tmp_path / "run")]
    quick = ["max_steps=2", "batch_size=4", "eval_every=1", "tracker=none", "num_threads=1"]
    assert main([*argv, *quick]) == 0
    assert "using a context of 86 steps (model: 128; the least fine-tuning uses: 64)" in capsys.readouterr().out
    reset_accelerate()
    csv = write_csv(tmp_path / "tiny.csv", lorenz_series([1.0, 1.0, 25.0], steps=100))
    argv[4], argv[6] = str(csv), str(tmp_path / "run2")
    assert main([*argv, *quick]) == 2
    err = capsys.readouterr().err
    assert "tiny.csv: 100 time steps is too short; fine-tuning needs at least 128" in err
    assert "a context of at least 64 steps (4 patches of 16)" in err
