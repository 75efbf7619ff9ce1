"""The panda-lite command (forecast, evaluate, --version, --help, the training commands' dispatch)
and scripts/evaluate.py."""

import csv
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from util import ROOT, write_csv

from panda_lite.cli import checkpoint_labels, main
from panda_lite.io import read_series


def sines(n, channels=3):
    t = np.arange(n) * 0.05
    return np.stack([np.sin((1 + 0.3 * j) * t) for j in range(channels)], axis=-1)


def forecast(tiny_checkpoint, tmp_path, input_path, *extra):
    return main(
        [
            "forecast",
            "--checkpoint",
            str(tiny_checkpoint),
            "--input",
            str(input_path),
            "--horizon",
            "40",
            "--out",
            str(tmp_path / "out"),
            *map(str, extra),
        ]
    )


def test_forecast_csv_with_header_and_truth(tiny_checkpoint, tmp_path, capsys):
    data = sines(240)
    path = write_csv(tmp_path / "traj.csv", data[:200].round(6), header=["x", "y", "z"])
    truth = write_csv(tmp_path / "truth.csv", data[200:].round(6))
    assert forecast(tiny_checkpoint, tmp_path, path, "--truth", truth) == 0
    with open(tmp_path / "out" / "forecast.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["x", "y", "z"] and len(rows) == 41
    assert np.all(np.isfinite(np.array(rows[1:], dtype=float)))
    assert (tmp_path / "out" / "forecast.png").read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    assert "vs truth over 40 steps" in out and "forecast made by the network; expert off" in out


def test_forecast_reports_and_switches_the_expert(tiny_checkpoint, tmp_path, capsys, lorenz_trajectory):
    path = write_csv(tmp_path / "lorenz.csv", lorenz_trajectory[1000:1128], header=["x", "y", "z"])
    assert forecast(tiny_checkpoint, tmp_path, path, "--expert", "nvar") == 0
    assert "forecast made by the NVAR expert; expert nvar (2 delays" in capsys.readouterr().out
    by_expert = (tmp_path / "out" / "forecast.csv").read_text()
    assert forecast(tiny_checkpoint, tmp_path, path, "--expert", "off") == 0
    assert "forecast made by the network; expert off" in capsys.readouterr().out
    assert (tmp_path / "out" / "forecast.csv").read_text() != by_expert


def test_forecast_npy_matches_pipeline(tiny_checkpoint, tmp_path):
    from panda_lite import PandaLitePipeline

    data = sines(200, channels=2)
    np.save(tmp_path / "traj.npy", data)
    assert forecast(tiny_checkpoint, tmp_path, tmp_path / "traj.npy") == 0
    written, names = read_series(str(tmp_path / "out" / "forecast.csv"))
    expected = PandaLitePipeline.from_pretrained(tiny_checkpoint).predict(data, 40).numpy()
    assert names == ["x0", "x1"]
    np.testing.assert_allclose(written, expected, rtol=1e-5, atol=1e-6)
    # Shortest round-trip reprs of the float64 forecast: exact, and no float32 noise digits.
    assert np.array_equal(written, expected)
    first = (tmp_path / "out" / "forecast.csv").read_text().splitlines()[1].split(",")
    assert first == [repr(float(v)) for v in expected[0]]


@pytest.mark.parametrize(
    "content, message",
    [
        ("1,2,3\n4,5,6\n7,8\n", "data row 3 .* has 2 cells, expected 3 .*ragged"),
        ("a,b\n1,2\n3,oops\n", "non-numeric cell 'oops' in data row 2, column 2"),
        ("1,2\n3,4\n", "2 time steps, this checkpoint needs at least 16"),
        ("a,b\n" + "1,\n" * 30, "column\\(s\\) b contain no numbers"),
        ("", "file is empty"),
    ],
)
def test_forecast_bad_csv_names_file_and_problem(tiny_checkpoint, tmp_path, capsys, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert forecast(tiny_checkpoint, tmp_path, path) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert re.search(message, err), err


def test_forecast_bad_paths_and_shapes(tiny_checkpoint, tmp_path, capsys):
    assert forecast(tiny_checkpoint, tmp_path, tmp_path / "missing.csv") == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "traj.parquet").write_text("x")
    assert forecast(tiny_checkpoint, tmp_path, tmp_path / "traj.parquet") == 2
    assert "unsupported file type '.parquet'" in capsys.readouterr().err
    np.save(tmp_path / "cube.npy", np.zeros((4, 5, 6)))
    assert forecast(tiny_checkpoint, tmp_path, tmp_path / "cube.npy") == 2
    assert "shape (T,) or (T, C)" in capsys.readouterr().err
    np.save(tmp_path / "inf.npy", np.array([[1.0, np.inf]] * 40))
    assert forecast(tiny_checkpoint, tmp_path, tmp_path / "inf.npy") == 2
    assert "inf.npy: contains infinite values" in capsys.readouterr().err
    path = write_csv(tmp_path / "traj.csv", sines(100, 3))
    truth = write_csv(tmp_path / "truth.csv", sines(10, 2))
    assert forecast(tiny_checkpoint, tmp_path, path, "--truth", truth) == 2
    assert "has 2 channels" in capsys.readouterr().err


def test_forecast_of_huge_values_is_finite_and_complex_files_are_refused(tiny_checkpoint, tmp_path, capsys):
    # Before: a series times 1e39 gave a CSV of -inf (exit 0) and a complex .npy lost its
    # imaginary part silently (exit 0).
    np.save(tmp_path / "huge.npy", sines(200) * 1e39)
    assert forecast(tiny_checkpoint, tmp_path, tmp_path / "huge.npy") == 0
    written, _ = read_series(str(tmp_path / "out" / "forecast.csv"))
    assert np.isfinite(written).all() and np.abs(written).max() > 1e38
    np.save(tmp_path / "complex.npy", sines(200) * (1 + 1j))
    assert forecast(tiny_checkpoint, tmp_path, tmp_path / "complex.npy") == 2
    assert "complex.npy: array dtype complex128 is not real numbers" in capsys.readouterr().err
    np.savez(tmp_path / "archive.npz", x=sines(200))
    (tmp_path / "archive.npz").rename(tmp_path / "archive.npy")  # before: an AttributeError traceback
    assert forecast(tiny_checkpoint, tmp_path, tmp_path / "archive.npy") == 2
    assert "archive.npy: an .npz archive, not a .npy array" in capsys.readouterr().err
    np.save(tmp_path / "beyond.npy", sines(200) * 1e200)
    assert forecast(tiny_checkpoint, tmp_path, tmp_path / "beyond.npy") == 2
    assert "at most 1e+150 is supported" in capsys.readouterr().err


def test_read_series_keeps_missing_values(tmp_path):
    values, names = read_series(write_csv(tmp_path / "m.csv", [[1, 2], ["", 3], [4, "nan"]]))
    assert names == ["x0", "x1"]
    assert np.isnan(values[1, 0]) and np.isnan(values[2, 1]) and values[2, 0] == 4


def run_evaluate(tiny_checkpoint, tmp_path, systems: str, horizons: str, *extra: str) -> int:
    """`panda-lite evaluate` of the tiny checkpoint on dysts flows, small enough for seconds."""
    small = "--windows 2 --context 128 --long-horizon 0 --num-points 400 --no-progress".split()
    return main(
        [
            "evaluate",
            "--checkpoint",
            str(tiny_checkpoint),
            "--systems",
            systems,
            "--out",
            str(tmp_path),
            "--horizons",
            horizons,
            *small,
            *extra,
        ]
    )


def test_evaluate_cli_systems(tiny_checkpoint, tmp_path, capsys):
    args = ("--baselines", "parrot,nvar", "--plot-systems", "Rossler")
    assert run_evaluate(tiny_checkpoint, tmp_path, "Lorenz,Rossler", "16,32", *args) == 0
    out = capsys.readouterr().out
    assert "## Horizon 32" in out and "tiny-panda-lite" in out and "parrot_D10" in out
    assert (tmp_path / "metrics_h16.csv").exists() and (tmp_path / "plots" / "forecast_Rossler.png").exists()
    assert not (tmp_path / "metrics_long.csv").exists()
    assert "tiny-panda-lite: expert off (the network forecasts every series); float32; the expert made 0 of" in out


def test_evaluate_cli_counts_the_expert_forecasts(tiny_checkpoint, tmp_path, capsys):
    args = ("--baselines", "nvar", "--no-plots", "--expert", "nvar", "--dtype", "auto")
    assert run_evaluate(tiny_checkpoint, tmp_path, "Lorenz", "16", *args) == 0
    note = re.search(
        r"expert nvar \(2 delays, where it wins the backtest\); (float32|bfloat16) \(auto: cpu has (no )?native "
        r"bfloat16\); the expert made (\d+) of 2 forecasts",
        capsys.readouterr().out,
    )
    assert note and note.group(0) in (tmp_path / "summary.md").read_text()


def test_evaluate_cli_rejects_bad_options(tmp_path, capsys):
    base = ["evaluate", "--systems", "Lorenz", "--out", str(tmp_path)]
    assert main(base + ["--baselines", "nvar,arima"]) == 2
    assert "unknown baseline(s) ['arima']" in capsys.readouterr().err
    assert main(["evaluate", "--systems", "Lorenzz", "--out", str(tmp_path)]) == 2
    assert "unknown dysts flow 'Lorenzz'" in capsys.readouterr().err
    assert main(["evaluate", "--corpus", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "no complete corpus shards" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: positive integers only
        main(base + ["--horizons", "0,5"])


def test_scripts_evaluate_wrapper(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "evaluate.py",
            "--systems",
            "Rossler",
            "--out",
            str(tmp_path),
            "--windows",
            "1",
            "--context",
            "64",
            "--horizons",
            "16",
            "--long-horizon",
            "0",
            "--num-points",
            "200",
            "--no-plots",
            "--no-progress",
        ],
    )
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / "scripts" / "evaluate.py"), run_name="__main__")
    assert exit_info.value.code == 0
    assert "## Horizon 16" in capsys.readouterr().out


def test_checkpoint_labels_are_the_shortest_distinguishing_suffix():
    assert checkpoint_labels(["runs/a/model", "runs/b/model"]) == ["a/model", "b/model"]
    assert checkpoint_labels(["panda-lite-mini", "runs/x/model/"]) == ["panda-lite-mini", "model"]
    assert checkpoint_labels(["m", "m"]) == ["m#0", "m#1"]


@pytest.mark.slow
def test_version_and_help_answer_without_loading_torch():
    for flags in (["--version"], ["--help"], ["train", "--help"], ["finetune", "--help"]):
        result = subprocess.run(
            [sys.executable, "-m", "panda_lite", *flags], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        assert ("panda-lite 0" in result.stdout) if flags == ["--version"] else ("usage: panda-lite" in result.stdout)
    code = "import sys, panda_lite.cli as c; c.build_parser(); print('torch' in sys.modules)"
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False", "building the CLI imported torch"
    assert time.perf_counter() - started < 30  # generous: the measured figure is in BENCHMARKS.md


# --- clear messages for bad outputs, inputs and checkpoints (issue 17) ---------------------


def deny(monkeypatch, path, mode):
    """os.access answers False for `mode` on `path` (as chmod would for a non-root user)."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, **kw: False if (str(p) == str(path) and m & mode) else real(p, m))


def test_forecast_bad_output_folder_is_reported_before_the_forecast(tiny_checkpoint, tmp_path, capsys, monkeypatch):
    import panda_lite.cli as cli

    monkeypatch.setattr(cli, "_load_pipeline", lambda *a: pytest.fail("the checkpoint was loaded"))
    path = write_csv(tmp_path / "traj.csv", sines(100))
    (tmp_path / "afile").write_text("x")
    for out, message in (("afile", "output folder is a file"), ("afile/sub", "lies under .*afile, which is a file")):
        code = main(
            ["forecast", "--checkpoint", str(tiny_checkpoint), "--input", str(path)]
            + ["--horizon", "8", "--out", str(tmp_path / out)]
        )
        err = capsys.readouterr().err
        assert code == 2 and str(tmp_path / out) in err and re.search(message, err), err
    (tmp_path / "locked").mkdir()
    deny(monkeypatch, tmp_path / "locked", os.W_OK)
    code = main(
        ["forecast", "--checkpoint", str(tiny_checkpoint), "--input", str(path)]
        + ["--horizon", "8", "--out", str(tmp_path / "locked" / "out")]
    )
    err = capsys.readouterr().err
    assert code == 2 and "permission denied: cannot write to" in err and "locked" in err, err


def test_forecast_unreadable_input_and_folder_without_series(tiny_checkpoint, tmp_path, capsys, monkeypatch):
    path = write_csv(tmp_path / "secret.csv", sines(100))
    deny(monkeypatch, path, os.R_OK)
    assert forecast(tiny_checkpoint, tmp_path, path) == 2
    assert f"{path}: permission denied (the file is not readable)" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert forecast(tiny_checkpoint, tmp_path, tmp_path / "empty") == 2
    assert "empty: a folder without .csv, .txt, .npy files" in capsys.readouterr().err
    assert forecast(tiny_checkpoint, tmp_path, write_csv(tmp_path / "t.csv", sines(100)), "--truth", tmp_path) == 2
    assert f"{tmp_path}: is a folder, not a file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "config, message",
    [
        ("list", "must be a JSON object of PandaLiteConfig settings, got a list"),
        ("null", "must be a JSON object of PandaLiteConfig settings, got a NoneType"),
        ("broken", "not a readable JSON file"),
        ("d_model=[32]", "d_model: must be a positive integer, got \\[32\\]"),
        ("d_model=64", "model.safetensors: tensor\\(s\\) of another shape than its config.json"),
    ],
)
def test_forecast_bad_checkpoint_config_names_the_file(tiny_checkpoint, tmp_path, capsys, config, message):
    checkpoint = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, checkpoint)
    values = json.loads((checkpoint / "config.json").read_text())
    if config == "broken":
        text = "{oops"
    elif "=" in config:
        key, value = config.split("=")
        text = json.dumps({**values, key: json.loads(value)})
    else:
        text = json.dumps([values] if config == "list" else None)
    (checkpoint / "config.json").write_text(text)
    assert forecast(checkpoint, tmp_path, write_csv(tmp_path / "t.csv", sines(100))) == 2
    err = capsys.readouterr().err
    assert str(checkpoint) in err and re.search(message, err), err
    if "safetensors" not in message:
        assert str(checkpoint / "config.json") in err


# --- files and formats (issue 17) ---------------------------------------------------------


def test_forecast_drops_a_time_column_and_picks_columns(tiny_checkpoint, tmp_path, capsys):
    data = sines(200)
    t = (np.arange(200) * 0.05).round(6)
    rows = np.column_stack([t, data.round(6)])
    path = tmp_path / "timed.csv"
    path.write_text("t;x;y;z\n" + "\n".join(";".join(map(repr, row)) for row in rows.tolist()) + "\n")
    assert forecast(tiny_checkpoint, tmp_path, path) == 0
    with open(tmp_path / "out" / "forecast.csv") as f:
        assert next(csv.reader(f)) == ["x", "y", "z"]
    assert forecast(tiny_checkpoint, tmp_path, path, "--columns", "z,x") == 0
    with open(tmp_path / "out" / "forecast.csv") as f:
        assert next(csv.reader(f)) == ["z", "x"]
    capsys.readouterr()
    assert forecast(tiny_checkpoint, tmp_path, path, "--columns", "x,w") == 2
    assert "no column(s) 'w'" in capsys.readouterr().err
    uneven = np.delete(rows, 50, axis=0)  # a missing row
    path.write_text("time\tx\ty\tz\n" + "\n".join("\t".join(map(repr, r)) for r in uneven.tolist()))
    assert forecast(tiny_checkpoint, tmp_path, path) == 2
    err = capsys.readouterr().err
    assert f"{path}: time column 'time': uneven time steps" in err and "data rows 50-51 (0.1)" in err, err


def test_forecast_context_length_uses_the_most_recent_steps(tiny_checkpoint, tmp_path, capsys):
    from panda_lite import PandaLitePipeline

    data = sines(200, channels=2)
    np.save(tmp_path / "traj.npy", data)
    assert forecast(tiny_checkpoint, tmp_path, tmp_path / "traj.npy", "--context-length", "64") == 0
    assert "64 context steps" in capsys.readouterr().out
    written, _ = read_series(str(tmp_path / "out" / "forecast.csv"))
    expected = PandaLitePipeline.from_pretrained(tiny_checkpoint).predict(data[-64:], 40).numpy()
    np.testing.assert_allclose(written, expected, rtol=1e-5, atol=1e-6)
    assert forecast(tiny_checkpoint, tmp_path, tmp_path / "traj.npy", "--context-length", "4") == 2
    assert "--context-length must be in [16, 128]" in capsys.readouterr().err


def test_forecast_a_folder_and_a_glob_into_one_output_folder(tiny_checkpoint, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    write_csv(tmp_path / "in" / "a.csv", sines(100), header=["x", "y", "z"])
    np.save(tmp_path / "in" / "b.npy", sines(120, channels=2))
    (tmp_path / "in" / "notes.md").write_text("not a series")
    assert forecast(tiny_checkpoint, tmp_path, tmp_path / "in") == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["a_forecast.csv", "a_forecast.png", "b_forecast.csv", "b_forecast.png"]
    assert "forecast: 100%" in capsys.readouterr().err  # the progress bar
    assert forecast(tiny_checkpoint, tmp_path, tmp_path / "in" / "*.npy") == 0
    assert "b_forecast.csv" in capsys.readouterr().out
    assert forecast(tiny_checkpoint, tmp_path, tmp_path / "in" / "*.parquet") == 2
    assert "no file matches this pattern" in capsys.readouterr().err


def test_evaluate_refuses_a_checkpoint_label_that_is_a_baseline_name(tiny_checkpoint, tmp_path, capsys):
    # Before: a checkpoint folder called "nvar" was silently replaced by the NVAR baseline.
    import shutil

    shutil.copytree(tiny_checkpoint, tmp_path / "nvar")
    assert (
        main(["evaluate", "--checkpoint", str(tmp_path / "nvar"), "--systems", "Lorenz", "--out", str(tmp_path)]) == 2
    )
    assert "checkpoint label(s) ['nvar'] are baseline names" in capsys.readouterr().err


def test_verbose_shows_the_loading_bar_that_is_otherwise_hidden(tiny_checkpoint, tmp_path, capsys):
    from transformers.utils import logging

    data = write_csv(tmp_path / "traj.csv", sines(200))
    try:
        assert forecast(tiny_checkpoint, tmp_path, data) == 0
        assert "Loading weights" not in capsys.readouterr().err
        args = ["--verbose", "forecast", "--checkpoint", str(tiny_checkpoint), "--input", str(data)]
        assert main([*args, "--horizon", "8", "--out", str(tmp_path / "verbose")]) == 0
        assert "Loading weights" in capsys.readouterr().err
    finally:
        logging.set_verbosity_warning()
